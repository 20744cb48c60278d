"""Fault injection for the demo library: an ASGI middleware driven by ``Options``.

* ``latency_ms``: every request waits this long before it is handled.
* ``error_rate``: that share of requests gets a plain 500 (nothing changes).
* ``drop_rate``: that share of requests loses its connection. The middleware
  starts a response promising a body and then raises ``DroppedConnection``:
  uvicorn then closes the socket mid-response (a real peer reset for the
  client), and ``httpx.ASGITransport`` re-raises the exception in process.
  ``DroppedConnection`` is an ``httpx.RemoteProtocolError``, so client code
  meets the same exception either way.
* ``faults``: a list of ``Fault`` rules that hit only the requests they
  match (method, path prefix, a substring of the body), a given number of
  times, for tests that need "drop only the answer to the renew post".
  Actions: ``error`` (500, the library does nothing), ``drop`` (connection
  lost before the library sees the request), ``drop_answer`` (the library
  handles the request and changes its state, then the connection is lost:
  the client cannot know what happened), ``delay`` (wait ``delay_ms`` first,
  e.g. past the client's timeout), ``expire_sessions`` (every session
  expires just before the request is handled), ``refuse`` (the face gives
  its system's own refusal without acting, e.g. Primo VE's HTTP 200 with
  ``status: failed``; the request carries ``request.state.refused``; faces
  without such an answer ignore it), ``count`` (nothing: only ``hits``
  counts matching requests). Each rule counts its ``hits``.
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
from dataclasses import dataclass

import httpx

ACTIONS = ("error", "drop", "drop_answer", "delay", "expire_sessions", "refuse", "count")


@dataclass
class Fault:
    """One targeted fault (see the module docstring); additive to the rates.

    Matches requests whose method is ``method`` (None: any), whose path starts
    with ``path`` and whose raw body contains ``body`` (None: any). The first
    ``skip`` matches pass untouched; then ``times`` matches (None: all) get
    ``action``. ``hits`` counts every match, skipped or not.
    """

    action: str
    path: str = "/"
    method: str | None = None
    body: str | None = None
    times: int | None = 1
    skip: int = 0
    delay_ms: int = 0
    hits: int = 0

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {ACTIONS}")

    def matches(self, method: str, path: str, body: bytes) -> bool:
        return ((self.method is None or self.method.upper() == method.upper())
                and path.startswith(self.path)
                and (self.body is None or self.body.encode() in body))

    def fire(self) -> bool:
        """Count a match; True when this one is to misbehave."""
        self.hits += 1
        n = self.hits - self.skip
        return n >= 1 and (self.times is None or n <= self.times)


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
        faults = getattr(opts, "faults", None)
        if faults:
            receive, fired = await self._match(scope, receive, faults)
            for fault in fired:
                if fault.action == "delay":
                    await asyncio.sleep(fault.delay_ms / 1000)
                elif fault.action == "expire_sessions" and self.ctx is not None:
                    for sessions in self.ctx._sessions.values():
                        sessions.expire_all()
                elif fault.action == "refuse":
                    scope.setdefault("state", {})["refused"] = True
            for fault in fired:
                if fault.action == "drop":
                    await self._drop(send)
                if fault.action == "error":
                    await self._error(send)
                    return
                if fault.action == "drop_answer":
                    async def swallow(message):
                        pass

                    await self.app(scope, receive, swallow)
                    await self._drop(send)
        if opts.latency_ms:
            await asyncio.sleep(opts.latency_ms / 1000)
        if opts.drop_rate and self._roll() < opts.drop_rate:
            await self._drop(send)
        if opts.error_rate and self._roll() < opts.error_rate:
            await self._error(send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _drop(send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=UTF-8"),
                                (b"content-length", b"4096")]})
        raise DroppedConnection()

    @staticmethod
    async def _error(send):
        body = b"Internal Server Error"
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _match(scope, receive, faults):
        """The rules this request fires, and a ``receive`` that replays its body."""
        body = b""
        if any(f.body is not None for f in faults):
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        fired = [f for f in list(faults)
                 if f.matches(scope["method"], scope["path"], body) and f.fire()]
        return receive, fired
