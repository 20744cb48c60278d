"""The Finna backend against the demo library: every operation, for heili
and helmet, in fi / sv / en-gb and both markup variants, plus a subset of
the driver and login-order variants (in-process through ASGITransport),
plus a few runs over a real socket. (tuni is on Primo VE.)"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import re
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.finna_sandbox import (
    EVERY_VARIANT, LANGS, SOME_VARIANTS, TODAY, VARIANTS, VIEWS, demo, driver_of, variant_args,
)
from libcli import http
from libcli.backends import finna_pages as pages
from libcli.backends.finna import FinnaBackend
from libcli.errors import LoginRefused, Refused, UsageError
from libcli.model import Card, DueStatus, HoldStatus
from libcli.policy import consortia
from libcli.sandbox.seed import BIG_CARD, BIG_PIN, DEMO_PATRONS

ALL = list(itertools.product(VIEWS, LANGS, VARIANTS)) + list(SOME_VARIANTS)
IDS = [f"{v}-{l}-{m}" for v, l, m in ALL]


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0)


# --- reading --------------------------------------------------------------------


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_loans_match_the_library(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    b = d.backend()
    loans = run(b.loans())
    assert b.requests == 3  # cold: protected page gives the form, login post, follow-up
    assert b._pin.calls == 1
    lib = d.library
    card = d.main_card()
    expected = {lib.item_of(l).item_id: l for l in lib.loans_of(card)}
    assert len(loans) == len(expected)
    for loan in loans:
        item = loan.key.rsplit("|", 1)[-1]
        source = expected.get(item) or next(l for l in expected.values()
                                            if lib.item_of(l).barcode == item)
        title = lib.title_of(source)
        assert loan.title == title.title and loan.record_id == title.record_id
        assert loan.due_date == source.due_date
        assert loan.author == title.author
        assert loan.barcode == lib.item_of(source).barcode
        assert loan.status == ("overdue" if source.due_date < TODAY else loan.status)
    # The policy fills status and the fee estimate.
    overdue = [l for l in loans if l.status is DueStatus.OVERDUE]
    assert overdue and all(l.estimated_fee is not None or view != "heili" for l in overdue)
    if driver_of(view, variant) == "sierra":  # SierraRest: every loan has a checkbox
        assert all(raw.renew_token for raw in b._loans_read[1])
    else:
        assert any(not l.renewable and l.not_renewable_reason for l in loans)

    # Warm: one request, no PIN; the keys (and so the short IDs) are stable.
    again = run(b.loans())
    assert b.requests == 4 and b._pin.calls == 1
    assert [l.id for l in again] == [l.id for l in loans]


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_holds_match_the_library(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    holds = run(d.backend().holds())
    lib = d.library
    source = {h.record_id: h for h in lib.holds_of(d.main_card())}
    assert len(holds) == len(source)
    for hold in holds:
        s = source[hold.record_id]
        assert hold.status == s.status
        assert hold.created == s.created and hold.expires == s.expires
        assert hold.pickup_location == lib.pickup_location(s.pickup).name
        if s.status is HoldStatus.WAITING:
            # What each driver prints where the position stands: SierraRest
            # "N / M", KohaRestSuomi "N", Alma "N" or hold_in_process for the first.
            position, length = lib.queue_position(s), lib.queue_length(s)
            expected = {"sierra": (position, length), "koha": (position, None),
                        "alma": (None if position == 1 else position, None)}
            assert (hold.queue_position, hold.queue_length) == \
                expected[driver_of(view, variant)]
            assert hold.cancellable
        if s.status is HoldStatus.READY:
            assert hold.pickup_by == lib.pickup_by(s) and not hold.cancellable
    assert {h.status for h in holds} == {HoldStatus.WAITING, HoldStatus.IN_TRANSIT, HoldStatus.READY}


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_fees_match_the_library(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    balance = run(d.backend().fees())
    lib = d.library
    card = d.main_card()
    assert balance.total.cents == lib.balance_cents(card)
    assert sorted(f.amount.cents for f in balance.items) == sorted(
        f.amount_cents for f in lib.fees_of(card))
    assert sorted(f.fee_type for f in balance.items) == sorted(f.fee_type for f in lib.fees_of(card))
    assert balance.online_payment_offered
    assert balance.minimum_online is not None
    assert not balance.payment_in_progress


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_search(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    results = run(d.backend().search("Kalevala", limit=5))
    assert results and results[0].title == "Kalevala"
    assert results[0].record_id.startswith(view + ".")
    assert results[0].year == "1849" and results[0].authors == ("Lönnrot, Elias",)


def test_language_parameter_is_sent_once_and_the_site_answers_in_it():
    d = demo("helmet", language="fi")
    b = d.backend(language="sv")
    loans = run(b.loans())
    assert loans
    assert b.client.cookies.get("language") == "sv"


# --- renewing --------------------------------------------------------------------


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_renew_selected(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    b = d.backend()
    loans = run(b.loans())
    ok = next(l for l in loans if l.title == "Tuntematon sotilas")
    reserved = next(l for l in loans if l.title == "Sinuhe egyptiläinen")
    before = b.requests
    results = run(b.renew([reserved, ok]))
    assert b.requests - before == 1  # one POST, with the renew form the read found
    assert [r.loan_id for r in results] == [reserved.id, ok.id]
    assert results[1].renewed and results[1].new_due_date > ok.due_date
    lib_loan = next(l for l in d.library.loans_of(d.main_card())
                    if d.library.title_of(l).title == "Tuntematon sotilas")
    assert results[1].new_due_date == lib_loan.due_date and lib_loan.renewals == 1
    assert not results[0].renewed and results[0].message
    if view == "helmet":  # SierraRest refuses only after the post, in the site's words
        assert re.search(r"reserv|varattu|requested|kund", results[0].message, re.I)
    after = run(b.loans())
    assert {l.id for l in after} == {l.id for l in loans}  # IDs survive a renewal


@pytest.mark.parametrize("view", VIEWS)
def test_renew_every_loan(view):
    d = demo(view)
    b = d.backend()
    loans = run(b.loans())
    results = run(b.renew(loans))
    assert [r.loan_id for r in results] == [l.id for l in loans]
    renewed = {r.title for r in results if r.renewed}
    assert "Tuntematon sotilas" in renewed and "Sinuhe egyptiläinen" not in renewed
    assert all(r.message for r in results if not r.renewed)


def recorded(b: FinnaBackend) -> list[tuple[str, str | None]]:
    """The method and the loans page number (``page=``; None: the first) of
    every request the backend sends."""
    sent: list[tuple[str, str | None]] = []
    send = b.site.send

    async def recording(method, url, **kw):
        page = await send(method, url, **kw)
        query = dict(httpx.URL(url).params) | dict(kw.get("params") or [])
        sent.append((method, query.get("page")))
        return page

    b.site.send = recording
    return sent


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("variant", EVERY_VARIANT)
def test_reading_loans_and_renewing_one_is_one_read_and_one_post(view, variant):
    d = demo(view, variant=variant)
    b = d.backend()
    run(b.login())
    b.requests = 0
    sent = recorded(b)
    ok = next(l for l in run(b.loans()) if l.title == "Tuntematon sotilas")
    [result] = run(b.renew([ok]))
    assert result.renewed and result.new_due_date > ok.due_date
    assert b.requests == 2 and [m for m, _ in sent] == ["GET", "POST"]


def test_a_renewal_asked_before_any_read_reads_the_page_once_and_a_second_reads_again():
    d = demo("heili")
    b = d.backend()
    first, second = [l for l in run(b.loans()) if l.renewable][:2]
    b2 = d.backend(cookies=b.client.cookies)  # the same session, nothing read in this run
    b2.requests = 0
    assert run(b2.renew([first]))[0].renewed and b2.requests == 2  # the page, the post
    b2.requests = 0
    assert run(b2.renew([second]))[0].renewed and b2.requests == 2  # the forms were spent


@pytest.mark.parametrize("view", VIEWS)
def test_a_loan_on_the_second_page_is_renewed_by_that_pages_form(view):
    d = demo(view, big_loans=120)
    d.library.holds = {k: h for k, h in d.library.holds.items() if h.card == BIG_CARD}
    b = d.backend()
    b.card = Card(name="big", library=view, number=BIG_CARD)
    b._pin.value = BIG_PIN
    run(b.login())
    b.requests = 0
    sent = recorded(b)
    loans = run(b.loans())
    page_list, _ = b._loans_read
    on_second = next(r.key for r in page_list[1][1].loans if r.renew_token)
    reads = b.requests
    [result] = run(b.renew([next(l for l in loans if l.key == on_second)]))
    assert result.renewed
    assert sent[:reads] == [("GET", None), ("GET", "2"), ("GET", "3")]
    # One post, to the page the loan is on; the renewed loan moved later in the
    # due-date order, off the page that answered, so the pages are read again.
    assert sent[reads:] == [("POST", "2"), ("GET", None), ("GET", "2"), ("GET", "3")]


def test_renew_a_loan_that_was_returned_meanwhile():
    d = demo("heili")
    b = d.backend()
    loans = run(b.loans())
    gone = next(l for l in loans if l.title == "Tuntematon sotilas")
    d.library.return_item(next(l.loan_id for l in d.library.loans_of(d.main_card())
                               if d.library.title_of(l).title == "Tuntematon sotilas"))
    [result] = run(b.renew([gone]))
    assert not result.renewed and "no longer" in result.message


def test_renew_after_the_session_expired_logs_in_once_transparently():
    d = demo("heili", language="en-gb")
    b = d.backend()
    loans = run(b.loans())  # an earlier run; its session then expires
    d.expire_sessions()
    ok = next(l for l in loans if l.title == "Tuntematon sotilas")
    later = d.backend(cookies=b.client.cookies, language="en-gb")
    [result] = run(later.renew([ok]))  # reads the page first: the login happens there
    assert result.renewed and later._pin.calls == 1


def test_a_session_expiring_between_the_runs_read_and_its_post_renews_nothing():
    d = demo("heili", language="en-gb")
    b = d.backend()
    ok = next(l for l in run(b.loans()) if l.title == "Tuntematon sotilas")
    d.expire_sessions()
    [result] = run(b.renew([ok]))  # the post meets the login page: never sent again
    assert not result.renewed and "session expired" in result.message and b._pin.calls == 2
    assert next(l for l in d.library.loans_of(d.main_card())
                if d.library.title_of(l).title == "Tuntematon sotilas").renewals == 0


def test_many_loans_over_several_pages():
    for view in ("heili", "helmet"):
        d = demo(view, big_loans=120)
        b = d.backend(card=None)
        b.card = Card(name="big", library=view, number=BIG_CARD)
        b._pin.value = BIG_PIN
        loans = run(b.loans())
        assert len(loans) == 120
        assert len({l.id for l in loans}) == 120
        assert b.requests == 3 + 2  # cold login + pages 2 and 3
        last = loans[-1]
        [result] = run(b.renew([last]))
        assert result.renewed, result.message


# --- holds: cancel and place --------------------------------------------------------


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_cancel_holds(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    b = d.backend()
    holds = run(b.holds())
    waiting = next(h for h in holds if h.status is HoldStatus.WAITING)
    ready = next(h for h in holds if h.status is HoldStatus.READY)
    transit = next(h for h in holds if h.status is HoldStatus.IN_TRANSIT)
    before = b.requests
    results = run(b.cancel_holds([ready, waiting, transit]))
    assert b.requests - before == 1  # one post: the list read above showed the IDs
    assert [r.hold_id for r in results] == [ready.id, waiting.id, transit.id]
    assert [r.cancelled for r in results] == [False, True, False]
    assert "contact the pickup library" in results[0].message
    assert waiting.record_id not in {h.record_id for h in d.library.holds_of(d.main_card())}
    assert len(run(b.holds())) == len(holds) - 1


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_place_hold(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    b = d.backend()
    record = next(t.record_id for t in d.library.titles.values() if t.title == "Kalevipoeg")
    locations = run(b.pickup_locations(record))
    assert [l.code for l in locations] == [p.code for p in d.library.pickup_locations]
    assert sum(l.default for l in locations) <= 1
    target = locations[-1]
    result = run(b.place_hold(record, target.name[:6].upper()))
    assert result.placed, result.message
    assert result.pickup_location == target.name
    held = [h for h in d.library.holds_of(d.main_card()) if h.record_id == record]
    assert len(held) == 1 and held[0].pickup == target.code
    # A second hold on the same title is refused by the library, in its words.
    again = run(b.place_hold(record, target.code))
    assert not again.placed and again.message


def test_place_hold_cold_session_is_logged_in_first():
    d = demo("heili")
    b = d.backend()
    record = next(t.record_id for t in d.library.titles.values() if t.title == "Kalevipoeg")
    result = run(b.place_hold(record, "ima"))
    assert result.placed and b._pin.calls == 1


def test_place_hold_unknown_pickup_lists_the_choices():
    d = demo("helmet")
    b = d.backend()
    record = next(t.record_id for t in d.library.titles.values() if t.title == "Kalevipoeg")
    with pytest.raises(UsageError) as err:
        run(b.place_hold(record, "Nowhere"))
    assert "Oodi" in str(err.value) and err.value.exit_code == 2
    with pytest.raises(UsageError, match="several"):
        run(b.place_hold(record, "e"))  # e10 Sello, e23 Entresse


def test_place_hold_on_a_quick_loan_is_refused():
    d = demo("heili")
    b = d.backend()
    record = next(t.record_id for t in d.library.titles.values() if t.title == "Nälkävuosi")
    result = run(b.place_hold(record, "lpr"))
    assert not result.placed and "no hold" in result.message
    with pytest.raises(Refused):
        run(b.pickup_locations(record))


# --- payment ------------------------------------------------------------------------


@pytest.mark.parametrize("view, lang, variant", ALL, ids=IDS)
def test_start_payment_and_its_registration(view, lang, variant):
    d = demo(view, language=lang, variant=variant)
    b = d.backend()
    balance = run(b.fees())
    before = b.requests
    start = run(b.start_payment(balance))
    assert b.requests - before == 3  # fresh fines page, pay (terms), pay-confirm (302)
    assert start.amount == balance.total
    assert start.url.startswith(f"{d_base()}/PaymentProvider/checkout?")
    # While it is open, no second payment.
    assert run(b.fees()).payment_in_progress
    with pytest.raises(Refused, match="in progress"):
        run(b.start_payment(balance))

    # The patron pays at the provider; the return page says it was registered.
    async def pay():
        provider = await b.client.get(start.url)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', provider.text))
        fields["action"] = "pay"
        back = await b.client.post("/PaymentProvider/checkout", data=fields)
        return await http.request(b.client, "GET", back.headers["location"])

    returned = run(pay())
    fp = pages.parse_fines(returned.text)
    assert fp.payment_registered and fp.total_cents == 0
    assert run(b.fees()).total.cents == 0


def d_base() -> str:
    from tests.finna_sandbox import BASE

    return BASE


def test_payment_refused_below_the_minimum_and_without_e_mail():
    d = demo("heili", language="en-gb")
    small = run(d.backend(card="10000002").fees())
    assert small.total.cents == 40 and not small.online_payment_offered
    assert small.minimum_online.cents == 65
    no_mail = run(d.backend(card="10000003").fees())
    assert not no_mail.online_payment_offered and no_mail.email_on_file is False


def test_payment_refused_when_the_amount_changed():
    d = demo("helmet")
    b = d.backend()
    balance = run(b.fees())
    from libcli.model import FeeType

    d.library.add_fee(d.main_card(), FeeType.OVERDUE, 20, created=TODAY)
    with pytest.raises(Refused, match="amount changed"):
        run(b.start_payment(balance))


# --- login and sessions -------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_wrong_pin_is_login_refused_with_the_sites_words(lang):
    d = demo("heili", language=lang)
    b = d.backend(pin="0000")
    with pytest.raises(LoginRefused) as err:
        run(b.loans())
    words = {"fi": "ei täsmää", "sv": "stämmer inte", "en-gb": "Invalid login"}[lang]
    assert words in str(err.value) and "0000" not in str(err.value)
    assert err.value.exit_code == 4


def test_expired_session_logs_in_again_once_and_retries_the_read():
    d = demo("helmet")
    b = d.backend()
    run(b.holds())
    d.expire_sessions()
    before = b.requests
    assert run(b.fees()).total.cents > 0
    assert b.requests - before == 3 and b._pin.calls == 2


def test_saved_session_cookies_are_reused_without_the_pin():
    d = demo("heili")
    first = d.backend()
    run(first.loans())
    second = d.backend(cookies=first.client.cookies)
    run(second.loans())
    assert second.requests == 1 and second._pin.calls == 0
    assert "1234" not in repr(second.session) and "1234" not in str(second.session)


def test_explicit_login():
    d = demo("heili")
    b = d.backend()
    run(b.login())
    assert b.requests == 2 and b._pin.calls == 1  # the form, the post (200, no follow-up)
    run(b.login())  # already logged in: UserLogin redirects home
    assert b._pin.calls == 1


def test_a_refused_csrf_token_is_retried_once_with_the_fresh_form():
    d = demo("heili", refuse_csrf_once=True)
    b = d.backend()
    assert run(b.loans())
    assert b._pin.calls == 2 and b.requests == 4


def test_place_hold_request_counts():
    d = demo("helmet")
    b = d.backend()
    run(b.holds())
    record = next(t.record_id for t in d.library.titles.values() if t.title == "Kalevipoeg")
    before = b.requests
    assert len(run(b.pickup_locations(record))) == 7
    assert b.requests - before == 2  # holdings tab, hold form
    before = b.requests
    assert run(b.place_hold(record, "Oodi")).placed
    assert b.requests - before == 4  # holdings tab, hold form, post, redirect to the record


# --- over a real socket ----------------------------------------------------------------


@pytest.fixture
def server(request, tmp_path):
    view, variant, lang = request.param
    errors = open(tmp_path / "server.err", "w+")  # a file: a full pipe would stall the server
    request.addfinalizer(errors.close)
    proc = subprocess.Popen(
        [sys.executable, "-m", "libcli.sandbox", "--port", "0", "--view", view,
         *variant_args(variant), "--language", lang],
        stdout=subprocess.PIPE, stderr=errors, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = None
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put("")],
                         daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not line:
                break
            m = re.match(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            proc.kill()
            errors.seek(0)
            pytest.fail("the demo library did not start: " + errors.read())
        yield view, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def socket_backend(view: str, url: str) -> FinnaBackend:
    patron = next(p for p in DEMO_PATRONS if p.view == view)
    client = http.make_client(url)
    return FinnaBackend(Card("s", view, patron.card), consortia()[view], client=client,
                        pin=lambda: patron.pin, session={})


@pytest.mark.socket
@pytest.mark.parametrize("server", [("heili", "2024", "fi"), ("heili", "bs5", "en-gb"),
                                    ("helmet", "bs5", "sv"), ("heili", "bs5+alma", "fi")],
                         indirect=True,
                         ids=["heili-2024-fi", "heili-bs5-en", "helmet-bs5-sv", "heili-bs5+alma-fi"])
def test_every_operation_over_a_real_socket(server):
    view, url = server

    async def scenario():
        b = socket_backend(view, url)
        try:
            loans = await b.loans()
            assert loans and b.requests == 3
            holds = await b.holds()
            renewable = [l for l in loans if l.renewable][:1]
            results = await b.renew(renewable)
            assert len(results) == len(renewable)
            waiting = [h for h in holds if h.status is HoldStatus.WAITING][:1]
            cancelled = await b.cancel_holds(waiting)
            assert [c.cancelled for c in cancelled] == [True] * len(waiting)
            found = await b.search("Kalevipoeg")
            placed = await b.place_hold(found[0].record_id, None)
            assert placed.placed, placed.message
            balance = await b.fees()  # after renewing: an overdue renewal may add a fee
            if balance.online_payment_offered:
                start = await b.start_payment(balance)
                assert start.url.startswith(url + "/PaymentProvider/checkout")
        finally:
            await b.client.aclose()

    run(scenario())


# --- a misbehaving library ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_a_flaky_library_gives_right_answers_or_unreachable(seed):
    """500s and dropped connections: reads are retried; a post is sent once,
    and whatever the backend reports matches what the library did."""
    from libcli.errors import Unreachable

    d = demo("heili", error_rate=0.25, drop_rate=0.1, seed=seed)
    b = d.backend()
    lib = d.library
    card = d.main_card()
    try:
        loans = run(b.loans())
    except Unreachable:
        return
    assert len(loans) == len(lib.loans_of(card))
    target = next(l for l in loans if l.title == "Tuntematon sotilas")
    source = next(l for l in lib.loans_of(card) if lib.title_of(l).title == target.title)
    try:
        [result] = run(b.renew([target]))
    except Unreachable as exc:
        assert "unknown" in str(exc) or "did not answer" in str(exc)
        return
    assert result.renewed == (source.renewals == 1)
    if result.renewed:
        assert result.new_due_date == source.due_date


def test_ids_do_not_depend_on_the_language_or_the_markup_variant():
    seen = set()
    for lang, variant in itertools.product(LANGS, VARIANTS):
        d = demo("helmet", language=lang, variant=variant)
        b = d.backend()
        seen.add((tuple(l.id for l in run(b.loans())), tuple(h.id for h in run(b.holds()))))
    assert len(seen) == 1


def test_the_pin_never_reaches_the_log(caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    d = demo("heili")
    b = d.backend(pin="7319-never-logged")
    d.library.patrons[d.main_card()].pin = "7319-never-logged"
    run(b.loans())
    d.expire_sessions()
    run(b.fees())
    assert b._pin.calls == 2
    assert "7319-never-logged" not in caplog.text
