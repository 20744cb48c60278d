"""The consortia's rules, checked against the numbers in their own seeds."""

from datetime import date, timedelta

import pytest

from libcli.model import DueStatus, FeeType, Material, Money
from libcli.policy import (borrowing_warnings, consortia, due_status, estimated_late_fee,
                           load_registry, payability, predicted_renewal)

TODAY = date(2026, 11, 23)


def policy(cid):
    return consortia()[cid].policy


def test_registry_lists_the_four_consortia_with_their_minimums():
    c = {cid: k for cid, k in consortia().items() if k.source == "builtin"}
    assert set(c) == {"heili", "tuni", "helmet", "tallinn"}
    assert c["heili"].to_dict()["online_payment_minimum_cents"] == 65
    assert c["tuni"].to_dict()["online_payment_minimum_cents"] == 300
    assert c["tallinn"].to_dict()["online_payment_minimum_cents"] is None
    assert {k: v.backend for k, v in c.items() if k != "tuni"} == {
        "heili": "finna", "helmet": "finna", "tallinn": "webpac"}


@pytest.mark.parametrize("cid,days_left,expected", [
    ("heili", 4, DueStatus.OK), ("heili", 3, DueStatus.DUE_SOON),   # notice 3 days before
    ("heili", 0, DueStatus.DUE_SOON), ("heili", -1, DueStatus.OVERDUE),
    ("helmet", 3, DueStatus.OK), ("helmet", 2, DueStatus.DUE_SOON),  # reminder 2 days before
])
def test_due_status_follows_each_notice_period(cid, days_left, expected):
    assert due_status(policy(cid), TODAY + timedelta(days=days_left), TODAY) is expected


@pytest.mark.parametrize("cid,material,days_late,cents", [
    ("heili", Material.BOOK, 0, 0),
    ("heili", Material.BOOK, 1, 20),            # EUR 0,20 per day
    ("heili", Material.BOOK, 10, 200),
    ("heili", Material.BOOK, 30, 600),          # capped at EUR 6,00 per loan
    ("heili", Material.BOOK, 365, 600),
    ("heili", Material.CHILDREN, 40, 0),        # children's and youth material exempt
    ("tallinn", Material.BOOK, 1, 3),           # 0.03 per day for the first 30 days
    ("tallinn", Material.BOOK, 30, 90),
    ("tallinn", Material.BOOK, 31, 96),         # then 0.06 per day
    ("tallinn", Material.BOOK, 40, 150),
    ("helmet", Material.CHILDREN, 10, 0),       # no late fee for children's material
])
def test_estimated_late_fee(cid, material, days_late, cents):
    fee = estimated_late_fee(policy(cid), material, TODAY - timedelta(days=days_late), TODAY)
    assert fee == Money(cents)


def test_no_estimate_where_the_seed_gives_no_rate():
    assert estimated_late_fee(policy("helmet"), Material.BOOK, TODAY - timedelta(days=5), TODAY) is None
    assert estimated_late_fee(policy("tuni"), Material.BOOK, TODAY - timedelta(days=5), TODAY) is None


@pytest.mark.parametrize("cid,cents,types,email,payable,reason", [
    ("heili", 64, [], True, False, "below_minimum"),
    ("heili", 65, [], True, True, None),
    ("heili", 500, [], False, False, "email_required"),
    ("tuni", 299, [], None, False, "below_minimum"),
    ("tuni", 300, [], None, True, None),
    ("tuni", 5000, [FeeType.OVERDUE, FeeType.REPLACEMENT], None, False, "nonpayable_fee"),
    ("tallinn", 5000, [], None, False, "no_online_payment"),
    ("heili", 0, [], True, False, "nothing_to_pay"),
])
def test_payability(cid, cents, types, email, payable, reason):
    verdict = payability(policy(cid), Money(cents), types, email_on_file=email)
    assert (verdict.payable, verdict.reason) == (payable, reason)
    if not payable:
        assert verdict.message


def test_the_sites_stated_minimum_wins():
    verdict = payability(policy("helmet"), Money(100), site_minimum=Money(150))
    assert verdict.reason == "below_minimum"


@pytest.mark.parametrize("cid,debt,late,blocked", [
    ("heili", 1000, [], False),   # "exceeds 10 euros": exactly 10 is still allowed
    ("heili", 1001, [], True),
    ("tuni", 1050, [], True),
    ("helmet", 0, [28], False),   # "over 28 days late"
    ("helmet", 0, [29], True),
])
def test_borrowing_ban(cid, debt, late, blocked):
    warnings = borrowing_warnings(policy(cid), Money(debt), TODAY, days_late=late)
    assert any(w.startswith("borrowing is blocked") for w in warnings) is blocked


def test_heili_warns_of_old_debt_after_new_year():
    warnings = borrowing_warnings(policy("heili"), Money(300), TODAY, debt_from_earlier_year=True)
    assert any("earlier year" in w for w in warnings)


@pytest.mark.parametrize("cid,material,used,reserved,ok", [
    ("heili", Material.BOOK, 4, False, True),
    ("heili", Material.BOOK, 5, False, False),      # five renewals
    ("heili", Material.BOOK, 0, True, False),       # unless reserved
    ("heili", Material.QUICK_LOAN, 0, False, False),  # quick loans never
    ("tallinn", Material.BOOK, 3, False, False),    # three renewals
    ("tallinn", Material.MAGAZINE, 0, False, False),
    ("tallinn", Material.NEWSPAPER, 0, False, False),
    ("tallinn", Material.AUDIOVISUAL, 2, False, True),
    ("helmet", Material.BOOK, 5, False, False),
])
def test_predicted_renewal(cid, material, used, reserved, ok):
    allowed, reason = predicted_renewal(policy(cid), material, used, reserved)
    assert allowed is ok
    assert (reason is None) is ok


def test_loan_periods_and_limits_from_the_seeds():
    t, h, he = policy("tallinn"), policy("heili"), policy("helmet")
    assert t.loan_days_for(Material.BOOK) == 21 and t.loan_days_for(Material.MAGAZINE) == 14
    assert t.loan_days_for(Material.AUDIOVISUAL) == 7 and t.loan_days_for(Material.NEWSPAPER) == 7
    assert t.max_loans == 30 and t.max_audiovisual == 15 and t.pickup_days == 2
    assert h.loan_days_for(Material.QUICK_LOAN) == 14 and h.max_holds == 50
    assert h.uncollected_hold_fee_cents == 150 and policy("tuni").uncollected_hold_fee_cents == 100
    assert he.max_loans == 100 and he.max_holds == 50
    assert t.bank_transfer.reference == "5226050050050224"
    assert [a.bic for a in t.bank_transfer.accounts] == ["EEUHEE2X", "HABAEE2X", "NDEAEE2X", "FOREEE2X"]


def test_a_fifth_finna_consortium_is_only_a_registry_entry():
    registry = load_registry('''
[anders]
name = "Anders libraries"
backend = "finna"
url = "https://anders.finna.fi"
building = "0/Anders/"
renewal_limit = 3
[anders.online_payment]
minimum_cents = 100
''')
    anders = registry["anders"]
    assert anders.to_dict()["online_payment_minimum_cents"] == 100
    assert predicted_renewal(anders.policy, Material.BOOK, 3, False)[0] is False
    from libcli.backends.base import BACKENDS

    assert anders.backend in BACKENDS


def test_money_is_never_a_float():
    with pytest.raises(TypeError):
        Money(1.5)
