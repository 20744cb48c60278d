"""A canary PIN through every command, as the installed command runs them
(subprocesses), including failures and -v/-vv: it never appears in a file
libcli writes, on stdout or stderr, in any process's arguments, or in an
exception. Files holding sessions are private; TLS cannot be switched off."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import subprocess
import sys
import threading
import traceback
from datetime import date, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from libcli.errors import LibcliError
from libcli.model import FeeType
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import add_big_account, build_library
from tests.helpers.live_server import LiveServer, Serve

CANARY = "8c4n4ry7"
HERE = Path(__file__).resolve().parent


def canary_library(view: str, pin: str = CANARY, card: str = "55550000"):
    lib = build_library(view, Clock(date.today()))
    patron = add_big_account(lib, 4, card=card, pin=pin)
    today = date.today()
    records = [r for r in lib.titles][:3]
    lib.add_hold(card, records[0], lib.pickup_locations[0].code, created=today - timedelta(days=2))
    lib.add_hold("bg1", records[1], lib.pickup_locations[0].code, created=today - timedelta(days=9))
    lib.add_hold(card, records[1], lib.pickup_locations[0].code, created=today - timedelta(days=2))
    lib.add_fee(card, FeeType.OVERDUE, 240, created=today - timedelta(days=30))
    return lib, patron


def junk_app():
    async def page(request):
        return HTMLResponse("<html><body><h1>We have moved!</h1></body></html>")

    return Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])


class ArgvWatch:
    """Samples every process's command line while the commands run."""

    def __init__(self):
        self.seen: list[str] = []
        self.leaks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    raw = Path(entry.path, "cmdline").read_bytes()
                except OSError:
                    continue
                line = raw.replace(b"\0", b" ").decode("utf-8", "replace")
                if "libcli" in line or "pinfile" in line:
                    self.seen.append(line)
                if CANARY.encode() in raw:
                    self.leaks.append(line)
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def world(isolated, tmp_path):
    heili_lib, heili_patron = canary_library("heili")
    tallinn_lib, tallinn_patron = canary_library("tallinn", card="55551111")
    wrong_lib, wrong_patron = canary_library("helmet", pin="1111", card="55552222")
    servers = [LiveServer("heili", library=heili_lib), LiveServer("tallinn", library=tallinn_lib),
               LiveServer("helmet", library=wrong_lib), Serve(junk_app())]
    env = dict(os.environ)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env.update({
        "PYTHONPATH": str(HERE.parent),
        "PYTHON_KEYRING_BACKEND": "tests.helpers.filekeyring.FileKeyring",
        "TEST_KEYRING_DIR": str(tmp_path / "keyring"),
        "TMPDIR": str(tmpdir),
        "LIBCLI_STATS_FILE": str(tmpdir / "stats.jsonl"),
    })
    pinfile = tmp_path / "pinfile"
    pinfile.write_text(CANARY + "\n")
    pinfile.chmod(0o600)
    yield {"env": env, "servers": servers, "pinfile": pinfile, "tmp": tmp_path,
           "heili": heili_lib, "heili_card": heili_patron.card}
    for s in servers:
        s.stop()


def libcli(env, *args, stdin=None):
    done = subprocess.run([sys.executable, "-m", "libcli", *args], env=env, input=stdin,
                          text=True, capture_output=True, timeout=120)
    assert CANARY not in done.stdout, (args, done.stdout)
    assert CANARY not in done.stderr, (args, done.stderr)
    assert "Traceback" not in done.stderr, (args, done.stderr)
    return done


def written_files(root: Path, skip: set[Path]):
    for path in root.rglob("*"):
        if path.is_file() and not any(path == s or s in path.parents for s in skip):
            yield path


