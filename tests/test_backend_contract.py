"""The backend contract: the same behaviour, through every backend, against
its face of the demo library (in-process). A new library system's backend
joins by adding its view to VIEWS; nothing else here should need to change.
"""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import msgspec
import pytest

from libcli.backends.base import backend_class
from libcli.errors import LoginRefused
from libcli.http import make_client
from libcli.model import Card, DueStatus, HoldStatus
from libcli.policy import consortia
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.seed import DEMO_PATRONS

VIEWS = ["heili", "tuni", "helmet", "tallinn"]
# Views whose face has markup variants run the contract over each (the demo's
# variant string; a date token also sets the client's registry row to match).
VARIANTS = {"tallinn": ["classic", "sierra51,mdy", "sierra53,cas,eng,two-step,ymd"]}
CASES = [(view, variant) for view in VIEWS for variant in VARIANTS.get(view, [None])]


class Account:
    """One demo patron's card, opened on a fresh in-process demo library."""

    def __init__(self, view: str, pin: str | None = None, variant: str | None = None):
        patron = next(p for p in DEMO_PATRONS if p.view == view)
        self.view = view
        self.variant = variant
        self.consortium = consortia()[view]
        options = Options()
        if variant:
            options.webpac_variant = variant
            order = next((t for t in variant.split(",") if t in ("dmy", "mdy", "ymd")), None)
            if order:
                self.consortium = msgspec.structs.replace(self.consortium, date_order=order)
        self.app = create_app(view, options=options)
        self.library = self.app.state.library
        self.card = Card("c", view, patron.card, url=f"http://{view}.localhost/")
        self.pin = pin or patron.pin
        self.logins = 0
        self.transport = httpx.ASGITransport(app=self.app)
        self.client = make_client(self.card.url, transport=self.transport)

    def backend(self):
        consortium = self.consortium

        def pin():
            self.logins += 1
            return self.pin

        return backend_class(consortium.backend)(self.card, consortium, client=self.client,
                                                 pin=pin, session={})


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-{c[1]}" if c[1] else c[0])
def account(request):
    view, variant = request.param
    return Account(view, variant=variant)


def test_loans_match_the_library(account):
    loans = run(account.backend().loans())
    truth = account.library.loans_of(account.card.number)
    assert len(loans) == len(truth) > 0
    assert sorted(l.due_date for l in loans) == sorted(t.due_date for t in truth)
    assert len({l.key for l in loans}) == len(loans)
    assert {l.status for l in loans} == {DueStatus.OK, DueStatus.DUE_SOON, DueStatus.OVERDUE}
    for loan in loans:
        assert loan.title and isinstance(loan.due_date, date)
        assert loan.renewable or loan.not_renewable_reason


def test_ids_are_stable_across_sessions(account):
    first = [l.id for l in run(account.backend().loans())]
    other = Account(account.view, variant=account.variant)
    second = [l.id for l in run(other.backend().loans())]
    assert sorted(first) == sorted(second)


def test_renew_reports_every_loan_once_in_order(account):
    backend = account.backend()

    async def go():
        loans = await backend.loans()
        return loans, await backend.renew(loans)

    loans, results = run(go())
    assert [r.loan_id for r in results] == [l.id for l in loans]
    assert any(r.renewed for r in results) and any(not r.renewed for r in results)
    for r in results:
        assert (r.new_due_date is not None) if r.renewed else bool(r.message)


def test_holds_and_cancelling_a_waiting_one(account):
    backend = account.backend()

    async def go():
        holds = await backend.holds()
        waiting = [h for h in holds if h.status is HoldStatus.WAITING][:1]
        return holds, waiting, await backend.cancel_holds(waiting), await backend.holds()

    holds, waiting, results, after = run(go())
    assert {h.status for h in holds} == {HoldStatus.WAITING, HoldStatus.IN_TRANSIT, HoldStatus.READY}
    assert all(h.pickup_by for h in holds if h.status is HoldStatus.READY)
    assert [r.cancelled for r in results] == [True]
    assert waiting[0].id not in {h.id for h in after}


def test_fees_add_up(account):
    balance = run(account.backend().fees())
    assert balance.total.cents == sum(f.amount.cents for f in balance.items) > 0
    if consortia()[account.view].policy.online_payment is None:
        assert balance.online_payment_offered is False


def test_one_login_then_the_session_serves(account):
    backend = account.backend()

    async def go():
        await backend.loans()
        await asyncio.gather(backend.holds(), backend.fees())

    run(go())
    assert account.logins == 1


def test_a_refused_login(account):
    bad = Account(account.view, pin="0000", variant=account.variant)
    with pytest.raises(LoginRefused):
        run(bad.backend().loans())
