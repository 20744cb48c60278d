"""A demo-library server for the benchmarks: one view on 127.0.0.1.

Like ``python -m libcli.sandbox``, plus what the benchmark needs:

* extra patrons: ``--big K --big-loans N`` adds K patrons with N loans each
  (cards ``8<v><kkkkkk>``, PIN 9999), for paging and memory;
* latency added to every answer, after the request was handled. A library's
  server works on CPUs of its own while requests and answers travel; these
  servers run on the benchmark machine (bench/run.py gives them CPUs apart
  from libcli's). Delayed before handling, as the demo library's own
  ``latency_ms`` does, the 30 requests of a 10-card ``status`` would arrive
  together after L and wait for each other on those CPUs: work that at
  L = 0 overlaps libcli's, counted as network. Delayed after handling, each
  server works as it does at L = 0, and each answer arrives L later;
* control endpoints outside the latency (they cost no added latency and are
  not counted):
  ``POST /__bench/latency?ms=N`` sets the latency added to each answer,
  ``POST /__bench/reset`` puts every loan's due date and renewal count back
  (so ``renew --all`` can be measured again) and zeroes the counter,
  ``GET /__bench/stats`` returns the number of requests served since the
  last reset (a server-side cross-check of libcli's own count).

Prints ``card N pin P view V`` lines, then ``listening on http://127.0.0.1:PORT``.
Sessions never expire (the whole run keeps its warm sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket

from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock, Patron
from libcli.sandbox.seed import VIEWS, _Builder, build_library, demo_patrons
from libcli.sandbox.store import Store
from libcli.model import Material

BIG_PIN = "9999"


def big_card(view: str, k: int) -> str:
    return f"8{VIEWS.index(view)}{k:06d}"


def renew_card(view: str, k: int) -> str:
    return f"7{VIEWS.index(view)}{k:06d}"


def add_patron_with_loans(lib, card: str, n: int, patron_id: str) -> None:
    lib.add_patron(Patron(card, BIG_PIN, f"Bench Patron {card}", f"b{card}@example.org",
                          "et" if lib.view == "tallinn" else "fi", patron_id=patron_id,
                          home_location=lib.pickup_locations[0].code))
    b = _Builder(lib, random.Random(card))
    b.n_items = len(lib.items) + 1000 * len(lib.patrons)  # item ids unique per patron
    books = [r for r, t in lib.titles.items() if t.material is Material.BOOK]
    for k in range(n):
        b.lend(card, books[k % len(books)], due_in=3 + k % 25)


class Control:
    def __init__(self, app, library, latency_ms: int = 0):
        self.app = app
        self.library = library
        self.latency_ms = latency_ms
        self.count = 0
        self.saved = {lid: (l.due_date, l.renewals) for lid, l in library.loans.items()}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if not path.startswith("/__bench/"):
            self.count += 1
            if not self.latency_ms:
                return await self.app(scope, receive, send)
            delay = self.latency_ms / 1000
            delayed = False

            async def send_later(message):
                # The answer is complete when it starts (starlette renders first).
                nonlocal delayed
                if not delayed:
                    delayed = True
                    await asyncio.sleep(delay)
                await send(message)

            return await self.app(scope, receive, send_later)
        answer: dict = {"ok": True}
        if path == "/__bench/latency":
            qs = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
            self.latency_ms = int(qs.get("ms", "0"))
        elif path == "/__bench/reset":
            for lid, (due, renewals) in self.saved.items():
                loan = self.library.loans.get(lid)
                if loan is not None:
                    loan.due_date, loan.renewals = due, renewals
            self.count = 0
        elif path == "/__bench/stats":
            answer = {"requests": self.count}
        body = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    ap = argparse.ArgumentParser(prog="bench/server.py")
    ap.add_argument("--view", choices=VIEWS, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--big", type=int, default=0, help="extra patrons with --big-loans loans each")
    ap.add_argument("--big-loans", type=int, default=100)
    ap.add_argument("--renew", type=int, default=0, help="extra patrons with --renew-loans loans each")
    ap.add_argument("--renew-loans", type=int, default=20)
    args = ap.parse_args(argv)

    lib = build_library(args.view, Clock())
    extra = []
    for k in range(1, args.big + 1):
        card = big_card(args.view, k)
        add_patron_with_loans(lib, card, args.big_loans, patron_id=f"{3000000 + k:07d}")
        extra.append((card, args.big_loans))
    for k in range(1, args.renew + 1):
        card = renew_card(args.view, k)
        add_patron_with_loans(lib, card, args.renew_loans, patron_id=f"{4000000 + k:07d}")
        extra.append((card, args.renew_loans))
    lib.revision = 0
    options = Options(session_ttl=None)
    app = create_app(args.view, library=lib, options=options, store=Store(None))
    control = Control(app, lib, args.latency_ms)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(256)
    port = sock.getsockname()[1]
    for p in demo_patrons(args.view):
        print(f"card {p.card} pin {p.pin} view {p.view}")
    for card, n in extra:
        print(f"card {card} pin {BIG_PIN} view {args.view} loans {n}")
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(control, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