@pytest.mark.slow
@pytest.mark.socket
def test_a_canary_pin_never_leaks_from_any_command(world):
    env, (heili, tallinn, wrong, junk) = world["env"], world["servers"]
    pin_cmd = f"sleep 0.2; cat {world['pinfile']}"
    with ArgvWatch() as watch:
        # Cards: keyring (PIN on stdin), pin-command, wrong PIN, unreachable, page not understood.
        assert libcli(env, "card", "add", "kr", "--library", "heili", "--number", "55550000",
                      "--url", heili.url, "--pin-stdin", stdin=CANARY + "\n").returncode == 0
        assert libcli(env, "card", "add", "pc", "--library", "tallinn", "--number", "55551111",
                      "--url", tallinn.url, "--pin-command", pin_cmd).returncode == 0
        # The login check of `card add` refuses a wrong PIN (exit 4), then
        # --no-check keeps the card for the commands below.
        assert libcli(env, "card", "add", "wrong", "--library", "helmet", "--number", "55552222",
                      "--url", wrong.url, "--pin-stdin", stdin=CANARY + "\n").returncode == 4
        assert libcli(env, "card", "add", "--no-check", "wrong", "--library", "helmet",
                      "--number", "55552222", "--url", wrong.url, "--pin-stdin",
                      stdin=CANARY + "\n").returncode == 0
        assert libcli(env, "card", "add", "gone", "--library", "heili", "--number", "55553333",
                      "--url", "http://127.0.0.1:9", "--pin-stdin",
                      stdin=CANARY + "\n").returncode == 0
        assert libcli(env, "card", "add", "--no-check", "junk", "--library", "heili",
                      "--number", "55554444",
                      "--url", junk.url, "--pin-stdin", stdin=CANARY + "\n").returncode == 0
        # A second card add with a PIN that fails the check, and a PIN change.
        libcli(env, "card", "pin", "kr", "--pin-stdin", stdin=CANARY + "\n")
        commands = (["card", "list"], ["card", "list", "--json"], ["card", "check"],
                    ["loans"], ["loans", "--json"], ["holds"], ["search", "Kalevala",
                    "--library", "heili", "--card", "kr"], ["fees"], ["status"],
                    ["remind"], ["calendar", "-o", str(world["tmp"] / "cal.ics")],
                    ["doctor"], ["renew", "--all"], ["renew", "--all", "--json"],
                    ["pay", "--card", "kr", "--yes", "--no-browser", "--no-wait"],
                    ["pay", "--card", "wrong", "--yes", "--no-browser", "--no-wait"],
                    ["pay", "--card", "junk", "--yes", "--no-browser", "--no-wait"],
                    ["hold", "place", "heili.1200007", "--card", "wrong", "--pickup", "x"])
        codes = {}
        from concurrent.futures import ThreadPoolExecutor

        # -vv (every logger on, HTTP included) and plain output; -v is a subset of -vv.
        for verbosity in (["-vv"], []):
            if verbosity == []:
                # Unreachable costs the read retries' back-off in every command: once is enough.
                gone = libcli(env, "-vv", "pay", "--card", "gone", "--yes", "--no-browser")
                assert gone.returncode == 5
                libcli(env, "card", "remove", "gone")
            # Three at a time, as a cron job and a person may well do.
            with ThreadPoolExecutor(3) as pool:
                done = list(pool.map(lambda args: libcli(env, *verbosity, *args), commands))
            for args, d in zip(commands, done):
                codes[tuple(verbosity + args)] = d.returncode
            if verbosity == ["-vv"]:
                assert "127.0.0.1" in done[3].stderr  # -vv does log the requests (loans)
        # Acting on the good card: place and cancel a hold.
        lib = world["heili"]
        busy = {lib.title_of(x).record_id for x in lib.loans_of(world["heili_card"])}
        busy |= {h.record_id for h in lib.holds_of(world["heili_card"])}
        record = next(r for r, t in lib.titles.items() if r not in busy
                      and t.material.value == "book")
        placed = libcli(env, "-vv", "hold", "place", record, "--card", "kr", "--pickup",
                        world["heili"].pickup_locations[0].code)
        assert placed.returncode == 0, placed.stderr
        holds = libcli(env, "holds", "--card", "kr", "--json")
        import json

        hid = next(h["id"] for h in json.loads(holds.stdout)["holds"] if h["status"] == "waiting")
        assert libcli(env, "-vv", "hold", "cancel", hid, "--card", "kr").returncode == 0
    # The failures happened (else the test proves little).
    assert codes[("loans",)] != 0 and codes[("-vv", "card", "check")] != 0
    assert any("kr" in line or "libcli" in line for line in watch.seen)
    assert any("pinfile" in line for line in watch.seen), "the PIN command's child was watched"
    assert watch.leaks == [], watch.leaks
    skip = {Path(env["TEST_KEYRING_DIR"]), world["pinfile"]}
    checked = 0
    for path in written_files(world["tmp"], skip):
        assert CANARY.encode() not in path.read_bytes(), path
        checked += 1
    assert checked >= 5  # config, sessions, snapshots, calendar, stats


# --- exceptions ---------------------------------------------------------------------------


