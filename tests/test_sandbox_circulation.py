"""The demo library's circulation rules, checked against the seeds' numbers."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from libcli.model import FeeType, HoldStatus, Material
from libcli.sandbox import circulation as circ
from libcli.sandbox.circulation import Clock, Item, Library, Patron, PickupLocation, Title, json_default
from libcli.sandbox.seed import BIG_CARD, DEMO_PATRONS, VIEWS, add_big_account, build_library
from libcli.sandbox.store import Store

TODAY = date(2025, 3, 10)


def bare(view: str) -> Library:
    """An empty library of one view with a patron, another patron and one title per material."""
    lib = Library(view, clock=Clock(TODAY), pickup_locations=[PickupLocation("a", "A"),
                                                              PickupLocation("b", "B")])
    lib.add_patron(Patron("me", "1", "Me", "me@example.org"))
    lib.add_patron(Patron("other", "2", "Other", "o@example.org"))
    for n, m in enumerate(Material):
        lib.add_title(Title(f"r{n}", f"Title {m.value}", "Author", 2020, "Book", m))
        for k in range(3):
            lib.add_item(Item(f"i{n}-{k}", f"r{n}", f"bc{n}{k}", "84.2", m, "a"))
    return lib


def rid(lib: Library, material: Material) -> str:
    return next(t.record_id for t in lib.titles.values() if t.material is material)


def lend(lib: Library, material: Material, *, card="me", due_in=10, renewals=0) -> circ.Loan:
    record = rid(lib, material)
    item = next(i for i in lib.items_of(record) if lib.item_on_loan(i.item_id) is None)
    return lib.add_loan(card, item.item_id, checkout=TODAY - timedelta(days=5),
                        due=TODAY + timedelta(days=due_in), renewals=renewals)


# --- clock ------------------------------------------------------------------


def test_clock_defaults_to_the_real_date_and_can_be_set_and_advanced():
    clock = Clock()
    assert clock.today() == date.today()
    clock.set(TODAY)
    assert clock.today() == TODAY
    clock.advance(days=3)
    assert clock.today() == TODAY + timedelta(days=3)
    clock.advance(minutes=30)
    assert clock.now() == datetime(2025, 3, 13, 12, 30)


# --- renewals ---------------------------------------------------------------


@pytest.mark.parametrize("view, material, days", [
    ("heili", Material.BOOK, 28),
    ("heili", Material.MAGAZINE, 14),
    ("heili", Material.AUDIOVISUAL, 14),
    ("tuni", Material.BOOK, 28),
    ("helmet", Material.BOOK, 28),
    ("tallinn", Material.BOOK, 21),
    ("tallinn", Material.BOUND_MAGAZINE, 21),
    ("tallinn", Material.AUDIOVISUAL, 7),
])
def test_renewing_extends_from_today_by_the_loan_period(view, material, days):
    lib = bare(view)
    loan = lend(lib, material, due_in=3)
    [result] = lib.renew("me", [loan.loan_id])
    assert result.ok and result.new_due == TODAY + timedelta(days=days)
    assert loan.renewals == 1 and loan.due_date == TODAY + timedelta(days=days)


@pytest.mark.parametrize("view, material, limit", [
    ("heili", Material.BOOK, 5),
    ("helmet", Material.BOOK, 5),
    ("tallinn", Material.BOOK, 3),
    ("tallinn", Material.BOUND_MAGAZINE, 3),
    ("tallinn", Material.AUDIOVISUAL, 3),
])
def test_renewal_limit(view, material, limit):
    lib = bare(view)
    below = lend(lib, material, renewals=limit - 1)
    at = lend(lib, material, renewals=limit)
    assert lib.renew_check("me", below.loan_id) is None
    assert lib.renew_check("me", at.loan_id) == circ.RENEW_LIMIT
    results = lib.renew("me", [below.loan_id, at.loan_id])
    assert [r.ok for r in results] == [True, False]
    assert results[1].reason == "renew_item_limit"


@pytest.mark.parametrize("view, material", [
    ("heili", Material.QUICK_LOAN),
    ("tallinn", Material.MAGAZINE),
    ("tallinn", Material.NEWSPAPER),
])
def test_never_renewable_materials(view, material):
    lib = bare(view)
    loan = lend(lib, material, renewals=0)
    [result] = lib.renew("me", [loan.loan_id])
    assert not result.ok and result.reason == "renew_item_no"
    assert loan.renewals == 0


def test_tuni_states_no_number_so_renewal_goes_on():
    lib = bare("tuni")
    loan = lend(lib, Material.BOOK, renewals=40)
    assert lib.renew_check("me", loan.loan_id) is None


def test_a_hold_by_another_patron_blocks_renewal_but_ones_own_does_not():
    lib = bare("heili")
    loan = lend(lib, Material.BOOK)
    record = lib.item_of(loan).record_id
    lib.add_hold("me", record, "a", created=TODAY)
    assert lib.renew_check("me", loan.loan_id) is None
    lib.add_hold("other", record, "a", created=TODAY)
    [result] = lib.renew("me", [loan.loan_id])
    assert result.reason == "renew_item_requested"


def test_a_served_hold_does_not_block_renewal():
    lib = bare("heili")
    loan = lend(lib, Material.BOOK)
    lib.add_hold("other", lib.item_of(loan).record_id, "a", created=TODAY,
                 status=HoldStatus.READY, ready_date=TODAY)
    assert lib.renew_check("me", loan.loan_id) is None


@pytest.mark.parametrize("view, debt, reason", [
    ("heili", 1000, None),            # "exceeds 10 euros": 10.00 is still fine
    ("heili", 1001, "renew_debt"),
    ("tuni", 1000, None),
    ("tuni", 1001, "renew_debt"),
    ("helmet", 100000, None),         # Helmet's seed states no debt limit
])
def test_debt_over_the_ban_threshold_blocks_renewal(view, debt, reason):
    lib = bare(view)
    loan = lend(lib, Material.BOOK)
    lib.add_fee("me", FeeType.OTHER, debt, created=TODAY)
    assert lib.renew_check("me", loan.loan_id) == reason


@pytest.mark.parametrize("days_late, reason", [(28, None), (29, "renew_denied")])
def test_helmet_loan_over_28_days_late_loses_the_borrowing_right(days_late, reason):
    lib = bare("helmet")
    late = lend(lib, Material.BOOK, due_in=-days_late)
    other = lend(lib, Material.BOOK, due_in=10)
    assert lib.renew_check("me", other.loan_id) == reason
    assert lib.renew_check("me", late.loan_id) == reason


def test_renewing_someone_elses_loan_is_refused():
    lib = bare("heili")
    loan = lend(lib, Material.BOOK, card="other")
    [result] = lib.renew("me", [loan.loan_id])
    assert result.reason == circ.RENEW_NOT_FOUND


# --- late fees --------------------------------------------------------------


@pytest.mark.parametrize("view, material, days_late, cents", [
    ("heili", Material.BOOK, 1, 20),
    ("heili", Material.BOOK, 10, 200),
    ("heili", Material.BOOK, 30, 600),
    ("heili", Material.BOOK, 90, 600),          # capped at 6.00 per loan
    ("heili", Material.CHILDREN, 20, 0),        # children's and youth: no fee
    ("helmet", Material.CHILDREN, 20, 0),
    ("helmet", Material.BOOK, 20, 0),           # rate not in the seed
    ("tallinn", Material.BOOK, 30, 90),         # 0.03 a day for 30 days
    ("tallinn", Material.BOOK, 31, 96),         # then 0.06
    ("tallinn", Material.BOOK, 40, 150),
    ("heili", Material.BOOK, 0, 0),
])
def test_late_fee_accrues_and_is_charged_on_return(view, material, days_late, cents):
    lib = bare(view)
    loan = lend(lib, material, due_in=-days_late)
    assert lib.accrued_fee(loan) == cents
    assert lib.return_item(loan.loan_id) == cents
    assert lib.balance_cents("me") == cents
    if cents:
        [fee] = lib.fees_of("me")
        assert fee.fee_type is FeeType.OVERDUE and fee.due_date == loan.due_date


def test_renewing_an_overdue_loan_charges_the_late_fee():
    lib = bare("heili")
    loan = lend(lib, Material.BOOK, due_in=-6)
    [result] = lib.renew("me", [loan.loan_id])
    assert result.ok and result.charged_cents == 120
    assert lib.balance_cents("me") == 120
    assert lib.accrued_fee(loan) == 0


# --- holds ------------------------------------------------------------------


def test_queue_position_and_length_follow_the_queue():
    lib = bare("helmet")
    record = rid(lib, Material.BOOK)
    for k, card in enumerate(["bg1", "bg2", "me", "bg3"]):
        lib.add_patron(Patron(card, "", card, login=False)) if card.startswith("bg") else None
        lib.add_hold(card, record, "a", created=TODAY - timedelta(days=10 - k))
    mine = next(h for h in lib.holds.values() if h.card == "me")
    assert (lib.queue_position(mine), lib.queue_length(mine)) == (3, 4)
    first = next(h for h in lib.holds.values() if h.card == "bg1")
    lib.cancel_holds("bg1", [first.hold_id])
    assert (lib.queue_position(mine), lib.queue_length(mine)) == (2, 3)


@pytest.mark.parametrize("view, days", [("tallinn", 2), ("heili", circ.DEFAULT_PICKUP_DAYS),
                                        ("helmet", circ.DEFAULT_PICKUP_DAYS)])
def test_ready_hold_pick_up_by(view, days):
    lib = bare(view)
    hold = lib.add_hold("me", rid(lib, Material.BOOK), "a", created=TODAY - timedelta(days=9),
                        status=HoldStatus.READY, ready_date=TODAY - timedelta(days=1))
    assert lib.pickup_by(hold) == TODAY - timedelta(days=1) + timedelta(days=days)


@pytest.mark.parametrize("status, ok", [(HoldStatus.WAITING, True), (HoldStatus.IN_TRANSIT, False),
                                        (HoldStatus.READY, False)])
def test_only_waiting_holds_can_be_cancelled_online(status, ok):
    lib = bare("heili")
    hold = lib.add_hold("me", rid(lib, Material.BOOK), "a", created=TODAY, status=status,
                        ready_date=TODAY if status is HoldStatus.READY else None)
    [result] = lib.cancel_holds("me", [hold.hold_id])
    assert result.ok is ok
    assert (hold.hold_id in lib.holds) is not ok
    if not ok:
        assert result.reason == "hold_cancel_not_cancellable"


def test_place_hold_and_its_refusals():
    lib = bare("heili")
    book = rid(lib, Material.BOOK)
    assert lib.place_hold("me", book, "nowhere").reason == "hold_invalid_pickup"
    outcome = lib.place_hold("me", book, "b")
    assert outcome.ok and outcome.hold.pickup == "b" and outcome.hold.status is HoldStatus.WAITING
    assert outcome.hold.expires == TODAY + timedelta(days=circ.HOLD_VALID_DAYS)
    assert lib.place_hold("me", book, "b").reason == "hold_error_already_held"
    assert lib.place_hold("me", rid(lib, Material.QUICK_LOAN), "a").reason == "hold_error_not_reservable"
    loan = lend(lib, Material.MAGAZINE)
    assert lib.place_hold("me", lib.item_of(loan).record_id, "a").reason == "hold_error_already_on_loan"


@pytest.mark.parametrize("view, limit", [("heili", 50), ("helmet", 50), ("tuni", None)])
def test_reservation_limit(view, limit):
    lib = bare(view)
    for n in range(60):
        lib.add_title(Title(f"x{n}", f"X {n}"))
    results = [lib.place_hold("me", f"x{n}", "a") for n in range(51)]
    if limit is None:
        assert all(r.ok for r in results)
    else:
        assert all(r.ok for r in results[:limit])
        assert results[limit].reason == "hold_error_limit"


def test_tallinn_takes_no_holds_online():
    lib = bare("tallinn")
    assert lib.place_hold("me", rid(lib, Material.BOOK), "a").reason == "hold_error_not_online"


def test_a_patron_without_borrowing_right_cannot_place_holds():
    lib = bare("heili")
    lib.add_fee("me", FeeType.OTHER, 1500, created=TODAY)
    assert lib.hold_check("me", rid(lib, Material.BOOK)) == "hold_error_blocked"


# --- online payment ---------------------------------------------------------


@pytest.mark.parametrize("view, cents, email, fee_type, reason", [
    ("heili", 64, True, FeeType.OVERDUE, "online_payment_minimum_fee"),
    ("heili", 65, True, FeeType.OVERDUE, None),
    ("heili", 500, False, FeeType.OVERDUE, "online_payment_email_address_required"),
    ("tuni", 299, True, FeeType.OVERDUE, "online_payment_minimum_fee"),
    ("tuni", 300, False, FeeType.OVERDUE, None),
    ("tuni", 900, True, FeeType.REPLACEMENT, "online_payment_fines_contain_nonpayable_fees"),
    ("helmet", 1, True, FeeType.OVERDUE, None),
    ("tallinn", 500, True, FeeType.OVERDUE, "online_payment_not_supported"),
    ("heili", 0, True, None, "online_payment_minimum_fee"),
])
def test_payability(view, cents, email, fee_type, reason):
    lib = bare(view)
    if not email:
        lib.patrons["me"].email = None
    if fee_type:
        lib.add_fee("me", fee_type, cents, created=TODAY)
    assert lib.payment_check("me") == reason


def test_tuni_replacement_fee_blocks_payment_of_everything():
    lib = bare("tuni")
    lib.add_fee("me", FeeType.OVERDUE, 800, created=TODAY)
    assert lib.payment_check("me") is None
    lib.add_fee("me", FeeType.REPLACEMENT, 100, created=TODAY)
    outcome = lib.start_payment("me")
    assert not outcome.ok and outcome.reason == "online_payment_fines_contain_nonpayable_fees"


def test_payment_whole_balance_in_progress_then_registered():
    lib = bare("heili")
    lib.add_fee("me", FeeType.OVERDUE, 240, created=TODAY)
    lib.add_fee("me", FeeType.UNCOLLECTED_HOLD, 150, created=TODAY)
    assert lib.start_payment("me", expected_cents=100).reason == "online_payment_fines_changed"
    outcome = lib.start_payment("me", expected_cents=390)
    assert outcome.ok and outcome.payment.amount_cents == 390
    assert lib.payment_check("me") == "online_payment_in_progress"
    assert lib.start_payment("me").reason == "online_payment_in_progress"
    done = lib.finish_payment(outcome.payment.payment_id, paid=True)
    assert done.ok and done.payment.status == "registered"
    assert lib.balance_cents("me") == 0
    # Registering twice changes nothing.
    assert lib.finish_payment(outcome.payment.payment_id, paid=True).ok


def test_cancelled_payment_leaves_the_fees_and_an_abandoned_one_expires():
    lib = bare("heili")
    lib.add_fee("me", FeeType.OVERDUE, 240, created=TODAY)
    first = lib.start_payment("me").payment
    lib.finish_payment(first.payment_id, paid=False)
    assert first.status == "cancelled" and lib.balance_cents("me") == 240
    lib.start_payment("me")
    assert lib.open_payment("me") is not None
    lib.clock.advance(minutes=circ.PAYMENT_MAX_MINUTES + 1)
    assert lib.open_payment("me") is None
    assert lib.payment_check("me") is None


# --- seed and persistence ---------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
def test_seeded_main_patron_shows_every_state(view):
    lib = build_library(view, Clock(TODAY))
    main = next(p for p in DEMO_PATRONS if p.view == view)
    assert lib.authenticate(main.card, main.pin).name == main.name
    assert lib.authenticate(main.card, "wrong") is None
    loans = lib.loans_of(main.card)
    statuses = {lib.due_status(l).value for l in loans}
    assert statuses == {"ok", "due_soon", "overdue"}
    reasons = {lib.renew_check(main.card, l.loan_id) for l in loans}
    assert "renew_item_requested" in reasons and None in reasons
    if view != "tuni":
        assert "renew_item_limit" in reasons
        children = [l for l in loans if lib.item_of(l).material is Material.CHILDREN]
        if view in ("heili", "helmet"):
            assert children and lib.due_status(children[0]).value == "overdue"
            assert lib.accrued_fee(children[0]) == 0
    if view == "heili":
        assert any(lib.item_of(l).material is Material.QUICK_LOAN for l in loans)
    if view == "tallinn":
        assert "renew_item_no" in reasons
        assert any(lib.item_of(l).material is Material.MAGAZINE and l.renewals == 0 for l in loans)
    holds = lib.holds_of(main.card)
    assert {h.status for h in holds} == set(HoldStatus)
    waiting = [h for h in holds if h.status is HoldStatus.WAITING]
    assert any(lib.queue_position(h) > 1 for h in waiting)
    assert all(lib.pickup_by(h) for h in holds if h.status is HoldStatus.READY)
    assert len(lib.titles) >= 30
    assert len(lib.pickup_locations) >= 3


def test_seeded_payment_cases():
    by_card = {}
    for view in ("heili", "tuni"):
        lib = build_library(view, Clock(TODAY))
        for p in DEMO_PATRONS:
            if p.view == view:
                by_card[p.card] = lib.payment_check(p.card)
    assert by_card == {
        "10000001": None,
        "10000002": "online_payment_minimum_fee",
        "10000003": "online_payment_email_address_required",
        "20000001": "online_payment_fines_contain_nonpayable_fees",
        "20000002": None,
        "20000003": "online_payment_minimum_fee",
    }


def test_seeded_helmet_patron_with_a_long_overdue_loan_cannot_renew():
    lib = build_library("helmet", Clock(TODAY))
    assert lib.borrowing_block("2100000002") == "renew_denied"


def test_seed_is_reproducible_and_the_seed_varies_only_the_extras():
    a = build_library("helmet", Clock(TODAY), seed=1).to_dict()
    b = build_library("helmet", Clock(TODAY), seed=1).to_dict()
    c = build_library("helmet", Clock(TODAY), seed=2).to_dict()
    assert a == b
    assert a != c
    main = "2100000001"
    assert [l for l in a["loans"] if l["card"] == main] == [l for l in c["loans"] if l["card"] == main]


@pytest.mark.parametrize("n", [30, 100])
def test_big_accounts(n):
    lib = build_library("helmet", Clock(TODAY), big_loans=n)
    assert len(lib.loans_of(BIG_CARD)) == n
    lib2 = build_library("heili", Clock(TODAY))
    add_big_account(lib2, n)
    assert len(lib2.loans_of(BIG_CARD)) == n
    assert len({l.item_id for l in lib2.loans.values()}) == len(lib2.loans)  # no item lent twice


def test_library_round_trips_through_json_and_the_store(tmp_path):
    lib = build_library("heili", Clock(TODAY))
    lib.start_payment("10000001")
    data = json.loads(json.dumps(lib.to_dict(), default=json_default))
    again = Library.from_dict(data, clock=Clock(TODAY))
    assert again.to_dict() == lib.to_dict()
    store = Store(tmp_path / "state.sqlite")
    store.save_library(lib)
    loaded = Store(tmp_path / "state.sqlite").load_library("heili", Clock(TODAY))
    assert loaded.to_dict() == lib.to_dict()
    assert loaded.new_id() == lib.new_id()  # the id counter survives too
    assert Store(None).load("heili") is None


def test_a_saved_demo_stays_fresh_while_nobody_uses_it(tmp_path):
    from libcli.sandbox.app import load_or_seed

    store = Store(tmp_path / "state.sqlite")
    lib = load_or_seed("heili", store, clock=Clock(TODAY))
    loan = lib.loans_of("10000001")[-1]
    lib.renew("10000001", [loan.loan_id])
    store.save_library(lib)
    later = load_or_seed("heili", store, clock=Clock(TODAY + timedelta(days=40)))
    again = later.loans[loan.loan_id]
    assert again.renewals == loan.renewals  # the renewal is kept
    assert again.due_date == loan.due_date + timedelta(days=40)
    statuses = {later.due_status(l).value for l in later.loans_of("10000001")}
    assert statuses == {"ok", "due_soon", "overdue"}
    unchanged = load_or_seed("heili", store, clock=Clock(TODAY + timedelta(days=40)), keep_fresh=False)
    assert unchanged.loans[loan.loan_id].due_date == again.due_date
