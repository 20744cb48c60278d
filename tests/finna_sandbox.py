"""Helpers: the Finna backend talking to the demo library in-process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import httpx

from libcli import http
from libcli.backends.finna import FinnaBackend
from libcli.model import Card
from libcli.policy import consortia
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock, Library
from libcli.sandbox.seed import DEMO_PATRONS, build_library
from libcli.sandbox.store import Store

TODAY = date(2025, 3, 10)
VIEWS = ("heili", "helmet")  # tuni moved to Primo VE (Andor): tests/test_primo_backend.py
LANGS = ("fi", "sv", "en-gb")
VARIANTS = ("2024", "2025")
BASE = "http://127.0.0.1:8000"


@dataclass
class Pin:
    value: str
    calls: int = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


@dataclass
class Demo:
    view: str
    app: object
    library: Library
    options: Options
    clients: list = field(default_factory=list)

    def backend(self, card: str | None = None, pin: str | None = None, *,
                language: str | None = None, cookies=None) -> FinnaBackend:
        patron = next(p for p in DEMO_PATRONS if p.view == self.view
                      and (card is None or p.card == card))
        client = http.make_client(BASE, transport=httpx.ASGITransport(app=self.app),
                                  cookies=cookies)
        self.clients.append(client)
        b = FinnaBackend(Card(name=f"{self.view}-card", library=self.view, number=patron.card),
                         consortia()[self.view], client=client,
                         pin=Pin(pin if pin is not None else patron.pin), session={},
                         today=TODAY, language=language)
        return b

    def main_card(self) -> str:
        return next(p.card for p in DEMO_PATRONS if p.view == self.view)

    def expire_sessions(self) -> None:
        self.app.state.ctx.sessions("PHPSESSID").expire_all()


def demo(view: str, *, language: str = "fi", variant: str = "2024", big_loans: int = 0,
         **options) -> Demo:
    library = build_library(view, Clock(TODAY), big_loans=big_loans)
    opts = Options(language=language, finna_variant=variant, **options)
    app = create_app(view, library=library, options=opts, store=Store(None))
    return Demo(view, app, library, opts)