def _chain(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _assert_clean(exc: BaseException):
    for e in _chain(exc):
        text = "".join(traceback.format_exception(e)) + repr(e.args)
        assert CANARY not in text, text


@pytest.mark.socket
@pytest.mark.parametrize("fault", ["wrong_pin", "drop_answer", "error", "drop", "junk"])
def test_no_exception_carries_the_pin(fault, monkeypatch):
    from libcli import http
    from libcli.backends.finna import FinnaBackend
    from libcli.model import Card
    from libcli.policy import consortia

    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    lib, patron = canary_library("heili", pin="1111" if fault == "wrong_pin" else CANARY)
    server = Serve(junk_app()) if fault == "junk" else LiveServer("heili", library=lib)
    if fault in ("drop_answer", "error", "drop"):
        server.fault(fault, "/MyResearch/Home", method="POST")

    async def go():
        async with http.make_client(server.url) as client:
            backend = FinnaBackend(Card("c", "heili", patron.card), consortia()["heili"],
                                   client=client, pin=lambda: CANARY)
            await backend.loans()

    try:
        with pytest.raises(LibcliError) as caught:
            asyncio.run(go())
        _assert_clean(caught.value)
    finally:
        server.stop()


PRIMO = "https://andor.tuni.fi"


def _primo_answer(name: str):
    import json

    import httpx

    return httpx.Response(200, json=json.loads((HERE / "fixtures" / "primo" / name).read_text()))


@pytest.mark.parametrize("fault", ["wrong_pin", "drop_answer", "error", "drop", "junk", "ok"])
def test_no_exception_or_log_line_carries_the_pin_or_the_token_on_primo_ve(fault, caplog,
                                                                         monkeypatch):
    """Andor's login faked with respx (tests/fixtures/primo): the PIN goes
    only into the login post, the token only into the Authorization header;
    neither reaches an exception, its traceback or a -vv log line."""
    import logging

    import httpx
    import respx

    from libcli import http
    from libcli.backends import primo_json
    from libcli.backends.primo import PrimoBackend
    from libcli.model import Card
    from libcli.policy import consortia

    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    token = primo_json.token_from_login(
        __import__("json").loads((HERE / "fixtures" / "primo" / "login_ok_quoted_jwt.json").read_text()))
    login = {"wrong_pin": httpx.Response(401), "error": httpx.Response(500),
             "junk": httpx.Response(200, html="<html><h1>We have moved!</h1></html>"),
             "drop": httpx.ConnectError("refused"),
             "drop_answer": httpx.RemoteProtocolError("dropped")}.get(
        fault, _primo_answer("login_ok_quoted_jwt.json"))

    async def go():
        async with http.make_client(PRIMO) as client:
            backend = PrimoBackend(Card("c", "tuni", "55550000"), consortia()["tuni"],
                                   client=client, pin=lambda: CANARY)
            backend.clock = lambda: 1764633600 + 60  # the fixture token's lifetime
            await backend.loans()

    caplog.set_level(logging.DEBUG)
    with respx.mock(base_url=PRIMO, assert_all_called=True) as mock:
        mock.get("/primaws/rest/pub/configuration/vid/358FIN_TAMPO:VU1").mock(
            return_value=_primo_answer("config_vu1_password_and_haka.json"))
        post = mock.post("/primaws/suprimaLogin").mock(side_effect=[login])
        if fault == "ok":
            loans = mock.get("/primaws/rest/priv/myaccount/loans").mock(
                return_value=_primo_answer("failed_0007_record_locked.json"))
        with pytest.raises(LibcliError) as caught:
            asyncio.run(go())
    _assert_clean(caught.value)
    for e in _chain(caught.value):
        assert token not in "".join(traceback.format_exception(e))
    assert CANARY not in caplog.text and token not in caplog.text
    assert CANARY in post.calls[0].request.content.decode()  # the PIN went where it belongs
    if fault == "ok":
        assert loans.calls[0].request.headers["authorization"] == f"Bearer {token}"


# --- file permissions ------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.socket
def test_sessions_and_snapshots_are_private_and_loose_files_are_warned_about(world):
    env, heili = world["env"], world["servers"][0]
    os.umask(0o022)
    libcli(env, "card", "add", "kr", "--library", "heili", "--number", "55550000",
           "--url", heili.url, "--pin-stdin", stdin=CANARY + "\n")
    assert libcli(env, "loans").returncode == 0
    cache, config = Path(env["LIBCLI_CACHE_DIR"]), Path(env["LIBCLI_CONFIG_DIR"])
    sessions = list((cache / "sessions").glob("*.json"))
    snapshots = list((cache / "snapshots").glob("*.json"))
    assert sessions and snapshots
    for f in sessions + snapshots + [config / "cards.json"]:
        assert _mode(f) == 0o600, f
    for d in (cache, cache / "sessions", cache / "snapshots", config):
        assert _mode(d) == 0o700, d
    # Looser files are warned about, by name.
    sessions[0].chmod(0o644)
    (config / "cards.json").chmod(0o640)
    done = libcli(env, "loans")
    assert done.returncode == 0
    assert f"{config / 'cards.json'} is readable by other users" in done.stderr
    assert f"{sessions[0]} is readable by other users" in done.stderr


# --- TLS ---------------------------------------------------------------------------------------------


INSECURE_ENV = {"PYTHONHTTPSVERIFY": "0", "LIBCLI_INSECURE": "1", "LIBCLI_VERIFY": "0",
                "LIBCLI_NO_VERIFY": "1", "HTTPX_VERIFY": "0", "CURL_CA_BUNDLE": "",
                "REQUESTS_CA_BUNDLE": "", "SSL_NO_VERIFY": "1"}


def _ssl_contexts(pool) -> list[ssl.SSLContext]:
    """The contexts of every transport of a pool (httpcore keeps its own)."""
    return [pool.ssl_context] + [t._pool._ssl_context for t in pool.transports()]


def test_tls_verification_is_on_and_no_variable_switches_it_off(monkeypatch):
    from libcli.account import AccountService
    from libcli.http import make_client
    from libcli.model import Card

    from libcli.http import Pool

    for k, v in INSECURE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # proxied connections verify too
    for ctx in _ssl_contexts(Pool()):
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    client = make_client("https://heili.finna.fi")
    assert client._transport._pool._ssl_context.verify_mode == ssl.CERT_REQUIRED

    async def shared():
        cards = [Card("c", "heili", "1"), Card("d", "helmet", "2")]
        async with AccountService(pin_source=lambda c: "x").open(cards) as run:
            clients = [run.backends[n].client for n in ("c", "d")]
            # One pool for the run: both cards' clients hold the same transports.
            assert clients[0]._transport is clients[1]._transport is run._network.direct
            return _ssl_contexts(run._network)

    contexts = asyncio.run(shared())
    assert len(contexts) == 3 and len({id(c) for c in contexts}) == 1
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname


def test_no_option_turns_tls_verification_off():
    from click.testing import CliRunner

    from libcli.cli import COMMANDS, cli

    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        text = result.output.lower()
        for word in ("insecure", "no-verify", "verify", "--no-tls", "ssl"):
            assert word not in text, (name, word)


@pytest.mark.socket
def test_an_untrusted_certificate_is_refused_and_no_pin_is_sent(self_signed, memory_keyring,
                                                                monkeypatch):
    from click.testing import CliRunner

    from libcli import http
    from libcli.cli import cli

    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    for k, v in INSECURE_ENV.items():
        monkeypatch.setenv(k, v)
    lib, patron = canary_library("heili")
    server = LiveServer.__new__(LiveServer)
    server.view, server.library = "heili", lib
    from libcli.sandbox.app import Options, create_app
    from libcli.sandbox.store import Store

    server.options = Options()
    server.app = create_app("heili", library=lib, options=server.options, store=Store(None))
    server.fault("count", "/MyResearch/Home", method="POST", times=None)
    server._start(*self_signed)
    try:
        runner = CliRunner()
        r = runner.invoke(cli, ["card", "add", "tls", "--library", "heili", "--number",
                                patron.card, "--url", server.url, "--pin-stdin"],
                          input=CANARY + "\n")
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli, ["loans"])
        assert r.exit_code == 5, r.output
        assert "certificate" in r.stderr.lower()
        assert server.options.faults[0].hits == 0  # no login post reached the server
    finally:
        server.stop()


