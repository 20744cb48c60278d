"""Every patron command, end to end: the real CLI, the real backends, the demo
library in-process (heili, tuni, helmet over Finna; tallinn over WebPAC)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from libcli.cli import cli

TODAY = date.today()


def run(*args, input=None, expect=0):
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == expect, (
        f"libcli {' '.join(args)} exited {result.exit_code}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}\n{result.exception!r}")
    assert "Traceback" not in result.stdout + result.stderr
    return result


def run_json(*args, expect=0):
    result = run(*args, "--json", expect=expect)
    return json.loads(result.stdout)


@pytest.fixture
def demo():
    """The demo's cards, and every command of the test run in the demo's home
    (as `libcli demo COMMAND` runs them)."""
    run("demo")
    from libcli.demo import in_demo_home

    with in_demo_home():
        yield


def loans_of(card=None):
    args = ["loans"] + (["--card", card] if card else [])
    return run_json(*args)["loans"]


def test_demo_shows_every_demo_cards_loans(demo):
    result = run("loans")
    for card in ("demo-heili", "demo-tuni", "demo-helmet", "demo-tallinn"):
        assert card in result.stdout
    loans = loans_of()
    assert {l["status"] for l in loans} == {"ok", "due_soon", "overdue"}
    required = {"card", "id", "title", "due_date", "status", "renewable", "renewals_used",
                "renewals_limit", "not_renewable_reason"}
    assert all(required <= set(l) for l in loans)
    assert [l["due_date"] for l in loans] == sorted(l["due_date"] for l in loans)
    # Policy at work: Heili estimates late fees, children's books are exempt.
    heili_overdue = [l for l in loans if l["card"] == "demo-heili" and l["status"] == "overdue"]
    assert heili_overdue and all(l["estimated_fee"] is not None for l in heili_overdue)


def test_ids_are_stable_between_runs(demo):
    first = {(l["card"], l["title"]): l["id"] for l in loans_of()}
    second = {(l["card"], l["title"]): l["id"] for l in loans_of()}
    assert first == second


def test_loans_filters(demo):
    overdue = run_json("loans", "--overdue")["loans"]
    assert overdue and all(l["status"] == "overdue" for l in overdue)
    soon = run_json("loans", "--due-within", "3")["loans"]
    assert all(date.fromisoformat(l["due_date"]) <= TODAY + timedelta(days=3) for l in soon)


def test_renew_one_loan_by_id_prefix_and_the_renewal_lasts(demo):
    loan = next(l for l in loans_of("demo-helmet") if l["renewable"] and l["status"] == "due_soon")
    prefix = loan["id"][:5]
    out = run_json("renew", prefix)
    [res] = out["results"]
    assert res["id"] == loan["id"] and res["renewed"] is True
    assert date.fromisoformat(res["new_due_date"]) > date.fromisoformat(loan["due_date"])
    # The demo library keeps its state: the next run sees the new due date.
    again = next(l for l in loans_of("demo-helmet") if l["id"] == loan["id"])
    assert again["due_date"] == res["new_due_date"]
    assert again["renewals_used"] == loan["renewals_used"] + 1


def test_renew_due_within_reports_every_loan_and_exits_3_when_some_fail(demo):
    due = [l for l in loans_of("demo-tallinn")
           if date.fromisoformat(l["due_date"]) <= TODAY + timedelta(days=2)]
    out = run_json("renew", "--due-within", "2", "--card", "demo-tallinn", expect=3)
    assert sorted(r["id"] for r in out["results"]) == sorted(l["id"] for l in due)
    refused = [r for r in out["results"] if not r["renewed"]]
    assert refused and all(r["message"] for r in refused)
    assert any("never renewed" in r["message"] for r in refused)


def test_dry_run_posts_nothing(demo):
    before = loans_of()
    out = run_json("renew", "--all", "--dry-run")
    assert out["dry_run"] is True and len(out["plan"]) == len(before)
    assert loans_of() == before


@pytest.mark.parametrize("args", [
    ("renew",), ("renew", "--all", "--due-within", "2"), ("renew", "zzzzzzz"),
])
def test_renew_usage_errors(demo, args):
    result = run(*args, expect=2)
    assert result.stderr.startswith("libcli: error:") or "Usage" in result.stderr


def test_holds_show_waiting_in_transit_and_ready(demo):
    holds = run_json("holds")["holds"]
    assert {h["status"] for h in holds} == {"waiting", "in_transit", "ready"}
    ready = [h for h in holds if h["status"] == "ready"]
    assert all(h["pickup_by"] and h["pickup_location"] for h in ready)
    waiting = [h for h in holds if h["status"] == "waiting"]
    # Primo VE's requests JSON shows no place in queue (reference primo-ve.md §4.4).
    assert all(h["queue_position"] for h in waiting if h["card"] != "demo-tuni")
    assert run_json("holds", "--ready")["holds"] == ready


def test_cancel_a_waiting_hold_but_not_a_ready_one(demo):
    holds = run_json("holds", "--card", "demo-heili")["holds"]
    waiting = next(h for h in holds if h["status"] == "waiting")
    ready = next(h for h in holds if h["status"] == "ready")
    out = run_json("hold", "cancel", waiting["id"], ready["id"], expect=3)
    by_id = {r["id"]: r for r in out["results"]}
    assert by_id[waiting["id"]]["cancelled"] is True
    assert by_id[ready["id"]]["cancelled"] is False
    assert "cannot be cancelled online" in by_id[ready["id"]]["message"]
    left = {h["id"] for h in run_json("holds", "--card", "demo-heili")["holds"]}
    assert waiting["id"] not in left and ready["id"] in left


def test_search_and_place_a_hold(demo):
    results = run_json("search", "Python Crash Course", "--library", "helmet")["results"]
    assert results and "Python Crash Course" in results[0]["title"]
    record = results[0]["record_id"]
    # In a script without --pickup: an error that lists the choices.
    result = run("hold", "place", record, "--card", "demo-helmet", expect=2)
    assert "--pickup" in result.stderr and "Oodi" in result.stderr
    placed = run_json("hold", "place", record, "--card", "demo-helmet", "--pickup", "oodi")
    assert placed["placed"] is True
    titles = [h["title"] for h in run_json("holds", "--card", "demo-helmet")["holds"]]
    assert any("Python Crash Course" in t for t in titles)


def test_pickup_locations(demo):
    record = run_json("search", "Python Crash Course", "--library", "heili")["results"][0]["record_id"]
    locations = run_json("hold", "pickups", record, "--card", "demo-heili")["pickup_locations"]
    assert any("Lappeenrannan" in p["name"] for p in locations)


def test_fees_say_whether_and_why_not_payable(demo):
    fees = {f["card"]: f for f in run_json("fees")["fees"]}
    assert fees["demo-heili"]["payable_online"] is True
    assert fees["demo-heili"]["minimum_online_cents"] == 65
    assert fees["demo-tuni"]["payable_online"] is False
    assert fees["demo-tuni"]["reason"] == "nonpayable_fee"
    assert fees["demo-tallinn"]["reason"] == "no_online_payment"
    for f in fees.values():
        assert f["total_cents"] == sum(i["amount_cents"] for i in f["items"])
        assert f["currency"] == "EUR"


def test_pay_the_whole_balance_through_the_simulated_provider(demo):
    total = next(f for f in run_json("fees")["fees"] if f["card"] == "demo-heili")["total_cents"]
    # A script must say --yes.
    result = run("pay", "--card", "demo-heili", expect=2)
    assert "--yes" in result.stderr
    out = run("pay", "--card", "demo-heili", "--yes")
    assert "PaymentProvider" in out.stdout and "Payment registered" in out.stderr
    after = next(f for f in run_json("fees")["fees"] if f["card"] == "demo-heili")
    assert after["total_cents"] == 0 and total > 0


def test_pay_refuses_what_the_rules_forbid(demo):
    result = run("pay", "--card", "demo-tuni", "--yes", expect=1)
    assert "replacement" in result.stderr


def test_tallinn_pays_by_bank_transfer(demo):
    out = run_json("pay", "--card", "demo-tallinn")
    transfer = out["bank_transfer"]
    assert transfer["reference"] == "5226050050050224"
    assert transfer["amount_cents"] > 0
    assert {a["bic"] for a in transfer["accounts"]} == {"EEUHEE2X", "HABAEE2X", "NDEAEE2X", "FOREEE2X"}
    text = run("pay", "--card", "demo-tallinn").stdout
    assert "Tallinna Linnakantselei finantsteenistus" in text and "EE311010220061053015" in text


def test_status(demo):
    cards = {c["card"]: c for c in run_json("status")["cards"]}
    assert set(cards) == {"demo-heili", "demo-tuni", "demo-helmet", "demo-tallinn"}
    for c in cards.values():
        assert c["loans"] >= c["due_soon"] + c["overdue"] and c["holds_ready"] == 1


def test_remind_lists_what_needs_doing(demo):
    text = run("remind").stdout
    assert "Overdue:" in text and "Due soon:" in text and "Ready for pickup:" in text
    assert "libcli renew" in text and "never renewed" in text


def test_calendar_has_stable_uids(demo, tmp_path):
    from icalendar import Calendar

    run("calendar", "-o", str(tmp_path / "a.ics"))
    run("calendar", "-o", str(tmp_path / "b.ics"))
    a = Calendar.from_ical((tmp_path / "a.ics").read_bytes())
    b = Calendar.from_ical((tmp_path / "b.ics").read_bytes())
    uids = lambda c: sorted(str(e["uid"]) for e in c.walk("VEVENT"))  # noqa: E731
    assert uids(a) == uids(b)
    loans, holds = loans_of(), run_json("holds")["holds"]
    assert len(uids(a)) == len(loans) + sum(1 for h in holds if h["status"] == "ready")
    assert all(e.walk("VALARM") for e in a.walk("VEVENT"))


def test_offline_loans_come_from_the_snapshot(demo):
    online = loans_of()
    offline = run_json("loans", "--offline")["loans"]
    assert [l["id"] for l in offline] == [l["id"] for l in online]
    # Unknown renewal counts (Alma, Primo VE, Koha's permanent blocks) stay unknown.
    assert any(l["renewals_used"] is None for l in online)
    assert [l["renewals_used"] for l in offline] == [l["renewals_used"] for l in online]


def test_colour_only_when_asked_or_on_a_terminal(demo):
    plain = run("loans").stdout
    assert "\x1b[" not in plain
    coloured = run("--color", "always", "loans").stdout
    assert "\x1b[31m" in coloured  # overdue in red


def test_offline_loans_say_how_old_they_are(demo):
    run("loans")
    result = run("loans", "--offline", "--card", "demo-heili")
    assert "Loans of card 'demo-heili' as saved on" in result.stderr and "(today)" in result.stderr
    saved = run_json("loans", "--offline", "--card", "demo-heili")["saved_on"]
    assert saved == {"demo-heili": TODAY.isoformat()}
