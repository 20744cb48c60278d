"""libcli.http's limits against a scripted server on 127.0.0.1 (issue 18):
compression bombs (5), slow answers and the deadlines (7), the cookie jar's
caps (8), a page with one invalid byte (11), and bytes past an answer's end
on a kept-alive connection (15)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
import zlib

import brotli
import httpx
import pytest
from click.testing import CliRunner

from libcli import http
from libcli.account import load_session, save_session
from libcli.errors import Unreachable
from libcli.sandbox.app import Options
from tests.helpers.live_server import LiveServer
from tests.helpers.scripted import Script, ok

pytestmark = pytest.mark.socket


def run(coro, limit: float = 20.0):
    """Run a test coroutine; one that would hang fails after `limit` seconds."""
    async def bounded():
        return await asyncio.wait_for(coro, limit)

    return asyncio.run(bounded())


async def fetch(script: Script, method: str = "GET", path: str = "/", **kw) -> http.Page:
    async with http.make_client(script.url, **kw) as client:
        return await http.request(client, method, path)


def answering(*answers: bytes):
    async def answer(n, request, writer):
        writer.write(answers[min(n, len(answers)) - 1])
    return answer


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)


# --- 18.5: compression bombs -------------------------------------------------------------

BOMB_BYTES = 64 * 1024 * 1024  # zeros; the cap is 5 MiB


def _deflate(data: bytes, wbits: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return z.compress(data) + z.flush()


ENCODINGS = {
    "gzip": lambda data: gzip.compress(data, 9),
    "deflate": lambda data: _deflate(data, zlib.MAX_WBITS),
    "deflate-raw": lambda data: _deflate(data, -zlib.MAX_WBITS),  # as some servers send it
    "br": lambda data: brotli.compress(data),
}


def _peak_while(coro):
    tracemalloc.start()
    try:
        try:
            run(coro)
        except BaseException as exc:  # returned to the test to look at
            return tracemalloc.get_traced_memory()[1], exc
        return tracemalloc.get_traced_memory()[1], None
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_compression_bomb_is_cut_off_as_it_is_decompressed(encoding):
    bomb = ENCODINGS[encoding](b"\0" * BOMB_BYTES)
    name = encoding.split("-")[0].encode()

    async def go():
        async with Script(answering(ok(bomb, b"Content-Encoding: %s\r\n" % name))) as s:
            await fetch(s)

    peak, error = _peak_while(go())
    assert isinstance(error, Unreachable) and "larger than 5 MiB" in str(error), error
    # httpx decodes a received chunk whole: 64 KiB of gzip is 64 MiB at once.
    assert peak < 24 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_compressed_page_within_the_cap_reads_whole(encoding):
    page = ("<html><body>" + "<p>Tähtaika 1.12.2026</p>" * 20000 + "</body></html>").encode()
    name = encoding.split("-")[0].encode()

    async def go():
        async with Script(answering(ok(ENCODINGS[encoding](page),
                                       b"Content-Encoding: %s\r\n"
                                       b"Content-Type: text/html; charset=utf-8\r\n" % name))
                          ) as s:
            return await fetch(s), s.requests[0]

    got, request = run(go())
    assert got.text == page.decode()
    # Only what libcli decodes within the cap is asked for.
    assert b"accept-encoding: gzip, deflate, br\r\n" in request.lower()


def test_nested_compression_is_refused_before_it_is_decompressed():
    bomb = gzip.compress(gzip.compress(b"\0" * BOMB_BYTES, 9), 9)
    assert len(bomb) < 8 * 1024

    async def go():
        async with Script(answering(ok(bomb, b"Content-Encoding: gzip, gzip\r\n"))) as s:
            await fetch(s)

    peak, error = _peak_while(go())
    assert isinstance(error, Unreachable), error
    assert "compressed more than once (gzip, gzip)" in str(error)
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("header", [b"Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
                                    b"Content-Encoding: deflate, gzip\r\n"])
def test_two_layers_in_any_spelling_are_refused(header):
    async def go():
        async with Script(answering(ok(b"x", header))) as s:
            await fetch(s)

    with pytest.raises(Unreachable, match="compressed more than once"):
        run(go())


def test_an_encoding_libcli_did_not_ask_for_is_refused():
    async def go():
        async with Script(answering(ok(b"\x28\xb5\x2f\xfd garbage", b"Content-Encoding: zstd\r\n"))
                          ) as s:
            await fetch(s)

    with pytest.raises(Unreachable, match=r"encoding libcli does not read \(zstd"):
        run(go())


def test_a_damaged_gzip_page_is_unreachable_not_a_crash():
    async def go():
        async with Script(answering(ok(b"\x1f\x8b\x08\x00 not gzip at all",
                                       b"Content-Encoding: gzip\r\n"))) as s:
            await fetch(s)

    with pytest.raises(Unreachable, match="damaged gzip page"):
        run(go())


# --- 18.7: deadlines ---------------------------------------------------------------------


async def trickle(writer, data: bytes, pause: float) -> None:
    for i in range(len(data)):
        writer.write(data[i:i + 1])
        await writer.drain()
        await asyncio.sleep(pause)


SLOW = {
    # a body at a byte per 0.05 s (the real one: a byte per second)
    "body": lambda w: _body_trickle(w),
    # the status line and headers a byte at a time
    "headers": lambda w: trickle(w, ok(b"hello"), 0.05),
    # 100 Continue without end, never the answer
    "continue": lambda w: _endless_continue(w),
}


async def _body_trickle(writer):
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n")
    await trickle(writer, b"x" * 400, 0.05)


async def _endless_continue(writer):
    while True:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", sorted(SLOW))
def test_a_slow_answer_meets_the_request_deadline(how, monkeypatch):
    monkeypatch.setattr(http, "REQUEST_DEADLINE", 0.6)

    async def answer(n, request, writer):
        await SLOW[how](writer)

    async def go():
        async with Script(answer) as s:
            started = time.monotonic()
            with pytest.raises(Unreachable) as caught:
                await fetch(s)
            return time.monotonic() - started, str(caught.value), s.requests

    took, message, requests = run(go(), limit=15)
    assert message == "127.0.0.1 was too slow: no complete answer within 0.6 s"
    # The deadline covers the retries too: a GET is not sent four times over.
    assert took < 10 and len(requests) == 1


def test_a_slow_answer_to_a_post_says_the_outcome_is_unknown(monkeypatch):
    monkeypatch.setattr(http, "REQUEST_DEADLINE", 0.4)

    async def answer(n, request, writer):
        await _body_trickle(writer)

    async def go():
        async with Script(answer) as s:
            await fetch(s, "POST", "/renew")

    with pytest.raises(Unreachable, match="too slow: no complete answer within 0.4 s; "
                                          "the outcome of the POST is unknown"):
        run(go(), limit=10)


def test_a_client_sends_nothing_after_its_command_deadline(monkeypatch):
    monkeypatch.setattr(http, "REQUEST_DEADLINE", 30.0)

    async def answer(n, request, writer):
        await asyncio.sleep(0.3)
        writer.write(ok(b"page %d" % n))

    async def go():
        async with Script(answer) as s:
            pages = []
            with pytest.raises(Unreachable) as caught:
                async with http.make_client(s.url) as client:
                    await http.request(client, "GET", "/")  # connected, the pool warm
                    client.deadline = time.monotonic() + 1.0
                    for _ in range(10):
                        pages.append((await http.request(client, "GET", "/")).text)
            return pages, str(caught.value)

    pages, message = run(go(), limit=30)
    # Each answer takes 0.3 s or more, each request alone is well within its
    # own deadline, and the client's second ran out before the tenth.
    assert len(pages) <= 3 and pages == [f"page {i + 2}" for i in range(len(pages))]
    assert message == ("127.0.0.1 was too slow: the time libcli gives a whole command "
                       "ran out waiting for it")


HEILI = ("10000001", "1234")


def test_a_command_against_a_slow_library_ends_at_the_command_deadline(monkeypatch,
                                                                      memory_keyring):
    """Each page in time, but the whole command not: the run gives up, naming the library."""
    from libcli.cli import cli

    monkeypatch.setattr(http, "COMMAND_DEADLINE", 0.5)
    server = LiveServer("heili", options=Options(latency_ms=300))
    try:
        # --no-check: the read below is cold (3 requests of 300 ms each).
        r = CliRunner().invoke(cli, ["card", "add", "--no-check", "me", "--library", "heili",
                                     "--number",
                                     HEILI[0], "--url", server.url, "--pin-stdin"],
                               input=HEILI[1] + "\n")
        assert r.exit_code == 0, r.output
        started = time.monotonic()
        r = CliRunner().invoke(cli, ["loans"])
        assert r.exit_code == 5, r.output
        assert "127.0.0.1 was too slow: the time libcli gives a whole command" in r.stderr
        assert time.monotonic() - started < 15
    finally:
        server.stop()


# --- 18.8: cookies -----------------------------------------------------------------------


def _set_cookies(names, size: int = 8) -> bytes:
    return b"".join(b"Set-Cookie: %s=%s; Path=/\r\n" % (n.encode(), b"v" * size) for n in names)


def test_the_jar_takes_at_most_50_cookies_a_site_and_none_over_4096_bytes():
    answers = [
        ok(b"one", _set_cookies([f"flood{i}" for i in range(60)])
           + _set_cookies(["huge"], 5000)),
        # At the cap, the session cookie is still renewed (same name, domain and path).
        ok(b"two", b"Set-Cookie: flood0=renewed; Path=/\r\n"
                   b"Set-Cookie: newcomer=x; Path=/\r\n"),
    ]

    async def go():
        async with Script(answering(*answers)) as s:
            async with http.make_client(s.url) as client:
                await http.request(client, "GET", "/")
                first = dict(client.cookies)
                await http.request(client, "GET", "/")
                return first, dict(client.cookies), s.requests

    first, second, requests = run(go())
    assert len(first) == 50 and "huge" not in first
    assert len(second) == 50 and second["flood0"] == "renewed" and "newcomer" not in second
    cookie_header = [l for l in requests[1].split(b"\r\n") if l.lower().startswith(b"cookie:")]
    assert len(cookie_header[0]) < 50 * 20


def _records(n: int, domain: str = "heili.finna.fi", **extra) -> list[dict]:
    return [{"name": f"c{i}", "value": "v" * 10, "domain": domain, "path": "/", **extra}
            for i in range(n)]


def test_a_session_file_keeps_at_most_50_cookies_a_site(tmp_path):
    path = tmp_path / "s.json"
    cookies = httpx.Cookies()  # a jar as a run before the caps could leave it
    for record in _records(1002) + [{"name": "big", "value": "v" * 5000,
                                     "domain": "heili.finna.fi"}]:
        cookies.set(record["name"], record["value"], domain=record["domain"], path="/")
    save_session(path, cookies, {})
    saved = json.loads(path.read_text())["cookies"]
    assert len(saved) == 50
    assert all(len(c["value"]) < 4096 for c in saved)


def test_a_loaded_session_is_capped_and_drops_expired_cookies(tmp_path):
    path = tmp_path / "s.json"
    now = int(time.time())
    cookies = (_records(1002) + _records(2, "finna.fi", expires=now - 10)
               + _records(3, ".finna.fi", expires=now + 3600)
               + [{"name": "big", "value": "v" * 5000, "domain": "x.fi", "path": "/"}])
    path.write_text(json.dumps({"version": 1, "cookies": cookies, "state": {"a": 1}}))
    loaded, state = load_session(path)
    assert state == {"a": 1}
    assert len([c for c in loaded if c["domain"] == "heili.finna.fi"]) == 50
    assert [c["domain"] for c in loaded if "finna.fi" in c["domain"]
            and c["domain"] != "heili.finna.fi"] == [".finna.fi"] * 3
    assert not [c for c in loaded if c["name"] == "big"]
    # What was loaded goes back into a jar as it was, with its expiry.
    jar = http.cookie_jar(loaded)
    assert len(list(jar)) == 53
    assert {c.expires for c in jar if c.domain == ".finna.fi"} == {now + 3600}


# --- 18.11: one invalid byte -------------------------------------------------------------

TITLES = "".join(f"<td class='title'>Tähtaika {i}: Mielensäpahoittaja ja Åke</td>"
                 for i in range(10))


@pytest.mark.parametrize("declared", [
    {"content-type": "text/html; charset=UTF-8"},
    {"content-type": "text/html"},  # in the meta tag
])
def test_one_invalid_byte_in_a_utf8_page_spoils_only_itself(declared):
    meta = "" if "charset" in declared["content-type"] else '<meta charset="utf-8">'
    body = (f"<html><head>{meta}</head><body><table>{TITLES}".encode()
            + b"<td class='title'>Bad \xff byte</td></table></body></html>")
    text = http.decode(body, httpx.Headers(declared))
    assert "Tähtaika 9: Mielensäpahoittaja ja Åke" in text
    assert "Bad \ufffd byte" in text


def test_a_latin1_page_labelled_utf8_is_still_read_as_latin1():
    body = f"<html><body>{TITLES}</body></html>".encode("latin-1")
    text = http.decode(body, httpx.Headers({"content-type": "text/html; charset=utf-8"}))
    assert "Tähtaika 9: Mielensäpahoittaja ja Åke" in text


def test_a_page_in_a_declared_charset_replaces_what_is_invalid():
    body = "<p>Tõde ja õigus</p>".encode("iso-8859-15") + b"\x81"
    text = http.decode(body, httpx.Headers({"content-type": "text/html; charset=windows-1252"}))
    assert text.startswith("<p>T") and text.endswith("\ufffd")
    assert http.decode(body, httpx.Headers({"content-type": "text/html; charset=x-nonsense"}))


# --- 18.15: bytes past the end of an answer ----------------------------------------------


def test_bytes_after_an_answer_never_become_the_next_requests_answer():
    """A body longer than its Content-Length: the rest must not be read as
    the answer to the login post that follows on the same connection."""
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nnot your page"

    async def answer(n, request, writer):
        if n == 1:
            writer.write(ok(b"login form") + smuggled)
        else:
            writer.write(ok(b"answer to %s" % request.split(b" ", 2)[1]))

    async def go():
        async with Script(answer) as s:
            async with http.make_client(s.url) as client:
                form = await http.request(client, "GET", "/login")
                await asyncio.sleep(0.05)
                posted = await http.request(client, "POST", "/login")
                after = await http.request(client, "GET", "/loans")
            return [form.text, posted.text, after.text], s.methods()

    texts, methods = run(go())
    assert texts == ["login form", "answer to /login", "answer to /loans"]
    assert methods == ["GET", "POST", "GET"]  # the login posted once


def test_a_kept_alive_connection_serves_the_next_request():
    async def go():
        async with Script(answering(ok(b"a"), ok(b"b"), ok(b"c"))) as s:
            async with http.make_client(s.url) as client:
                texts = [(await http.request(client, "GET", f"/{i}")).text for i in range(3)]
            return texts, s.connections

    assert run(go()) == (["a", "b", "c"], 1)
