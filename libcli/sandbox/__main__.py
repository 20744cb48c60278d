"""Serve the demo library on 127.0.0.1: ``python -m libcli.sandbox --port 0``.

Prints one line per demo patron of the view (``card N pin P view V``), then
``listening on http://127.0.0.1:PORT`` once the socket accepts connections,
so scripts can parse both. ``--big-loans N`` adds a patron with N loans
(``card 99990000 pin 9999 view V loans N``): on Finna, 50 loans to a page.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from .seed import VIEWS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m libcli.sandbox", description=__doc__)
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    ap.add_argument("--view", choices=VIEWS, default="helmet")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--drop-rate", type=float, default=0.0)
    ap.add_argument("--session-ttl", type=float, default=600.0, help="seconds; 0 = expire at once")
    ap.add_argument("--refuse-csrf-once", action="store_true")
    ap.add_argument("--finna-variant", choices=("2024", "bs5", "2025"), default="2024",
                    help="markup: bootstrap 3 finna2 (2024) or bootstrap 5 (bs5; 2025 = bs5)")
    ap.add_argument("--finna-driver", choices=("koha", "alma", "sierra"),
                    help="ILS driver behaviour (default: the view's own)")
    ap.add_argument("--finna-hold-form", choices=("plain", "terms", "request-groups"),
                    default="plain")
    ap.add_argument("--finna-login-first", choices=("MultiILS", "Database"), default="MultiILS")
    ap.add_argument("--refuse-login-once", action="store_true",
                    help="answer the next login with authentication_error_technical")
    ap.add_argument("--webpac-variant", default="2024",
                    help="comma-separated WebPAC face switches, e.g. classic, sierra51, sierra53, "
                         "cas, eng, two-step (libcli/sandbox/webpac_face.py)")
    ap.add_argument("--webpac-date-order", choices=("dmy", "mdy", "ymd"),
                    help="how the WebPAC face prints dates (default: the view's registry row)")
    ap.add_argument("--language", choices=("fi", "sv", "en-gb"), default="fi")
    ap.add_argument("--state", type=Path, help="SQLite file that keeps the library between runs")
    ap.add_argument("--seed", type=int, default=0, help="makes generated data and faults reproducible")
    ap.add_argument("--big-loans", type=int, default=0, metavar="N",
                    help="add a patron with N loans (paged accounts, renewing across pages)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from .app import Options, create_app, load_or_seed
    from .seed import BIG_CARD, BIG_PIN, add_big_account, demo_patrons
    from .store import Store

    args = parse_args(argv)
    options = Options(latency_ms=args.latency_ms, error_rate=args.error_rate,
                      drop_rate=args.drop_rate, session_ttl=args.session_ttl,
                      refuse_csrf_once=args.refuse_csrf_once, language=args.language,
                      finna_variant=args.finna_variant,
                      webpac_variant=",".join(filter(None, [args.webpac_variant,
                                                            args.webpac_date_order])),
                      finna_driver=args.finna_driver, finna_hold_form=args.finna_hold_form,
                      finna_login_first=args.finna_login_first,
                      refuse_login_once=args.refuse_login_once,
                      seed=args.seed)
    store = Store(args.state)
    library = load_or_seed(args.view, store, seed=args.seed)
    if args.big_loans and BIG_CARD not in library.patrons:
        add_big_account(library, args.big_loans)
        store.save_library(library)
    app = create_app(args.view, library=library, options=options, store=store)
    # Loopback only: the demo's PINs are public.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", args.port))
    except OSError as exc:
        sock.close()
        why = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        sys.exit(f"python -m libcli.sandbox: port {args.port} on 127.0.0.1 {why}; "
                 "choose another with --port N, or --port 0 for a free one")
    sock.listen(128)
    port = sock.getsockname()[1]
    for p in demo_patrons(args.view):
        print(f"card {p.card} pin {p.pin} view {p.view}")
    if BIG_CARD in library.patrons:
        n = len(library.loans_of(BIG_CARD))
        print(f"card {BIG_CARD} pin {BIG_PIN} view {args.view} loans {n}")
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()


if __name__ == "__main__":
    main()
