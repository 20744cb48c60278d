"""Fault injection for the demo library: an ASGI middleware driven by ``Options``.

* ``latency_ms``: every request waits this long before it is handled.
* ``error_rate``: that share of requests gets a plain 500 (nothing changes).
* ``drop_rate``: that share of requests loses its connection. The middleware
  starts a response promising a body and then raises ``DroppedConnection``:
  uvicorn then closes the socket mid-response (a real peer reset for the
  client), and ``httpx.ASGITransport`` re-raises the exception in process.
  ``DroppedConnection`` is an ``httpx.RemoteProtocolError``, so client code
  meets the same exception either way.
* ``session_ttl`` and ``refuse_csrf_once`` act in the session machinery and
  the faces (see ``app.Sessions`` and ``FaceContext.take_csrf_refusal``);
  markup variants are the faces' business.

The dice are a ``random.Random(options.seed)``: the same seed and the same
sequence of requests misbehave the same way. Dropped and failed requests
never reach the library, so they change no state.
"""

from __future__ import annotations

import asyncio
import random

import httpx


class DroppedConnection(httpx.RemoteProtocolError):
    def __init__(self, message: str = "demo library dropped the connection"):
        super().__init__(message)


class Misbehave:
    def __init__(self, app, options, ctx=None):
        self.app = app
        self.options = options
        self.ctx = ctx
        self.rng = random.Random(options.seed)
        self._seed = options.seed

    def _roll(self) -> float:
        if self.options.seed != self._seed:  # a test changed the seed: restart the dice
            self._seed = self.options.seed
            self.rng = random.Random(self._seed)
        return self.rng.random()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        opts = self.options
        if opts.latency_ms:
            await asyncio.sleep(opts.latency_ms / 1000)
        if opts.drop_rate and self._roll() < opts.drop_rate:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/html; charset=UTF-8"),
                                    (b"content-length", b"4096")]})
            raise DroppedConnection()
        if opts.error_rate and self._roll() < opts.error_rate:
            body = b"Internal Server Error"
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
