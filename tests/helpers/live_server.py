"""The demo library served on a real 127.0.0.1 socket from a thread of the
test process, so a test can build the library it needs (a patron with a
canary PIN, thirty loans, a hostile title), flip the misbehaviour switches
and targeted ``Fault`` rules between commands, and look at the library's
state afterwards; libcli reaches it over TCP like any other site."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import uvicorn

from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock, Library
from libcli.sandbox.misbehave import Fault
from libcli.sandbox.seed import build_library
from libcli.sandbox.store import Store


class Serve:
    """Any ASGI app on 127.0.0.1:<free port>, from a daemon thread."""

    def __init__(self, app, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
        self.app = app
        self._start(ssl_certfile, ssl_keyfile)

    def _start(self, ssl_certfile=None, ssl_keyfile=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        scheme = "https" if ssl_certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="critical", access_log=False,
                                lifespan="off", ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo library did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class LiveServer(Serve):
    """The demo library for one view, built by the test or freshly seeded."""

    def __init__(self, view: str, *, library: Library | None = None,
                 options: Options | None = None, today: date | None = None,
                 ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
        self.view = view
        self.library = library or build_library(view, Clock(today or date.today()))
        self.options = options or Options()
        self.app = create_app(view, library=self.library, options=self.options,
                              store=Store(None))
        self._start(ssl_certfile, ssl_keyfile)

    def fault(self, action: str, path: str = "/", **kw) -> Fault:
        rule = Fault(action, path, **kw)
        self.options.faults.append(rule)
        return rule

    def expire_sessions(self) -> None:
        for sessions in self.app.state.ctx._sessions.values():
            sessions.expire_all()
