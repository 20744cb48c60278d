"""Finna pages as the real finna2 templates print them (issue #13, #18.2, #18.6).

Each fixture under tests/fixtures/finna/ was written for these tests after the
template or driver named in its opening comment (NDL-VuFind2 0469bd95, and the
bootstrap-5 markup heili.finna.fi serves in 2026). Each test asserts what a
person reads on that page.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, time
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from libcli import errors, http
from libcli.backends import finna as finna_backend
from libcli.backends import finna_pages as pages
from libcli.backends.finna import FinnaBackend
from libcli.errors import LoginRefused, PageNotUnderstood, Refused, Unreachable
from libcli.model import Balance, Card, Money
from libcli.policy import consortia

FIXTURES = Path(__file__).parent / "fixtures" / "finna"
BASE = "https://heili.finna.fi"
PIN = "2468-secret"


def page(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0)


def backend(library: str = "heili") -> FinnaBackend:
    client = http.make_client(BASE)
    card = Card(name="home", library=library, number="2300000001")
    return FinnaBackend(card, consortia()[library], client=client, pin=lambda: PIN,
                        session={}, today=date(2026, 5, 18))


def run(coro):
    return asyncio.run(coro)


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


# 1. checkedout.phtml l. 216: no renewal line for Alma, nor for KohaRest's permanent blocks.

@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_loan_without_a_renewal_count_is_a_loan_with_renewals_unknown(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(
        200, html=page("checkedout_alma_koha_no_renew_count.html"))
    alma, koha = run(backend().loans())
    assert alma.title == "Kuusi kivistä tarinaa" and alma.due_date == date(2026, 5, 30)
    assert alma.renewals_used is None and alma.renewable
    assert koha.title == "Lintujen lokakuu" and koha.renewals_used is None
    assert not koha.renewable
    from libcli.cli.loans import loan_rows

    rows = loan_rows([alma, koha], date(2026, 5, 18))
    assert rows[0][6].startswith("?/") and rows[1][6].startswith("?/")
    assert alma.to_dict()["renewals_used"] is None


# 2. The hidden header row (sr-only in 2024, visually-hidden in bootstrap 5).

def test_the_hidden_header_row_bs5_is_not_a_loan():
    lp = pages.parse_loans(page("checkedout_header_row_bs5.html"))
    assert [l.title for l in lp.loans] == ["Saaristomeren kesä", "Kolme kirjettä"]
    assert lp.loans[0].renew_token == "700001|800001" and lp.loans[1].renew_token is None


def test_the_hidden_header_row_bs5_is_not_a_hold():
    hp = pages.parse_holds(page("holds_header_row_bs5.html"))
    assert [(h.title, h.status, h.queue_position) for h in hp.holds] == [
        ("Pohjoisen tähdet", "waiting", 3), ("Jään alla", "ready", None)]
    assert hp.holds[0].cancel_token == "heili.3300010|5501"


# 3. hold_in_process where the queue position stands (Alma, Mikromarc).

@pytest.mark.parametrize("label, in_process", [
    ("Sijainti jonossa", "Käsiteltävänä"),
    ("Placering i kön", "Behandlas"),
    ("Queue Position", "In process"),
])
def test_a_hold_being_processed_is_waiting_without_a_queue_position(label, in_process):
    html = page("holds_alma_in_process.html").replace("Sijainti jonossa", label).replace(
        "Käsiteltävänä", in_process)
    first, second = pages.parse_holds(html).holds
    assert first.title == "Hiljainen satama" and first.status == "waiting"
    assert first.queue_position is None and first.in_process
    assert second.queue_position == 2 and not second.in_process


# 4. The fines total in bootstrap 5.

def test_the_fines_total_bs5():
    fp = pages.parse_fines(page("fines_total_bs5.html"))
    assert fp.total_cents == 1320 and len(fp.items) == 2
    assert fp.minimum_cents == 100 and fp.online_payment_offered


# 5. "Earlier payment was started": never a second payment.

WARNINGS = {
    # local/languages/finna/{fi,sv,en-gb}.ini online_payment_in_progress_warning
    "fi": "Aiempi maksutapahtuma aloitettu 18.5.2026 12:05. Aloita maksaminen uudelleen vain, "
          "jos edellinen tapahtuma keskeytyi.",
    "sv": "Tidigare betalning startade vid 18.5.2026 12:05. Starta en ny betalning endast om "
          "den tidigare avbröts.",
    "en": "Earlier payment was started at 18.5.2026 12:05. Start a new payment only if the "
          "earlier one was interrupted.",
}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_started_payment_is_in_progress_and_pay_refuses(lang):
    html = page("fines_payment_started_fi.html").replace(WARNINGS["fi"], WARNINGS[lang])
    with respx.mock(base_url=BASE, assert_all_called=False) as respx_mock:
        respx_mock.get("/MyResearch/Fines").respond(200, html=html)
        posts = respx_mock.post("/MyResearch/Fines").respond(200, html="<html></html>")
        b = backend()
        balance = run(b.fees())
        assert balance.payment_in_progress and balance.total == Money(850)
        with pytest.raises(Refused, match="already in progress"):
            run(b.start_payment(balance))
        assert posts.call_count == 0


# 6. The reason a balance cannot be paid, and the minimum.

def test_the_reason_is_not_the_heading_and_the_minimum_is_read():
    fp = pages.parse_fines(page("fines_minimum_reason.html"))
    assert fp.reason == "Verkkomaksamisen minimisumma: 5,00 €"
    assert fp.minimum_cents == 500 and fp.total_cents == 180
    assert not fp.online_payment_offered


# 7. Accepting the library's terms for a hold.

TAB = ('<div class="place-hold-wrapper"><a class="placehold btn btn-primary" '
       'href="/Record/heili.77/Hold?id=heili.77&amp;hashKey=k1#tabnav">Varaa</a></div>')
TERMS = "Hyväksyn, että varauksesta peritään 1,00 € noutamattomana."


def _hold_routes(respx_mock, form_page: str):
    respx_mock.post("/Record/heili.77/AjaxTab").respond(200, html=TAB)
    respx_mock.get("/Record/heili.77/Hold").respond(200, html=form_page)
    return respx_mock.post("/Record/heili.77/Hold").mock(side_effect=[
        httpx.Response(302, headers={"Location": "/Record/heili.77"})])


@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_hold_with_terms_is_not_posted_until_they_are_accepted(respx_mock):
    post = _hold_routes(respx_mock, page("hold_accept_terms.html"))
    with pytest.raises(errors.TermsNotAccepted) as caught:
        run(backend().place_hold("heili.77", "K01"))
    assert caught.value.terms == TERMS and TERMS in caught.value.message
    assert post.call_count == 0
    assert pages.parse_hold_form(page("hold_accept_terms.html")).terms == TERMS


@respx.mock(base_url=BASE, assert_all_called=False)
def test_accepted_terms_are_posted_with_the_hold(respx_mock):
    post = _hold_routes(respx_mock, page("hold_accept_terms.html"))
    respx_mock.get("/Record/heili.77").respond(200, html=(
        '<html><body class="template-dir-record template-name-view"><div role="alert" '
        'class="alert alert-success">Varauspyyntö onnistui</div></body></html>'))
    result = run(backend().place_hold("heili.77", "R02", accept_terms=True))
    assert result.placed
    sent = form(post.calls.last.request)
    assert ("gatheredDetails[acceptTerms]", "on") in sent
    assert ("gatheredDetails[pickUpLocation]", "R02") in sent


# 8. Request groups: the pickup locations come from getRequestGroupPickupLocations.

@respx.mock(base_url=BASE, assert_all_called=False)
def test_request_group_pickup_locations_are_fetched_and_posted(respx_mock):
    post = _hold_routes(respx_mock, page("hold_request_group.html"))
    respx_mock.get("/Record/heili.77").respond(200, html="<html><body></body></html>")
    answers = {
        "normal": [{"locationID": "K01", "locationDisplay": "Keskustan kirjasto"}],
        "regional": [{"locationID": "S09", "locationDisplay": "Seutukirjasto",
                      "isDefault": True}],
    }

    def ajax(request):
        q = request.url.params
        assert q["method"] == "getRequestGroupPickupLocations" and q["id"] == "heili.77"
        return httpx.Response(200, json={"data": {"locations": answers[q["requestGroupId"]]}})

    calls = respx_mock.get("/AJAX/JSON").mock(side_effect=ajax)
    b = backend()
    locations = run(b.pickup_locations("heili.77"))
    assert [(p.code, p.name) for p in locations] == [("K01", "Keskustan kirjasto"),
                                                    ("S09", "Seutukirjasto")]
    assert calls.call_count == 2
    result = run(backend().place_hold("heili.77", "Seutukirjasto"))
    assert result.placed
    sent = form(post.calls.last.request)
    assert ("gatheredDetails[requestGroupId]", "regional") in sent
    assert ("gatheredDetails[pickUpLocation]", "S09") in sent


# 9. authentication_error_technical: one retry with the fresh form, then a library error.

TECHNICAL = {
    "fi": "Sisäänkirjautuminen epäonnistui. Yritä uudestaan hetken kuluttua.",
    "sv": "Inloggningen misslyckades. Försök igen efter en stund.",
    "en": "We cannot log you in at this time. Please try again later.",
}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_technical_login_error_is_retried_once_with_the_fresh_csrf(lang):
    refusal = page("login_technical_error_fi.html").replace(TECHNICAL["fi"], TECHNICAL[lang])
    first = refusal.replace('<div role="alert" class="alert alert-danger">'
                            + TECHNICAL[lang] + "</div>", "").replace("CSRF-FRESH-2", "CSRF-OLD-1")
    with respx.mock(base_url=BASE, assert_all_called=False) as respx_mock:
        respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
            httpx.Response(200, html=first),
            httpx.Response(200, html=page("checkedout_header_row_bs5.html"))])
        login = respx_mock.post("/MyResearch/Home").mock(side_effect=[
            httpx.Response(200, html=refusal),
            httpx.Response(302, headers={"Location": "/MyResearch/CheckedOut"})])
        loans = run(backend().loans())
        assert len(loans) == 2 and login.call_count == 2
        assert dict(form(login.calls[0].request))["csrf"] == "CSRF-OLD-1"
        assert dict(form(login.calls[1].request))["csrf"] == "CSRF-FRESH-2"


@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_technical_login_error_twice_is_a_library_error_not_a_wrong_pin(respx_mock):
    refusal = page("login_technical_error_fi.html")
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=refusal)
    login = respx_mock.post("/MyResearch/Home").respond(200, html=refusal)
    with pytest.raises(Unreachable) as caught:
        run(backend().loans())
    assert not isinstance(caught.value, LoginRefused)
    assert TECHNICAL["fi"] in caught.value.message and PIN not in caught.value.message
    assert login.call_count == 2


# 10. A loan without a checkbox: an empty td.checkbox-col.

def test_an_empty_checkbox_cell_is_a_loan_that_cannot_be_renewed_online():
    lp = pages.parse_loans(page("checkedout_empty_checkbox_cell.html"))
    short, other = lp.loans
    assert short.title == "Pelikonsoli-opas" and short.renew_token is None
    assert other.renew_token == "600002|700002"


# 11. The login form is chosen by what it is, not by where it stands.

def test_the_library_card_form_is_chosen_when_the_finna_account_form_comes_first():
    form_ = pages.parse_login_form(page("login_choiceauth_database_first.html"))
    assert ("auth_method", "ILS") in form_.fields and ("csrf", "CSRF-ILS-1") in form_.fields


# 12. Login targets come from evidence (see consortia.toml).

@respx.mock(base_url=BASE, assert_all_called=False)
def test_heili_posts_its_login_target(respx_mock):
    login_page = page("login_technical_error_fi.html").replace(
        '<div role="alert" class="alert alert-danger">' + TECHNICAL["fi"] + "</div>", "")
    respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
        httpx.Response(200, html=login_page),
        httpx.Response(200, html=page("checkedout_header_row_bs5.html"))])
    login = respx_mock.post("/MyResearch/Home").respond(
        302, headers={"Location": "/MyResearch/CheckedOut"})
    run(backend().loans())
    assert dict(form(login.calls.last.request))["target"] == "heili"
    assert consortia()["helmet"].login_target == "helmet"


# 13. A short loan's due time, written with dots.

def test_a_short_loans_due_time_is_read():
    short, other = pages.parse_loans(page("checkedout_short_loan_due_time.html")).loans
    assert short.due_date == date(2026, 5, 18) and short.due_time == time(14, 30)
    assert other.due_date == date(2026, 5, 30) and other.due_time is None
    # The checkout time of a loan taken out on its due day is not a due time.
    html = page("checkedout_short_loan_due_time.html").replace(
        ' <span class="due-time">14.30</span>', "")
    assert pages.parse_loans(html).loans[0].due_time is None


@respx.mock(base_url=BASE, assert_all_called=False)
def test_the_due_time_reaches_the_loan(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(
        200, html=page("checkedout_short_loan_due_time.html"))
    short, _ = run(backend().loans())
    assert short.due_time == time(14, 30) and short.to_dict()["due_time"] == "14:30"


# #18.2: the amount on the payment terms page.

def _terms_routes(respx_mock, terms: str):
    respx_mock.get("/MyResearch/Fines").respond(200, html=page("fines_total_bs5.html"))
    return respx_mock.post("/MyResearch/Fines").mock(side_effect=[
        httpx.Response(200, html=terms),
        httpx.Response(302, headers={"Location": "https://pay.example.com/x"})])


def _balance(cents: int) -> Balance:
    return Balance(card="home", items=(), total=Money(cents), online_payment_offered=True)


@respx.mock(base_url=BASE, assert_all_called=False)
def test_finnas_own_terms_form_confirms_the_amount_of_the_fines_page(respx_mock):
    # terms-PaytrailPaymentAPI.phtml shows no amount: Finna holds the amount of
    # the fines page for the transaction and refuses `pay-confirm` if it changed.
    posts = _terms_routes(respx_mock, page("payment_terms_paytrail_no_amount.html"))
    started = run(backend().start_payment(_balance(1320)))
    assert posts.call_count == 2 and started.url == "https://pay.example.com/x"
    assert started.amount == Money(1320)


@respx.mock(base_url=BASE, assert_all_called=False)
def test_payment_terms_without_an_amount_or_finnas_transaction_are_not_confirmed(respx_mock):
    terms = page("payment_terms_paytrail_no_amount.html").replace(
        '<input name="transactionId" type="hidden" value="5f1e2d3c4b5a69788796a5b4c3d2e1f0">', "")
    posts = _terms_routes(respx_mock, terms)
    with pytest.raises(Refused, match="nothing was charged"):
        run(backend().start_payment(_balance(1320)))
    assert posts.call_count == 1  # `pay` only, never `pay-confirm`


@respx.mock(base_url=BASE, assert_all_called=False)
def test_payment_terms_read_the_amount_shown_not_a_hidden_one(respx_mock):
    terms = page("payment_terms_hidden_decoy_amount.html").replace(
        'data-raw="850">8,50', 'data-raw="1320">13,20')
    posts = _terms_routes(respx_mock, terms)
    with pytest.raises(Refused, match="amount changed"):
        run(backend().start_payment(_balance(1320)))
    assert posts.call_count == 1
    assert pages.parse_payment_terms(terms).amount_cents == 1850


def test_payment_terms_with_two_amounts_shown_are_refused():
    terms = page("payment_terms_hidden_decoy_amount.html").replace(
        '<div class="hidden">', '<div>')
    assert pages.parse_payment_terms(terms).amount_cents is None
    assert pages.parse_payment_terms(terms).amounts_shown == 2


# #18.6: a page that claims millions of loans is read within a bound.

@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_loans_page_claiming_three_million_loans_is_refused_within_bounds(respx_mock):
    first = respx_mock.get("/MyResearch/CheckedOut").respond(
        200, html=page("checkedout_claims_three_million.html"))
    b = backend()
    with pytest.raises(PageNotUnderstood) as caught:
        run(b.loans())
    assert str(finna_backend.MAX_LOANS) in caught.value.message
    assert str(finna_backend.MAX_LOAN_PAGES) in caught.value.message
    assert first.call_count == 1 and b.requests == 1


# 7, the command: `hold place` shows the terms, and --accept-terms accepts them.

def test_hold_place_shows_the_terms_and_accept_terms_accepts_them(monkeypatch):
    from click.testing import CliRunner

    from libcli.cli import cli

    real = pages.parse_hold_form

    def with_terms(html):
        # The demo library's form, as a library that asks for terms prints it.
        form_ = real(html)
        form_.terms, form_.terms_field = TERMS, "gatheredDetails[acceptTerms]"
        return form_

    monkeypatch.setattr(pages, "parse_hold_form", with_terms)
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    from libcli.demo import in_demo_home

    with in_demo_home():
        _place_with_terms(runner, cli)


def _place_with_terms(runner, cli):
    found = json.loads(runner.invoke(cli, ["search", "Python Crash Course", "--library",
                                           "helmet", "--json"]).stdout)
    record = found["results"][0]["record_id"]
    args = ["hold", "place", record, "--card", "demo-helmet", "--pickup", "oodi"]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1, refused.stderr
    assert TERMS in refused.stderr and "--accept-terms" in refused.stderr
    placed = runner.invoke(cli, args + ["--accept-terms"])
    assert placed.exit_code == 0, placed.stderr
    assert "Hold placed" in placed.stderr + placed.stdout
