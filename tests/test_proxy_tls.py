"""libcli behind a proxy, and what it says about a refused certificate
(issue 16): a recording proxy on 127.0.0.1, a certificate authority of the
test's own (trustme), and the demo library served over TLS on 127.0.0.1
under a name (heili.test) that only the proxy knows how to reach."""

from __future__ import annotations

import asyncio
import ssl
import threading

import pytest
import trustme
from click.testing import CliRunner

from libcli import http
from libcli.errors import Unreachable
from tests.helpers.live_server import LiveServer
from tests.helpers.scripted import Script, ok

pytestmark = pytest.mark.socket

HEILI = ("10000001", "1234")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1, on a thread of its own (the command under
    test runs its own event loop): it records each request line it is given
    and tunnels CONNECT host:port to 127.0.0.1:port, whatever the host's name."""

    def __init__(self):
        self.seen: list[str] = []
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader, writer) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n")[0].decode().split(" ")
            self.seen.append(f"{method} {target}")
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", int(target.rsplit(":", 1)[1]))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
def env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    return monkeypatch


@pytest.fixture
def proxy():
    p = RecordingProxy()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def served(cert: trustme.LeafCert, tmp_path) -> tuple[str, str]:
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return str(cert_file), str(key_file)


def trust(ca: trustme.CA, env, tmp_path) -> None:
    """As a patron behind a TLS-inspecting proxy does: SSL_CERT_FILE names the CA."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    env.setenv("SSL_CERT_FILE", str(path))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


# --- proxies --------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_loans_through_the_proxy_the_environment_names(variable, env, proxy, ca, tmp_path,
                                                       memory_keyring):
    from libcli.cli import cli

    trust(ca, env, tmp_path)
    env.setenv(variable, proxy.url)
    server = LiveServer("heili", **dict(zip(("ssl_certfile", "ssl_keyfile"),
                                            served(ca.issue_cert("heili.test"), tmp_path))))
    port = server.url.rsplit(":", 1)[1]
    try:
        r = CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                     HEILI[0], "--url", f"https://heili.test:{port}",
                                     "--pin-stdin"], input=HEILI[1] + "\n")
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(cli, ["loans"])
        assert r.exit_code == 0, r.output
        assert "Tuntematon sotilas" in r.stdout
    finally:
        server.stop()
    # heili.test resolves nowhere: every connection went through the proxy.
    assert proxy.seen and set(proxy.seen) == {f"CONNECT heili.test:{port}"}


def test_no_proxy_names_hosts_reached_directly(env, proxy):
    env.setenv("HTTPS_PROXY", proxy.url)
    env.setenv("NO_PROXY", "example.org,heili.test")

    async def go():
        async with http.make_client("https://heili.test:4433") as client:
            await http.request(client, "GET", "/", retries=0)

    with pytest.raises(Unreachable, match="heili.test"):
        run(go())  # tried directly: the name does not resolve
    assert proxy.seen == []


def test_loopback_is_never_sent_to_a_proxy(env, proxy):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.setenv(name, proxy.url)
    pool = http.Pool()
    # httpx itself would send http://127.0.0.1 to HTTP_PROXY (only NO_PROXY exempts
    # a host); a proxy cannot reach this machine's loopback.
    assert {k: bool(v) for k, v in pool.mounts.items()} == {
        "http://": True, "https://": True, "all://": True,
        "all://localhost": False, "all://*.localhost": False, "all://127.0.0.1": False,
        "all://[::1]": False}

    async def go():
        async with Script(lambda n, request, writer: _write(writer, ok(b"direct"))) as s:
            async with http.make_client(s.url, transport=pool) as client:
                return (await http.request(client, "GET", "/")).text

    assert run(go()) == "direct"
    assert proxy.seen == []


async def _write(writer, data: bytes) -> None:
    writer.write(data)


def test_without_proxy_variables_there_are_no_mounts(env):
    assert http.Pool().mounts == {}


# --- TLS ------------------------------------------------------------------------------


def _tls_server(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    return ctx


@pytest.mark.parametrize("host, expected", [
    ("localhost", "for another host name (host name mismatch)"),
    ("127.0.0.1", "for another address (IP address mismatch)"),
])
def test_a_certificate_for_another_host_is_reported_as_a_mismatch(host, expected, env, ca,
                                                                  tmp_path):
    trust(ca, env, tmp_path)

    async def go():
        server_ctx = _tls_server(ca.issue_cert("library.example"))
        async with Script(lambda n, request, writer: _write(writer, ok(b"secret")),
                          ssl_context=server_ctx) as s:
            with pytest.raises(Unreachable) as caught:
                async with http.make_client(f"https://{host}:{s.port}") as client:
                    await http.request(client, "GET", "/")
            return str(caught.value), s.requests

    message, requests = run(go())
    assert message == (f"could not connect to {host} (its TLS certificate is {expected}; "
                       "the address may be wrong); nothing was sent")
    assert requests == []


def test_an_untrusted_certificate_is_reported_as_untrusted(env, ca):
    async def go():
        server_ctx = _tls_server(ca.issue_cert("127.0.0.1"))
        async with Script(lambda n, request, writer: _write(writer, ok(b"secret")),
                          ssl_context=server_ctx) as s:
            with pytest.raises(Unreachable) as caught:
                async with http.make_client(s.url) as client:
                    await http.request(client, "GET", "/")
            return str(caught.value), s.requests

    message, requests = run(go())
    assert message.startswith("could not connect to 127.0.0.1 (its TLS certificate is not "
                              "trusted (unable to get local issuer certificate)")
    assert requests == []


def test_a_trusted_certificate_for_the_right_host_serves_over_one_connection(env, ca, tmp_path):
    trust(ca, env, tmp_path)

    async def go():
        server_ctx = _tls_server(ca.issue_cert("127.0.0.1"))
        async with Script(lambda n, request, writer: _write(writer, ok(b"page %d" % n)),
                          ssl_context=server_ctx) as s:
            async with http.make_client(s.url) as client:
                pages = [(await http.request(client, "GET", "/")).text for _ in range(2)]
            return pages, s.connections

    assert run(go()) == (["page 1", "page 2"], 1)
