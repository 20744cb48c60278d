"""libcli.transport: HTTP/1.1 keep-alive over asyncio and h11, against a
scripted server on 127.0.0.1 that counts its connections and can answer
oddly (close, stall, cut, garble)."""

from __future__ import annotations

import asyncio
import gzip
import ssl

import httpx
import pytest

from libcli.transport import H11Transport

pytestmark = pytest.mark.socket


class Script:
    """A server whose answer to each request is `answer(n, request_bytes)`,
    bytes to write, or None to close without answering. `keep` decides
    whether the connection stays open for another request."""

    def __init__(self, answer, *, keep=True, ssl_context=None):
        self.answer = answer
        self.keep = keep
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        body = await reader.readexactly(int(line.split(b":")[1]))
                self.requests.append(head + body)
                out = self.answer(len(self.requests), head + body)
                if isinstance(out, float):  # stall
                    await asyncio.sleep(out)
                    break
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if not self.keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def get_on(transport, url):
    """One GET on a transport that outlives the client (as in a Run)."""
    client = httpx.AsyncClient(transport=transport)
    return (await client.send(client.build_request("GET", url))).text


async def get(transport, url, **kw):
    async with httpx.AsyncClient(transport=transport, **kw) as client:
        return await client.get(url)


def run(coro):
    return asyncio.run(coro)


def test_one_connection_serves_request_after_request():
    async def go():
        async with Script(lambda n, r: ok(b"answer %d" % n)) as s:
            t = H11Transport()
            async with httpx.AsyncClient(transport=t) as client:
                texts = [(await client.get(s.url + f"/{i}")).text for i in range(3)]
            return texts, s.connections

    texts, connections = run(go())
    assert texts == ["answer 1", "answer 2", "answer 3"]
    assert connections == 1


def test_concurrent_requests_each_get_their_own_answer():
    def answer(n, req):
        path = req.split(b" ")[1]
        return ok(b"for " + path)

    async def go():
        async with Script(answer) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                rs = await asyncio.gather(*(client.get(f"{s.url}/p{i}") for i in range(8)))
            return [r.text for r in rs], s.connections

    texts, connections = run(go())
    assert texts == [f"for /p{i}" for i in range(8)]
    assert 1 <= connections <= 8


def test_concurrent_requests_wait_for_a_free_connection_beyond_the_limit(monkeypatch):
    import libcli.transport

    monkeypatch.setattr(libcli.transport, "MAX_CONNECTIONS", 2)

    async def go():
        async with Script(lambda n, r: ok(b"x")) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                rs = await asyncio.gather(*(client.get(s.url) for _ in range(6)))
            return [r.text for r in rs], s.connections

    texts, connections = run(go())
    assert texts == ["x"] * 6
    assert connections <= 2


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async def go():
        async with Script(lambda n, r: ok(), keep=False) as s:  # closes after each answer
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                first = await client.get(s.url)
                await asyncio.sleep(0.05)  # the close reaches us
                second = await client.post(s.url, content=b"x=1")  # a post must not hit a dead socket
            return first.status_code, second.status_code, s.connections

    assert run(go()) == (200, 200, 2)


def test_a_transport_used_from_a_second_event_loop_opens_new_connections():
    transport = H11Transport()

    async def serve_twice():
        async with Script(lambda n, r: ok(b"%d" % n)) as s:
            first = await get_on(transport, s.url)
            # A second event loop (a second asyncio.run) on the same transport:
            # the idle connection belongs to the first loop and must not be used.
            second = await asyncio.to_thread(lambda: asyncio.run(get_on(transport, s.url)))
            return first, second, s.connections

    assert run(serve_twice()) == ("1", "2", 2)


def test_a_transport_outliving_its_event_loop_serves_the_next_one():
    # Two asyncio.run calls one after the other: the first loop is closed
    # when the second meets its idle connection, which is dropped, not used.
    import threading

    answers: list[bytes] = []
    ready = threading.Event()
    stop = threading.Event()
    state = {}

    def serve():
        async def main():
            async with Script(lambda n, r: ok(b"%d" % n)) as s:
                state["script"] = s
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.01)
        asyncio.run(main())

    server = threading.Thread(target=serve)
    server.start()
    try:
        ready.wait(10)
        s = state["script"]
        transport = H11Transport()
        answers.append(asyncio.run(get_on(transport, s.url)))
        answers.append(asyncio.run(get_on(transport, s.url)))
    finally:
        stop.set()
        server.join(10)
    assert answers == ["1", "2"]
    assert s.connections == 2


