"""Finna reads at the network's limit: one login for concurrent reads of a
card, and every loans page of a warm session in one round trip."""

from __future__ import annotations

import asyncio

import pytest

from tests.finna_sandbox import VIEWS, demo
from libcli.account import whole_account
from libcli.model import Card
from libcli.sandbox.seed import BIG_CARD, BIG_PIN


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("view", VIEWS)
def test_cold_status_logs_in_once(view):
    d = demo(view)
    b = d.backend()
    loans, holds, balance = run(whole_account(b))
    assert loans and holds and balance.total.cents > 0
    assert b._pin.calls == 1
    # 3 for the first page (form, login post, its redirect) + holds + fees.
    assert b.requests == 5


@pytest.mark.parametrize("view", VIEWS)
def test_expired_session_concurrent_reads_share_a_login(view):
    d = demo(view)
    b = d.backend()
    run(b.loans())
    d.expire_sessions()
    loans, holds, balance = run(whole_account(b))
    assert loans and holds
    assert b._pin.calls == 2  # the first login, and one more for the three reads


class Tracking:
    """Counts the requests in flight at once."""

    def __init__(self, app):
        self.app = app
        self.now = self.peak = 0

    async def __call__(self, scope, receive, send):
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.01)
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


@pytest.mark.parametrize("view", ["heili", "helmet"])
def test_warm_paged_loans_are_fetched_at_once(view):
    d = demo(view, big_loans=120)
    tracking = Tracking(d.app)
    d.app = tracking
    b = d.backend()
    b.card = Card(name="big", library=view, number=BIG_CARD)
    b._pin.value = BIG_PIN
    first = run(b.loans())
    assert len(first) == 120 and b.session["loan_pages"] == 3
    b.requests = 0
    tracking.peak = 0
    again = run(b.loans())
    assert [l.id for l in again] == [l.id for l in first]
    assert b.requests == 3 and tracking.peak == 3  # the three pages together


def test_speculative_pages_that_no_longer_exist_are_dropped():
    d = demo("heili", big_loans=120)
    b = d.backend()
    b.card = Card(name="big", library="heili", number=BIG_CARD)
    b._pin.value = BIG_PIN
    run(b.loans())
    b.session["loan_pages"] = 5  # more than there are: pages 4 and 5 answer 400
    loans = run(b.loans())
    assert len(loans) == 120 and b.session["loan_pages"] == 3


def test_paged_loans_after_the_session_expired():
    d = demo("helmet", big_loans=120)
    b = d.backend()
    b.card = Card(name="big", library="helmet", number=BIG_CARD)
    b._pin.value = BIG_PIN
    run(b.loans())
    d.expire_sessions()
    loans = run(b.loans())
    assert len(loans) == 120 and len({l.id for l in loans}) == 120
    assert b._pin.calls == 2


def test_cold_status_is_three_round_trips():
    """Form, login post, then loans, holds and fees together."""
    d = demo("helmet")
    tracking = Tracking(d.app)
    d.app = tracking
    b = d.backend()
    run(whole_account(b))
    assert b.requests == 5 and tracking.peak == 3
