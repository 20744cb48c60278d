"""A scripted HTTP/1.1 server on 127.0.0.1 for the HTTP layer's tests: each
request's answer is written by a coroutine the test gives, which may answer
oddly (slowly, byte by byte, with bytes after the body, or never), and the
server records every request it read and counts its connections."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

Answer = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[bool | None]]


class Script:
    """`answer(n, request, writer)` writes the n-th answer (1-based) and
    returns False to close the connection after it."""

    def __init__(self, answer: Answer, *, ssl_context=None):
        self.answer = answer
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[bytes] = []
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> "Script":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0,
                                                 ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        for task in list(self._tasks):
            task.cancel()

    def methods(self) -> list[str]:
        return [r.split(b" ", 1)[0].decode() for r in self.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        body = await reader.readexactly(int(line.split(b":")[1]))
                self.requests.append(head + body)
                keep = await self.answer(len(self.requests), head + body, writer)
                await writer.drain()
                if keep is False:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


def ok(body: bytes = b"hello", headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)