def test_connection_close_from_the_server_is_honoured():
    async def go():
        async with Script(lambda n, r: ok(extra=b"Connection: close\r\n")) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                for _ in range(2):
                    assert (await client.get(s.url)).status_code == 200
            return s.connections

    assert run(go()) == 2


def test_a_body_left_unread_closes_its_connection():
    async def go():
        async with Script(lambda n, r: ok(b"x" * 1000)) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                async with client.stream("GET", s.url) as r:
                    assert r.status_code == 200  # closed without reading the body
                assert (await client.get(s.url)).text == "x" * 1000
            return s.connections

    assert run(go()) == 2


def test_post_body_and_headers_arrive_as_sent():
    async def go():
        async with Script(lambda n, r: ok()) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                await client.post(s.url + "/renew?x=1", content=b"a=1&a=2",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
            return s.requests[0]

    raw = run(go())
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /renew?x=1 HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in head.lower()
    assert b"content-length: 7" in head.lower()
    assert body == b"a=1&a=2"


def test_chunked_and_gzipped_answers_are_decoded():
    payload = gzip.compress("Tuntematon sotilas – Väinö".encode())
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (payload[:10], payload[10:])) + b"0\r\n\r\n"
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
              b"Content-Type: text/html; charset=utf-8\r\n\r\n" + chunked)

    async def go():
        async with Script(lambda n, r: answer) as s:
            return (await get(H11Transport(), s.url)).text

    assert run(go()) == "Tuntematon sotilas – Väinö"


def test_an_answer_that_ends_by_closing_the_connection_is_read_whole():
    # HTTP/1.0 style: no Content-Length, the body runs until the server closes.
    async def go():
        async with Script(lambda n, r: b"HTTP/1.0 200 OK\r\n\r\n" + b"page " * 1000, keep=False) as s:
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                texts = [(await client.get(s.url)).text for _ in range(2)]
            return texts, s.connections

    texts, connections = run(go())
    assert texts == ["page " * 1000] * 2
    assert connections == 2


def test_a_continue_before_the_answer_is_skipped():
    async def go():
        async with Script(lambda n, r: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"real")) as s:
            return (await get(H11Transport(), s.url)).text

    assert run(go()) == "real"


@pytest.mark.parametrize("answer, error", [
    (lambda n, r: None, httpx.RemoteProtocolError),  # closed, no answer at all
    (lambda n, r: b"garbage\r\n\r\n", httpx.RemoteProtocolError),
    (lambda n, r: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", httpx.RemoteProtocolError),
    (lambda n, r: 5.0, httpx.ReadTimeout),  # accepts, never answers
])
def test_broken_answers_raise_httpx_errors(answer, error):
    async def go():
        async with Script(answer, keep=False) as s:
            t = H11Transport()
            with pytest.raises(error):
                await get(t, s.url, timeout=httpx.Timeout(0.3))
            assert not t._open  # nothing left half-open
            return True

    assert run(go())


def test_nothing_listening_is_a_connect_error():
    async def go():
        async with Script(lambda n, r: ok()) as s:
            url = s.url
        with pytest.raises(httpx.ConnectError):
            await get(H11Transport(), url)
        return True

    assert run(go())


def test_tls_to_a_trusted_server_and_refusal_of_an_untrusted_one(self_signed):
    cert, key = self_signed
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    async def go():
        async with Script(lambda n, r: ok(b"secret"), ssl_context=server_ctx) as s:
            trusting = ssl.create_default_context(cafile=cert)
            t = H11Transport(ssl_context=trusting)
            async with httpx.AsyncClient(transport=t) as client:
                texts = [(await client.get(s.url)).text for _ in range(2)]
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await get(H11Transport(), s.url)  # the default trusts only real CAs
            return texts, s.connections

    texts, connections = run(go())
    assert texts == ["secret", "secret"]
    # Both answers came over one kept-alive TLS connection; the refused
    # handshake never became a connection the server could read from.
    assert connections == 1
