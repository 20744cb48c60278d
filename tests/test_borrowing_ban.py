"""A blocked borrower is not told to renew: the seeds' ban rules reach each
loan's renewability, with the reason (Heili: debt over 10 EUR, or old debt
after the new year; Helmet: a loan over 28 days late, or the debt limit;
TUNI: fines over 10 EUR)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from libcli.cli import cli
from libcli.model import DueStatus, Fee, Loan, Money
from libcli.policy import borrowing_block, consortia, debt_from_earlier_year
from libcli.sandbox.seed import DEMO_PATRONS
from tests.helpers.live_server import LiveServer

TODAY = date(2026, 3, 10)


def policy(cid):
    return consortia()[cid].policy


@pytest.mark.parametrize("cid, kwargs, blocked", [
    ("heili", {"debt": Money(1001)}, True),
    ("heili", {"debt": Money(1000)}, False),
    ("heili", {"debt": Money(100), "debt_from_earlier_year": True}, True),
    ("helmet", {"days_late": [29]}, True),
    ("helmet", {"days_late": [28]}, False),
    ("helmet", {"debt": None, "days_late": [3]}, False),
    ("tuni", {"debt": Money(1001)}, True),
    ("tallinn", {"debt": Money(5000), "days_late": [60]}, False),  # no ban rule in its seed
])
def test_the_seeds_ban_rules(cid, kwargs, blocked):
    reason = borrowing_block(policy(cid), **kwargs)
    assert (reason is not None) is blocked
    if blocked:
        assert reason.startswith("borrowing is blocked")


def test_old_debt_is_a_fee_dated_before_this_year():
    class Balance:
        items = (Fee(Money(50), created=date(2025, 12, 30)),)

    assert debt_from_earlier_year(Balance(), TODAY)
    Balance.items = (Fee(Money(50), created=date(2026, 1, 2)),)
    assert not debt_from_earlier_year(Balance(), TODAY)


def test_with_status_takes_renewability_away_with_the_reason():
    from libcli.account import with_status

    loans = [Loan("c", "1", "Late", TODAY - timedelta(days=35)),
             Loan("c", "2", "Fine", TODAY + timedelta(days=10))]
    out = with_status(loans, consortia()["helmet"], TODAY)
    assert [l.renewable for l in out] == [False, False]
    assert all("35 days late" in l.not_renewable_reason for l in out)
    assert out[0].status is DueStatus.OVERDUE


def test_a_helmet_patron_35_days_late_is_not_offered_renewals(memory_keyring):
    today = date.today()
    server = LiveServer("helmet", today=today)
    try:
        patron = next(p for p in DEMO_PATRONS if p.view == "helmet")
        first = server.library.loans_of(patron.card)[0]
        first.due_date = today - timedelta(days=35)
        runner = CliRunner()
        assert runner.invoke(cli, ["card", "add", "me", "--library", "helmet", "--number",
                                   patron.card, "--url", server.url, "--pin-stdin"],
                             input=patron.pin + "\n").exit_code == 0
        loans = json.loads(runner.invoke(cli, ["loans", "--json"]).stdout)["loans"]
        assert loans and not any(l["renewable"] for l in loans)
        assert any("borrowing is blocked" in l["not_renewable_reason"] for l in loans)
        dry = runner.invoke(cli, ["renew", "--all", "--dry-run", "--json"])
        assert "renewed" not in [r.get("result") for r in json.loads(dry.stdout).get("results", [])]
        assert "borrowing is blocked" in dry.stdout
        remind = runner.invoke(cli, ["remind"])
        assert "renew with" not in remind.stdout and "borrowing is blocked" in remind.stdout
    finally:
        server.stop()
