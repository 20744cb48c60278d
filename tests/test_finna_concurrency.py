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


class Waves:
    """The critical path in round trips: each request is one wave deeper
    than the deepest request that had finished when it arrived."""

    def __init__(self, app):
        self.app = app
        self.finished: list[int] = []

    async def __call__(self, scope, receive, send):
        depth = 1 + max(self.finished, default=0)
        await asyncio.sleep(0.01)  # requests sent together overlap
        await self.app(scope, receive, send)
        self.finished.append(depth)

    @property
    def depth(self) -> int:
        return max(self.finished, default=0)


@pytest.mark.parametrize("view", VIEWS)
def test_status_on_an_expired_session_is_three_round_trips(view):
    """The three reads meet the login page, one posts the login (without
    following its redirect), then all three read again together."""
    d = demo(view)
    first = d.backend()
    run(first.loans())
    d.expire_sessions()
    waves = d.app = Waves(d.app)
    b = d.backend(cookies=first.client.cookies)  # the same, now expired, session
    loans, holds, balance = run(whole_account(b))
    assert loans and holds and balance.total.cents > 0
    assert b._pin.calls == 1
    assert b.requests == 7  # 3 reads, the login post, 3 reads
    assert waves.depth == 3


# --- renewing across pages ----------------------------------------------------------


def big_account(view: str, **options):
    """A warm session on the 120-loan card (three pages of 50), and one
    renewable loan from each page."""
    d = demo(view, big_loans=120, **options)
    # Nobody else waits for these titles: every chosen loan can be renewed.
    d.library.holds = {k: h for k, h in d.library.holds.items() if h.card == BIG_CARD}
    waves = d.app = Waves(d.app)
    b = d.backend()
    b.card = Card(name="big", library=view, number=BIG_CARD)
    b._pin.value = BIG_PIN
    loans = run(b.loans())
    page_list, _ = run(b._loan_pages())
    assert len(page_list) == 3
    keys = [next(r.key for r in lp.loans if r.renew_token) for _, lp in page_list]
    chosen = [next(l for l in loans if l.key == k) for k in keys]
    waves.finished.clear()
    b.requests = 0
    return d, b, waves, chosen


@pytest.mark.parametrize("view", ["heili", "helmet"])
def test_renewing_loans_on_three_pages_posts_them_together(view):
    d, b, waves, chosen = big_account(view)
    results = run(b.renew(chosen))
    assert [r.loan_id for r in results] == [l.id for l in chosen]
    assert all(r.renewed and r.new_due_date > l.due_date for r, l in zip(results, chosen))
    # A post for each page, with the forms the read found; renewed loans move
    # later in the due-date order, off the page that answers, so the pages
    # are read again.
    assert b.requests == 6
    assert waves.depth == 2  # the posts, the pages: each wave together


def test_posts_that_all_meet_an_expired_session_log_in_once_and_are_not_sent_again():
    from libcli.sandbox.misbehave import Fault

    fault = Fault("expire_sessions", path="/MyResearch/CheckedOut", method="POST")
    d, b, waves, chosen = big_account("helmet", faults=[fault])
    before = {l.loan_id: l.due_date for l in d.library.loans_of(BIG_CARD)}
    logins = b._pin.calls
    results = run(b.renew(chosen))
    assert [r.renewed for r in results] == [False] * 3
    assert all("session expired" in r.message for r in results)
    assert b._pin.calls == logins + 1  # one login for the three pages' answers
    assert {l.loan_id: l.due_date for l in d.library.loans_of(BIG_CARD)} == before


def test_a_page_whose_post_and_re_read_fail_is_reported_unknown_and_the_others_renewed():
    from urllib.parse import quote

    from libcli.http import READ_RETRIES
    from libcli.sandbox.misbehave import Fault

    d, b, waves, chosen = big_account("heili")
    page_list, _ = run(b._loan_pages())
    token = next(r.renew_token for r in page_list[1][1].loans if r.key == chosen[1].key)
    post = Fault("error", path="/MyResearch/CheckedOut", method="POST", body=quote(token, safe=""))
    # The failed post's re-read fails, every try.
    reread = Fault("error", path="/MyResearch/CheckedOut", method="GET",
                   times=1 + READ_RETRIES)
    d.options.faults += [post, reread]
    results = run(b.renew(chosen))
    assert [r.renewed for r in results] == [True, False, True]
    assert "outcome is not known" in results[1].message and "libcli loans" in results[1].message
    assert post.hits == 1 and reread.hits > 3  # the post was not sent again; the re-read was tried


def test_every_page_failing_is_the_error_itself():
    from libcli.errors import Unreachable
    from libcli.sandbox.misbehave import Fault

    d, b, waves, chosen = big_account("heili")
    d.options.faults += [Fault("error", path="/MyResearch/CheckedOut", method="POST", times=None),
                         Fault("error", path="/MyResearch/CheckedOut", method="GET",
                               times=None)]
    with pytest.raises(Unreachable):
        run(b.renew(chosen))
