"""Faults on a real socket: the demo library served on 127.0.0.1 (from a
thread of this process, so each test builds the library it needs and
aims a fault at exactly one kind of request), libcli run as a command.

Reads are retried a bounded number of times; a post that changes the
account is sent once, and after an unclear outcome (its answer dropped, a
500) the account is read again and what actually happened is reported.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from click.testing import CliRunner

from libcli import http
from libcli.cli import cli
from libcli.errors import ExitCode
from libcli.model import FeeType
from libcli.sandbox.circulation import RENEW_LIMIT, Clock
from libcli.sandbox.seed import add_big_account, build_library
from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.socket

LOGIN = "/MyResearch/Home"
LOANS = "/MyResearch/CheckedOut"
HOLDS = "/Holds/List"
FINES = "/MyResearch/Fines"
HEILI = ("10000001", "1234")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)


@pytest.fixture
def servers():
    started = []

    def start(view="heili", **kw):
        s = LiveServer(view, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def heili(servers, memory_keyring):
    s = servers("heili")
    add("me", s, *HEILI)
    return s


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def run_json(*args, expect=0):
    result = run(*args, "--json")
    assert result.exit_code == expect, f"{args}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout), result


def add(name, server, number, pin, library=None):
    result = run("card", "add", "--no-check", name, "--library", library or server.view,
                 "--number", number, "--url", server.url, "--pin-stdin", input=f"{pin}\n")
    assert result.exit_code == 0, result.stderr


def renewable_loan(server, card=HEILI[0]):
    """A loan of the card that the library will renew, and its due date."""
    lib = server.library
    for loan in sorted(lib.loans_of(card), key=lambda l: l.due_date):
        if lib.renew_check(card, loan.loan_id) is None:
            return loan
    raise AssertionError("no renewable loan")


def loan_id_of(title):
    doc, _ = run_json("loans")
    return next(l["id"] for l in doc["loans"] if l["title"] == title)


# --- reads: latency, 500, dropped connections, timeouts --------------------------------


def test_latency_on_every_request_still_gives_the_whole_account(heili):
    heili.options.latency_ms = 150
    doc, _ = run_json("status")
    assert doc["cards"][0]["loans"] == len(heili.library.loans_of(HEILI[0]))


@pytest.mark.parametrize("path", [LOANS, HOLDS, FINES, "/api/v1/search"])
@pytest.mark.parametrize("action", ["error", "drop"])
def test_a_read_that_fails_twice_is_retried_and_answers(heili, path, action):
    run_json("status")  # a live session: the count below is of this one read
    fault = heili.fault(action, path, method="GET", times=2)
    command = {LOANS: ["loans"], HOLDS: ["holds"], FINES: ["fees"],
               "/api/v1/search": ["search", "Kalevala", "--library", "heili"]}[path]
    doc, _ = run_json(*command)
    assert fault.hits == 3  # two failures, then the answer
    assert not doc["errors"] if "errors" in doc else doc["results"]


@pytest.mark.parametrize("action", ["error", "drop"])
def test_a_read_that_keeps_failing_is_given_up_after_bounded_retries(heili, action):
    fault = heili.fault(action, LOANS, method="GET", times=None)
    doc, result = run_json("loans", expect=ExitCode.UNREACHABLE)
    assert fault.hits == 1 + http.READ_RETRIES
    assert doc["errors"][0]["card"] == "me"
    assert "127.0.0.1 did not answer" in result.stderr


def test_a_read_that_times_out_is_retried_then_reported(heili, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", httpx.Timeout(0.3))
    fault = heili.fault("delay", LOANS, method="GET", times=None, delay_ms=1500)
    doc, result = run_json("loans", expect=ExitCode.UNREACHABLE)
    assert fault.hits == 1 + http.READ_RETRIES
    assert "timed out" in result.stderr


def test_one_slow_answer_within_the_retries_is_fine(heili, monkeypatch):
    run_json("status")
    monkeypatch.setattr(http, "TIMEOUT", httpx.Timeout(0.3))
    fault = heili.fault("delay", HOLDS, method="GET", times=1, delay_ms=1500)
    doc, _ = run_json("holds")
    assert fault.hits == 2 and doc["holds"]


def test_a_login_post_is_never_repeated_after_a_dropped_answer(heili):
    # Dropped after the library took it: an unclear outcome; a PIN is not sent twice.
    fault = heili.fault("drop_answer", LOGIN, method="POST")
    doc, result = run_json("loans", expect=ExitCode.UNREACHABLE)
    assert fault.hits == 1
    assert "outcome is unknown" in result.stderr or "dropped" in result.stderr


# --- posts that change the account: sent once, then the account is read again -----------


def test_renew_whose_answer_is_lost_reports_what_the_library_did(heili):
    loan = renewable_loan(heili)
    before = loan.due_date
    loan_id = loan_id_of(heili.library.title_of(loan).title)
    fault = heili.fault("drop_answer", LOANS, method="POST")
    doc, _ = run_json("renew", loan_id)
    assert fault.hits == 1  # posted once, never again
    [res] = doc["results"]
    assert loan.due_date > before, "the library renewed it"
    assert res["renewed"] is True and res["new_due_date"] == loan.due_date.isoformat()


@pytest.mark.parametrize("action", ["drop", "error"])
def test_renew_that_did_not_reach_the_library_is_reported_not_renewed(heili, action):
    loan = renewable_loan(heili)
    before, renewals = loan.due_date, loan.renewals
    loan_id = loan_id_of(heili.library.title_of(loan).title)
    fault = heili.fault(action, LOANS, method="POST")
    doc, result = run_json("renew", loan_id, expect=ExitCode.PARTIAL)
    assert fault.hits == 1
    assert (loan.due_date, loan.renewals) == (before, renewals)
    [res] = doc["results"]
    assert res["renewed"] is False and "try again" in res["message"]


def test_renew_post_that_times_out_is_sent_once_and_reported(heili, monkeypatch):
    # The library takes the post only after the client gave up waiting.
    monkeypatch.setattr(http, "TIMEOUT", httpx.Timeout(0.3))
    loan = renewable_loan(heili)
    loan_id = loan_id_of(heili.library.title_of(loan).title)
    fault = heili.fault("delay", LOANS, method="POST", delay_ms=1000)
    doc, result = run_json("renew", loan_id, expect=ExitCode.PARTIAL)
    assert fault.hits == 1
    [res] = doc["results"]
    assert res["renewed"] is False and "try again" in res["message"]


def test_cancel_whose_answer_is_lost_reports_what_the_library_did(heili):
    holds, _ = run_json("holds")
    waiting = next(h for h in holds["holds"] if h["status"] == "waiting")
    fault = heili.fault("drop_answer", HOLDS, method="POST")
    doc, _ = run_json("hold", "cancel", waiting["id"])
    assert fault.hits == 1
    assert doc["results"][0]["cancelled"] is True
    left, _ = run_json("holds")
    assert waiting["id"] not in {h["id"] for h in left["holds"]}


@pytest.mark.parametrize("action", ["drop", "error"])
def test_cancel_that_did_not_reach_the_library_is_reported_not_cancelled(heili, action):
    holds, _ = run_json("holds")
    waiting = next(h for h in holds["holds"] if h["status"] == "waiting")
    fault = heili.fault(action, HOLDS, method="POST")
    doc, _ = run_json("hold", "cancel", waiting["id"], expect=ExitCode.PARTIAL)
    assert fault.hits == 1
    assert doc["results"][0]["cancelled"] is False
    assert "try again" in doc["results"][0]["message"]


def _record(title):
    doc, _ = run_json("search", title, "--library", "heili")
    return doc["results"][0]["record_id"]


def test_hold_whose_answer_is_lost_is_found_on_the_account(heili):
    record = _record("Python Crash Course")
    fault = heili.fault("drop_answer", f"/Record/{record}/Hold", method="POST")
    doc, _ = run_json("hold", "place", record, "--card", "me", "--pickup",
                      heili.library.pickup_locations[0].code)
    assert fault.hits == 1
    assert doc["placed"] is True
    mine = [h for h in heili.library.holds_of(HEILI[0]) if h.record_id == record]
    assert len(mine) == 1  # placed once, not twice


@pytest.mark.parametrize("action", ["drop", "error"])
def test_hold_that_did_not_reach_the_library_is_reported_not_placed(heili, action):
    record = _record("Python Crash Course")
    fault = heili.fault(action, f"/Record/{record}/Hold", method="POST")
    result = run("hold", "place", record, "--card", "me", "--pickup",
                 heili.library.pickup_locations[0].code, "--json")
    assert fault.hits == 1
    assert result.exit_code != 0
    assert not [h for h in heili.library.holds_of(HEILI[0]) if h.record_id == record]
    assert json.loads(result.stdout)["placed"] is False


# --- thirty loans, some refused --------------------------------------------------------------


def test_thirty_loans_each_reported_once_renewed_or_with_its_reason(servers, memory_keyring):
    lib = build_library("heili", Clock(date.today()))
    big = add_big_account(lib, 30, card="77770000", pin="7777")
    loans = sorted(lib.loans_of(big.card), key=lambda l: l.loan_id)
    reserved = loans[0:30:5]            # 6 reserved by another patron
    at_limit = loans[2:30:7]            # 4 at the renewal limit
    for loan in reserved:
        lib.add_hold("bg1", lib.title_of(loan).record_id, lib.pickup_locations[0].code,
                     created=date.today() - timedelta(days=1))
    for loan in at_limit:
        loan.renewals = lib.renewal_limit(loan)
    s = servers("heili", library=lib)
    add("big", s, big.card, "7777")
    truth = {l.loan_id: lib.renew_check(big.card, l.loan_id) for l in lib.loans_of(big.card)}
    # (a loan both reserved and at its limit is refused as reserved first)
    doc, _ = run_json("renew", "--all", expect=ExitCode.PARTIAL)
    results = doc["results"]
    assert len(results) == 30
    assert len({r["id"] for r in results}) == 30
    refused = [r for r in results if not r["renewed"]]
    assert len(refused) == sum(reason is not None for reason in truth.values())
    assert all(r["message"] for r in refused)  # each with the library's reason
    # In libcli's words where the page gives counts, else the library's own
    # (KohaRestSuomi prints no count for a permanent block, only its message:
    # renew_item_limit, languages/fi.ini).
    assert sum("renewals left" in r["message"] or "limit" in r["message"]
               or "uusimiskerrat ovat tulleet täyteen" in r["message"]
               for r in refused) == sum(reason == RENEW_LIMIT for reason in truth.values())
    assert all(r["new_due_date"] and not r["message"] for r in results if r["renewed"])
    renewed_in_library = [l for l in lib.loans_of(big.card) if truth[l.loan_id] is None]
    assert all(l.renewals >= 1 for l in renewed_in_library)
    # Table output: one row per loan.
    for loan in lib.loans_of(big.card):
        loan.renewals = 0
    text = run("renew", "--all")
    assert text.exit_code == ExitCode.PARTIAL
    rows = [line for line in text.stdout.splitlines() if "renewed" in line]
    assert len(rows) == 30


# --- sessions and CSRF -------------------------------------------------------------------------


def test_session_expired_between_two_reads_one_transparent_relogin(heili):
    run_json("loans")  # a live session
    logins = heili.fault("count", LOGIN, method="POST", times=None)
    heili.fault("expire_sessions", HOLDS, method="GET")
    doc, _ = run_json("holds")
    assert doc["holds"] and logins.hits == 1


def test_session_expired_right_before_a_renew_post(heili):
    loan = renewable_loan(heili)
    before = loan.due_date
    loan_id = loan_id_of(heili.library.title_of(loan).title)
    logins = heili.fault("count", LOGIN, method="POST", times=None)
    posts = heili.fault("expire_sessions", LOANS, method="POST")
    doc, _ = run_json("renew", loan_id, expect=ExitCode.PARTIAL)
    # One re-login, the post not repeated: reported not renewed, clearly.
    assert logins.hits == 1 and posts.hits == 1
    assert loan.due_date == before
    assert "session expired" in doc["results"][0]["message"]


def test_session_ttl_on_the_server_every_command_still_works(heili):
    heili.options.session_ttl = 0.4
    run_json("loans")
    import time

    time.sleep(0.5)
    logins = heili.fault("count", LOGIN, method="POST", times=None)
    doc, _ = run_json("fees")
    assert doc["fees"][0]["total_cents"] > 0 and logins.hits == 1


def test_sessions_that_never_last_fail_clearly_and_do_not_loop(heili):
    heili.options.session_ttl = 0
    logins = heili.fault("count", LOGIN, method="POST", times=None)
    # Every login post meets an expired session: a refused CSRF token,
    # authentication_error_technical. That is the library's error, not the
    # PIN's (issue #13.9): exit 5, not exit 4.
    doc, result = run_json("loans", expect=ExitCode.UNREACHABLE)
    assert logins.hits <= 2
    assert "card me" in result.stderr or "card 'me'" in result.stderr
    assert "not the PIN" in result.stderr


def test_a_refused_csrf_token_is_one_transparent_relogin(heili):
    heili.options.refuse_csrf_once = True
    logins = heili.fault("count", LOGIN, method="POST", times=None)
    doc, _ = run_json("loans")
    assert doc["loans"] and logins.hits == 2


# --- payment ---------------------------------------------------------------------------------------


def test_lost_answer_to_a_payment_start_never_starts_a_second_one(heili):
    fault = heili.fault("drop_answer", FINES, method="POST", body="pay-confirm=")
    result = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert fault.hits == 1
    payments = list(heili.library.payments.values())
    assert len(payments) == 1 and payments[0].status == "open"
    again = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    assert again.exit_code == ExitCode.ERROR
    assert "in progress" in again.stderr
    assert len(heili.library.payments) == 1
    assert fault.hits == 1  # the second run did not even post


@pytest.mark.parametrize("body", ["pay=", "pay-confirm="])
@pytest.mark.parametrize("action", ["drop", "error"])
def test_payment_post_that_did_not_reach_the_library_starts_nothing(heili, body, action):
    fault = heili.fault(action, FINES, method="POST", body=body)
    result = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    assert result.exit_code in (ExitCode.UNREACHABLE, ExitCode.ERROR), result.stderr
    assert fault.hits == 1 and not heili.library.payments
    # Nothing started, so the next run may pay.
    again = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    assert again.exit_code == 0, again.stderr
    assert len(heili.library.payments) == 1


def test_amount_changed_between_fees_and_pay_stops_the_payment(heili):
    fees, _ = run_json("fees")
    shown = fees["fees"][0]["total_cents"]
    heili.library.add_fee(HEILI[0], FeeType.OVERDUE, 120, created=date.today())
    result = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait",
                 "--amount", f"{shown / 100:.2f}")
    assert result.exit_code == ExitCode.ERROR
    assert "changed" in result.stderr
    assert not heili.library.payments


def test_amount_changed_after_the_confirmation_stops_the_payment(heili, monkeypatch):
    import click

    def confirm(text, **kw):
        # The patron said yes to the amount shown; the library adds a fee meanwhile.
        heili.library.add_fee(HEILI[0], FeeType.OVERDUE, 120, created=date.today())
        return True

    monkeypatch.setattr(click, "confirm", confirm)
    monkeypatch.setattr("libcli.cli.output.isatty_stdin", lambda: True)
    confirms = heili.fault("count", FINES, method="POST", body="pay-confirm=", times=None)
    result = run("pay", "--card", "me", "--no-browser", "--no-wait")
    assert result.exit_code == ExitCode.ERROR, result.stderr
    assert "changed" in result.stderr
    assert confirms.hits == 0 and not heili.library.payments


def test_amount_changed_on_the_terms_page_stops_before_confirming(heili):
    # The fee lands between the last fines read and the terms page.
    pay = heili.fault("count", FINES, method="POST", body="pay=", times=None)
    confirms = heili.fault("count", FINES, method="POST", body="pay-confirm=", times=None)
    lib = heili.library
    original = lib.balance_cents

    def balance(card, added=[]):
        if pay.hits == 1 and not added:  # the terms page is being drawn
            added.append(lib.add_fee(HEILI[0], FeeType.OVERDUE, 120, created=date.today()))
        return original(card)

    lib.balance_cents = balance
    try:
        result = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    finally:
        lib.balance_cents = original
    assert pay.hits == 1
    assert result.exit_code == ExitCode.ERROR, result.stderr
    assert "changed" in result.stderr
    assert confirms.hits == 0 and not lib.payments


# --- several cards, one library down -------------------------------------------------------------


def test_one_of_four_cards_unreachable_the_other_three_are_shown(servers, memory_keyring):
    for view in ("heili", "tuni", "helmet"):
        s = servers(view)
        number, pin = next((p.card, p.pin) for p in
                           __import__("libcli.sandbox.seed", fromlist=["x"]).DEMO_PATRONS
                           if p.view == view)
        add(view, s, number, pin)
    down = servers("helmet")
    add("gone", down, "2100000002", "2345")
    down.fault("drop", "/", times=None)
    doc, result = run_json("loans", expect=ExitCode.UNREACHABLE)
    assert {l["card"] for l in doc["loans"]} == {"heili", "tuni", "helmet"}
    assert [e["card"] for e in doc["errors"]] == ["gone"]
    table = run("loans")
    assert table.exit_code == ExitCode.UNREACHABLE
    assert "card 'gone'" in table.stderr
    for name in ("heili", "tuni", "helmet"):
        assert name in table.stdout
    assert "gone" not in table.stdout


# --- Primo VE (Andor), faked with respx: the same rules through the JSON backend -------------

PRIMO = "https://andor.tuni.fi"
PRIMO_FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "primo"
PRIMO_ACCOUNT = "/primaws/rest/priv/myaccount/"
PRIMO_IAT = 1764633600  # the fixture token's issue time


def _primo(name):
    return httpx.Response(200, json=json.loads((PRIMO_FIXTURES / name).read_text("utf-8")))


def _primo_backend():
    from libcli.backends import primo_json as pj
    from libcli.backends.primo import PrimoBackend
    from libcli.model import Card
    from libcli.policy import consortia

    conf = pj.read_config(json.loads((PRIMO_FIXTURES / "config_vu1_password_and_haka.json")
                                     .read_text("utf-8")))
    token = pj.token_from_login(json.loads((PRIMO_FIXTURES / "login_ok_quoted_jwt.json")
                                           .read_text("utf-8")))
    session = {"primo": {"view": "358FIN_TAMPO:VU1", "fetched": PRIMO_IAT,
                         "config": conf.to_session()},
               "jwt": token, "jwt_exp": PRIMO_IAT + 86400}
    b = PrimoBackend(Card("t", "tuni", "2000123"), consortia()["tuni"],
                     client=http.make_client(PRIMO), pin=lambda: "pw", session=session,
                     today=date(2025, 12, 2))
    b.clock = lambda: PRIMO_IAT + 60
    return b


def _fault(action):
    return httpx.Response(500) if action == "error" else httpx.RemoteProtocolError("dropped")


@pytest.mark.parametrize("action", ["error", "drop"])
def test_primo_read_that_fails_twice_is_retried_and_answers(action):
    import asyncio

    import respx

    with respx.mock(base_url=PRIMO, assert_all_called=True) as mock:
        route = mock.get(PRIMO_ACCOUNT + "fines").mock(side_effect=[
            _fault(action), _fault(action), _primo("fines_one_overdue_fi.json")])
        balance = asyncio.run(_primo_backend().fees())
    assert route.call_count == 3 and balance.total.cents == 430


@pytest.mark.parametrize("action", ["error", "drop"])
def test_primo_renew_post_without_an_answer_is_sent_once_and_the_loans_are_read(action):
    import asyncio

    import respx

    b = _primo_backend()
    with respx.mock(base_url=PRIMO, assert_all_called=True) as mock:
        reads = mock.get(PRIMO_ACCOUNT + "loans").mock(side_effect=[
            _primo("loans_three.json"), _primo("loans_three.json")])
        post = mock.post(PRIMO_ACCOUNT + "renew_loans").mock(side_effect=[_fault(action)])

        async def go():
            loans = await b.loans()
            return await b.renew(loans[:1])

        [result] = asyncio.run(go())
    assert post.call_count == 1 and reads.call_count == 2
    assert result.renewed is False and "look again" in result.message


def test_primo_login_post_is_never_repeated_after_a_dropped_answer():
    import asyncio

    import respx

    from libcli.errors import Unreachable

    b = _primo_backend()
    b.session.pop("jwt")
    with respx.mock(base_url=PRIMO, assert_all_called=True) as mock:
        login = mock.post("/primaws/suprimaLogin").mock(
            side_effect=httpx.RemoteProtocolError("dropped"))
        with pytest.raises(Unreachable) as err:
            asyncio.run(b.holds())
    assert login.call_count == 1 and "outcome is unknown" in err.value.message
