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
# Markups of the Finna face; a variant spec adds switches after "+": a driver
# (koha, alma, sierra), a login order (Database = the Finna-account tab first)
# or a hold form (terms, request-groups), e.g. "bs5+alma+Database".
MARKUPS = ("2024", "bs5")
DRIVERS = ("koha", "alma", "sierra")
VARIANTS = MARKUPS
# Every markup x driver x login order (the contract suite runs them all).
EVERY_VARIANT = tuple(f"{m}+{d}+{first}" for m in MARKUPS for d in DRIVERS
                      for first in ("MultiILS", "Database"))
# A representative subset for the longer suites: each driver and login order
# once in each markup, on views whose own driver differs.
SOME_VARIANTS = (("heili", "fi", "2024+alma"), ("heili", "sv", "bs5+sierra"),
                 ("helmet", "en-gb", "2024+koha"), ("helmet", "fi", "bs5+alma+Database"),
                 ("heili", "en-gb", "bs5+koha"), ("heili", "fi", "2024+Database"))
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


def variant_options(spec: str) -> dict:
    """``Options`` fields for a variant spec such as "bs5+alma+Database"."""
    markup, *switches = spec.split("+")
    options: dict = {"finna_variant": markup}
    for switch in switches:
        if switch in DRIVERS:
            options["finna_driver"] = switch
        elif switch in ("MultiILS", "Database"):
            options["finna_login_first"] = switch
        elif switch in ("plain", "terms", "request-groups"):
            options["finna_hold_form"] = switch
        else:
            raise ValueError(f"unknown Finna variant switch {switch!r}")
    return options


def driver_of(view: str, spec: str | None) -> str:
    """The ILS driver a view's pages follow under a variant spec: the spec's,
    else the view's own (heili KohaRestSuomi, helmet SierraRest)."""
    chosen = variant_options(spec).get("finna_driver") if spec else None
    return chosen or {"heili": "koha", "helmet": "sierra"}[view]


def variant_args(spec: str) -> list[str]:
    """The same spec as ``python -m libcli.sandbox`` arguments."""
    flags = {"finna_variant": "--finna-variant", "finna_driver": "--finna-driver",
             "finna_login_first": "--finna-login-first", "finna_hold_form": "--finna-hold-form"}
    return [x for k, v in variant_options(spec).items() for x in (flags[k], v)]


def demo(view: str, *, language: str = "fi", variant: str = "2024", big_loans: int = 0,
         **options) -> Demo:
    library = build_library(view, Clock(TODAY), big_loans=big_loans)
    opts = Options(language=language, **{**variant_options(variant), **options})
    app = create_app(view, library=library, options=opts, store=Store(None))
    return Demo(view, app, library, opts)
