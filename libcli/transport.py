"""The connections under libcli's HTTP client: HTTP/1.1 keep-alive over
asyncio streams, spoken by h11, behind httpx's public transport interface.

httpx's own transport goes through httpcore, which under asyncio runs on
anyio: 45-odd ms of imports (httpcore, anyio's event-loop backend, its
socket, stream and TLS layers) at every start of `libcli`, more than a whole
warm request to a library takes on a good line. What libcli needs is small:
HTTP/1.1 to a few hosts, each connection kept alive for the next request,
TLS verified. h11 (the protocol state machine httpcore itself uses) parses;
asyncio, loaded anyway, moves the bytes. This module translates between them
and httpx, and knows nothing of libraries.

Errors are httpx's own: ConnectError and ConnectTimeout only when nothing was
sent (libcli.http tells the user so after a post); everything later is a
read or write error, or RemoteProtocolError for a broken answer.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

# asyncio's default for trying a host's next address (RFC 8305: 150-250 ms).
HAPPY_EYEBALLS_DELAY = 0.25
KEEPALIVE_SECONDS = 5.0  # httpx's default keepalive_expiry
MAX_CONNECTIONS = 50
READ_SIZE = 64 * 1024

Origin = tuple[bytes, bytes, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = time.monotonic()
        self.loop = asyncio.get_running_loop()
        self.slots: asyncio.Semaphore | None = None  # the limit this request counts against

    def close(self) -> None:
        # abort(): no TLS close_notify exchange (asyncio waits up to 30 s for
        # the server's) and nothing left to flush on a connection given up.
        if self.loop.is_closed():
            # Its event loop has ended and can no longer run the transport's
            # close: end the TCP connection under it (the file descriptor goes
            # with the transport object).
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        self.writer.transport.abort()

    def usable(self) -> bool:
        """Idle and still open: a socket that reads ready while idle has been
        closed by the server (or sent something out of turn)."""
        if (time.monotonic() - self.idle_since > KEEPALIVE_SECONDS or self.writer.is_closing()
                or self.loop is not asyncio.get_running_loop()):  # a stream serves one event loop
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return False
        readable, _, _ = select.select([sock.fileno()], [], [], 0)
        return not readable


def _origin(url: httpx.URL) -> Origin:
    return url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80)


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    return request.extensions.get("timeout", {})


class H11Transport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 for every card of a run. `ssl_context` is made on
    the first https request (loading the CA bundle costs tens of ms, which a
    run against the demo library on loopback never needs)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None):
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._open: set[_Connection] = set()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Verifying, always: certifi's CAs (or SSL_CERT_FILE), as httpx's own."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request.url)
        timeouts = _timeouts(request)
        slots = self._limit()
        await slots.acquire()
        try:
            conn = self._checkout(origin)
            if conn is None:
                conn = await self._connect(request, origin, timeouts.get("connect"))
            conn.slots = slots
            self._open.add(conn)
            try:
                response = await self._exchange(conn, request, timeouts)
            except BaseException:
                self._discard(conn)
                raise
        except BaseException:
            slots.release()
            raise
        return response

    def _limit(self) -> asyncio.Semaphore:
        """The connection limit of the running event loop (a semaphore serves one loop)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(MAX_CONNECTIONS), loop
        return self._slots

    def _checkout(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin, [])
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _connect(self, request: httpx.Request, origin: Origin,
                       timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = scheme == b"https"
        hostname = host.decode("ascii")
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    hostname, port, ssl=self.ssl_context if tls else None,
                    server_hostname=hostname if tls else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, limit=READ_SIZE)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out while connecting", request=request) from exc
        except OSError as exc:  # ssl.SSLCertVerificationError among them
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, request: httpx.Request,
                        timeouts: dict[str, float | None]) -> httpx.Response:
        target = request.url.raw_path
        headers = [(k, v) for k, v in request.headers.raw]
        await self._send(conn, request, h11.Request(method=request.method.encode(), target=target,
                                                    headers=headers), timeouts.get("write"))
        async for chunk in request.stream:
            if chunk:
                await self._send(conn, request, h11.Data(data=chunk), timeouts.get("write"))
        await self._send(conn, request, h11.EndOfMessage(), timeouts.get("write"))
        while True:
            event = await self._receive(conn, request, timeouts.get("read"))
            if isinstance(event, h11.Response):
                break
            if not isinstance(event, h11.InformationalResponse):  # 1xx: wait for the real one
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}", request=request)
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, conn, request, timeouts.get("read")),
            extensions={"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason},
        )

    async def _send(self, conn: _Connection, request: httpx.Request, event: Any,
                    timeout: float | None) -> None:
        try:
            data = conn.h11.send(event)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        if not data:
            return
        try:
            async with asyncio.timeout(timeout):
                conn.writer.write(data)
                await conn.writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("timed out while sending", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc

    async def _receive(self, conn: _Connection, request: httpx.Request,
                       timeout: float | None) -> Any:
        while True:
            try:
                event = conn.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(timeout):
                    data = await conn.reader.read(READ_SIZE)
            except TimeoutError as exc:
                raise httpx.ReadTimeout("timed out while reading", request=request) from exc
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            if not data and conn.h11.their_state is h11.SEND_RESPONSE:
                # Closed before the first byte of an answer (httpcore's wording).
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                request=request)
            conn.h11.receive_data(data)

    def _release(self, conn: _Connection, origin: Origin) -> None:
        """The answer was read to its end: keep the connection if both sides may."""
        self._open.discard(conn)
        conn.slots.release()
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(conn)
        else:
            conn.close()

    def _discard(self, conn: _Connection) -> None:
        if conn in self._open:
            self._open.discard(conn)
        conn.close()

    def _abandon(self, conn: _Connection) -> None:
        """The caller stopped reading before the end: the connection cannot be reused."""
        self._discard(conn)
        conn.slots.release()

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        await asyncio.sleep(0)  # one pass of the loop: the sockets really close


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; the end gives the connection back."""

    def __init__(self, transport: H11Transport, conn: _Connection, request: httpx.Request,
                 timeout: float | None):
        self._transport = transport
        self._conn = conn
        self._request = request
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._done:
            return
        try:
            while True:
                event = await self._transport._receive(self._conn, self._request, self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
        except BaseException:
            self._finish(reusable=False)
            raise
        self._finish(reusable=True)

    def _finish(self, *, reusable: bool) -> None:
        if self._done:
            return
        self._done = True
        if reusable:
            self._transport._release(self._conn, _origin(self._request.url))
        else:
            self._transport._abandon(self._conn)

    async def aclose(self) -> None:
        self._finish(reusable=False)
