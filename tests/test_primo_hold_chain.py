"""A hold on Primo VE after the library dropped the saved token.

The physical service id a hold's chain starts with belongs to the login that
asked for it (reference/primo-ve.md §5 step 2, §8.6; the demo's Andor face
keeps it per login, as OPY saw). A warm run sends the saved token, which the
library may have revoked meanwhile: the chain then meets a stale session
half-way, logs in again, and must start again from the service id, not post
the old one under the new login ("Unknown physical service")."""

from __future__ import annotations

from datetime import date

import httpx

from libcli.account import AccountService
from libcli.model import Card
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import build_library

CARD, PIN = "20000001", "1234"
RECORD = "991113001405973"  # Seitsemän veljestä: on no demo patron's account


def test_a_hold_after_the_saved_token_was_revoked(isolated):
    library = build_library("tuni", Clock(date.today()))
    app = create_app("tuni", library=library, options=Options())
    card = Card(name="t", library="tuni", number=CARD, url="http://127.0.0.1:8000")
    service = AccountService(transport=httpx.ASGITransport(app=app), pin_source=lambda c: PIN)

    [read] = service.read_loans([card])
    assert read.ok, read.error  # logged in: the token is in the saved session
    app.state.ctx.sessions("primo-jwt").expire_all()  # the library drops it

    placed = service.place_hold(card, RECORD, None, choose_pickup=lambda places: places[0].code)
    assert placed.ok, placed.error
    assert placed.value.placed, placed.value
    assert placed.value.title == "Seitsemän veljestä" and placed.value.hold_id