def test_plain_http_is_refused_except_to_this_machine(memory_keyring):
    from click.testing import CliRunner

    from libcli.cli import cli

    runner = CliRunner()
    for url in ("http://heili.finna.fi", "http://10.0.0.1:8000", "ftp://heili.finna.fi",
                "javascript:alert(1)"):
        r = runner.invoke(cli, ["card", "add", "x", "--library", "heili", "--number", "1",
                                "--url", url, "--pin-stdin"], input="1234\n")
        assert r.exit_code != 0 and "refusing" in r.stderr, (url, r.output)
    for i, url in enumerate(("http://127.0.0.1:8000", "http://localhost:8000",
                             "http://[::1]:8000")):
        r = runner.invoke(cli, ["card", "add", f"ok{i}", "--library", "heili",
                                "--number", str(100 + i), "--url", url, "--pin-stdin"],
                          input="1234\n")
        assert r.exit_code == 0, (url, r.output)


def test_loopback_http_works_and_the_tls_context_verifies_against_real_cas():
    from libcli import http

    async def page(request):
        return HTMLResponse("<p>ok</p>")

    server = Serve(Starlette(routes=[Route("/", page)]))
    pool = http.Pool()

    async def fetch():
        async with http.make_client(server.url, transport=pool) as client:
            return await http.request(client, "GET", "/")

    try:
        assert asyncio.run(fetch()).text == "<p>ok</p>"
    finally:
        server.stop()
    ctx = pool.ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0
