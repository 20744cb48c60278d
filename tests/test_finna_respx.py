"""The Finna backend against a faked site (respx): protocol edge cases that
the demo library does not produce on demand."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from libcli import http
from libcli.backends.finna import FinnaBackend
from libcli.errors import LoginRefused, PageNotUnderstood, Refused, Unreachable, UnsafeAddress
from libcli.model import Balance, Card, Money
from libcli.policy import consortia

BASE = "https://helmet.finna.fi"
FIXTURES = Path(__file__).parent / "fixtures" / "finna"
LOGIN = (FIXTURES / "login_fi.html").read_text("utf-8")
LOANS = (FIXTURES / "checkedout_fi.html").read_text("utf-8")
FINES = (FIXTURES / "fines_en.html").read_text("utf-8")
PIN = "4321-secret"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0)


class Pin:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return PIN


def backend(pin: Pin | None = None) -> FinnaBackend:
    client = http.make_client(BASE)
    card = Card(name="kid", library="helmet", number="2100000001")
    return FinnaBackend(card, consortia()["helmet"], client=client, pin=pin or Pin(),
                        session={}, today=date(2025, 3, 1))


def run(coro):
    return asyncio.run(coro)


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


@respx.mock(base_url=BASE, assert_all_called=True)
def test_warm_loans_is_one_request_and_never_asks_for_the_pin(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=LOANS)
    pin = Pin()
    b = backend(pin)
    loans = run(b.loans())
    assert [l.title for l in loans] == ["Tuntematon sotilas", "Aku Ankka 2025:12",
                                       "Muumipeikko ja pyrstötähti"]
    assert b.requests == 1 and pin.calls == 0


@respx.mock(base_url=BASE, assert_all_called=True)
def test_cold_login_is_three_requests_and_posts_every_hidden_field(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
        httpx.Response(200, html=LOGIN), httpx.Response(200, html=LOANS)])
    login = respx_mock.post("/MyResearch/Home").respond(
        302, headers={"Location": "/MyResearch/CheckedOut"})
    pin = Pin()
    b = backend(pin)
    loans = run(b.loans())
    assert len(loans) == 3
    assert b.requests == 3 and pin.calls == 1
    sent = dict(form(login.calls.last.request))
    assert sent["target"] == "helmet" and sent["auth_method"] == "MultiILS"
    assert sent["csrf"].startswith("0123456789abcdef")
    assert sent["processLogin"] == "Kirjaudu"
    assert sent["username"] == "2100000001" and sent["password"] == PIN


@respx.mock(base_url=BASE)
def test_refused_login_reports_the_sites_words_never_the_pin(respx_mock):
    refused = LOGIN.replace("Kirjaudu sisään ensin",
                            "Käyttäjätunnus/salasana ei täsmää. Yritä uudestaan.")
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=LOGIN)
    respx_mock.post("/MyResearch/Home").respond(200, html=refused)
    with pytest.raises(LoginRefused) as err:
        run(backend().loans())
    assert "Käyttäjätunnus/salasana ei täsmää" in str(err.value)
    assert PIN not in str(err.value) and PIN not in repr(err.value)
    assert err.value.exit_code == 4


@respx.mock(base_url=BASE)
def test_redirect_loop_is_unreachable(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(
        302, headers={"Location": "/MyResearch/CheckedOut"})
    with pytest.raises(Unreachable, match="redirected more than"):
        run(backend().loans())


@respx.mock(base_url=BASE)
def test_empty_body_is_not_understood(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(200, text="")
    with pytest.raises(PageNotUnderstood, match="empty"):
        run(backend().loans())


@respx.mock(base_url=BASE)
def test_truncated_page_is_not_understood(respx_mock):
    cut = LOANS[: LOANS.index('<tr id="recordhelmet.1111111"') + 200]
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=cut)
    with pytest.raises(PageNotUnderstood):
        run(backend().loans())


@respx.mock(base_url=BASE)
def test_a_500_on_get_is_retried(respx_mock):
    route = respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
        httpx.Response(500), httpx.Response(502), httpx.Response(200, html=LOANS)])
    assert len(run(backend().loans())) == 3
    assert route.call_count == 3


@respx.mock(base_url=BASE)
def test_a_renew_post_is_never_retried_and_the_account_is_read_again(respx_mock):
    reads = respx_mock.get("/MyResearch/CheckedOut").respond(200, html=LOANS)
    post = respx_mock.post("/MyResearch/CheckedOut").respond(500)
    b = backend()
    loans = run(b.loans())
    [result] = run(b.renew([loans[0]]))
    assert post.call_count == 1 and reads.call_count == 2  # the list, the re-read
    assert not result.renewed and "try again" in result.message


@respx.mock(base_url=BASE)
def test_a_dropped_connection_on_a_post_is_not_retried(respx_mock):
    renewed = LOANS.replace("<strong>Eräpäivä: 5.3.2025</strong>",
                            "<strong>Eräpäivä: 2.4.2025</strong>")
    respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
        httpx.Response(200, html=LOANS), httpx.Response(200, html=renewed)])
    post = respx_mock.post("/MyResearch/CheckedOut").mock(side_effect=httpx.ReadError("boom"))
    b = backend()
    loans = run(b.loans())
    [result] = run(b.renew([loans[0]]))
    assert post.call_count == 1
    # The library took it before the connection broke: the re-read shows it.
    assert result.renewed and result.new_due_date == date(2025, 4, 2)


@respx.mock(base_url=BASE)
def test_when_the_re_read_fails_too_the_outcome_is_unreachable(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").mock(
        side_effect=[httpx.Response(200, html=LOANS)] + [httpx.Response(503)] * 8)
    post = respx_mock.post("/MyResearch/CheckedOut").respond(500)
    b = backend()
    loans = run(b.loans())
    with pytest.raises(Unreachable):
        run(b.renew([loans[0]]))
    assert post.call_count == 1


@respx.mock(base_url=BASE)
def test_login_page_in_the_middle_of_a_renew_logs_in_and_rereads_without_reposting(respx_mock):
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=LOANS)
    renew_post = respx_mock.post("/MyResearch/CheckedOut").respond(200, html=LOGIN)
    login = respx_mock.post("/MyResearch/Home").respond(
        302, headers={"Location": "/MyResearch/CheckedOut"})
    pin = Pin()
    b = backend(pin)
    loans = run(b.loans())
    results = run(b.renew([loans[0], loans[2]]))
    assert renew_post.call_count == 1  # never re-posted
    assert login.call_count == 1 and pin.calls == 1
    assert [r.renewed for r in results] == [False, False]
    assert all("session expired" in r.message and "try again" in r.message for r in results)
    assert [r.loan_id for r in results] == [loans[0].id, loans[2].id]


@respx.mock(base_url=BASE)
def test_renew_posts_selected_tokens_with_the_lists_csrf_and_maps_rows(respx_mock):
    answer = LOANS.replace(
        "<strong>Eräpäivä: 5.3.2025</strong>",
        "<strong>Eräpäivä: 2.4.2025</strong><div class='alert alert-success'>Uusiminen onnistui</div>")
    answer = answer.replace(
        "<strong>Eräpäivä: 1.3.2025</strong>",
        "<strong>Eräpäivä: 1.3.2025</strong><div class='alert alert-danger'>Lainaa ei voitu "
        "uusia: Tämän lainan uusimiskerrat ovat tulleet täyteen</div>")
    respx_mock.get("/MyResearch/CheckedOut").respond(200, html=LOANS)
    post = respx_mock.post("/MyResearch/CheckedOut").respond(200, html=answer)
    b = backend()
    a, magazine, c = run(b.loans())
    results = run(b.renew([c, magazine, a]))
    sent = form(post.calls.last.request)
    assert ("renewSelected", "1") in sent and ("csrf", "aaaa1111aaaa1111aaaa1111aaaa1111-"
                                                       "bbbb2222bbbb2222bbbb2222bbbb2222") in sent
    assert [v for k, v in sent if k == "renewSelectedIDS[]"] == ["9003|5000003", "9001|5000001"]
    assert "selectAll" not in dict(sent)
    assert [(r.loan_id, r.renewed) for r in results] == [(c.id, False), (magazine.id, False),
                                                         (a.id, True)]
    assert results[0].message == "Tämän lainan uusimiskerrat ovat tulleet täyteen"
    assert "reserved" in results[1].message
    assert results[2].new_due_date == date(2025, 4, 2)


def _payment_routes(respx_mock, location: str):
    # The amount shown to the payer: a terms page without one is refused (#18.2).
    terms = """<html><body class="template-dir-myresearch template-name-fines">
    <p>Summa: <span class="amount" data-raw="123450">1 234,50 €</span></p>
    <form id="paytrail-form" method="post" action="/MyResearch/Fines">
    <input type="hidden" name="csrf" value="c-1"><input type="hidden" name="transactionId" value="t1">
    <input type="hidden" name="pay-confirm" value="1">
    <input type="submit" name="reset" value="Cancel"><input type="submit" name="pay-confirm" value="Accept">
    </form></body></html>"""
    respx_mock.get("/MyResearch/Fines").respond(200, html=FINES)
    return respx_mock.post("/MyResearch/Fines").mock(side_effect=[
        httpx.Response(200, html=terms), httpx.Response(302, headers={"Location": location})])


def _balance(cents: int = 123450) -> Balance:
    return Balance(card="kid", items=(), total=Money(cents), online_payment_offered=True)


@respx.mock(base_url=BASE)
def test_payment_returns_the_providers_https_address(respx_mock):
    posts = _payment_routes(respx_mock, "https://services.paytrail.com/pay/abc")
    start = run(backend().start_payment(_balance()))
    assert start.url == "https://services.paytrail.com/pay/abc"
    assert start.amount == Money(123450)
    first, second = (form(c.request) for c in posts.calls)
    assert ("transactionId", "d41d8cd98f00b204e9800998ecf8427e") in first and first[-1][0] == "pay"
    assert second == [("csrf", "c-1"), ("transactionId", "t1"), ("pay-confirm", "1")]


@pytest.mark.parametrize("location", ["javascript:alert(1)", "http://pay.example.com/x",
                                      "data:text/html,hi", "ftp://pay.example.com/"])
def test_payment_refuses_unsafe_addresses(location):
    with respx.mock(base_url=BASE) as respx_mock:
        _payment_routes(respx_mock, location)
        with pytest.raises(UnsafeAddress):
            run(backend().start_payment(_balance()))


@respx.mock(base_url=BASE)
def test_payment_refused_when_the_amount_changed(respx_mock):
    respx_mock.get("/MyResearch/Fines").respond(200, html=FINES)
    with pytest.raises(Refused, match="amount changed"):
        run(backend().start_payment(_balance(100)))


@respx.mock(base_url=BASE)
def test_payment_refused_while_one_is_in_progress(respx_mock):
    page = FINES.replace('<div id="online_payment_payable">',
                         '<div class="alert alert-danger">A payment is in progress. Please wait '
                         'before trying again.</div><div id="online_payment_payable">')
    respx_mock.get("/MyResearch/Fines").respond(200, html=page)
    with pytest.raises(Refused, match="in progress"):
        run(backend().start_payment(_balance()))


API = "https://api.finna.fi/v1/search"


@respx.mock
def test_search_error_envelope():
    respx.get(API).respond(400, json={"status": "ERROR", "statusMessage": "Invalid search"})
    from libcli.errors import LibcliError

    with pytest.raises(LibcliError, match="Invalid search"):
        run(backend().search("x"))


@respx.mock
def test_search_asks_finnas_public_api_with_the_building_filter_and_no_session():
    route = respx.get(API).respond(json={
        "status": "OK", "resultCount": 1,
        "records": [{"id": "helmet.1", "title": "Kalevala", "year": "1849"}]})
    b = backend()
    b.client.cookies.set("PHPSESSID", "the-patrons-session", domain="helmet.finna.fi")
    [r] = run(b.search("kalevala", limit=500))
    assert r.record_id == "helmet.1"
    request = route.calls.last.request
    assert request.url.host == "api.finna.fi"
    assert "cookie" not in request.headers  # the library's session stays with the library
    params = parse_qsl(request.url.query.decode())
    assert ("filter[]", 'building:"0/Helmet/"') in params
    assert ("limit", "100") in params and ("type", "AllFields") in params
    assert {v for k, v in params if k == "field[]"} == {"id", "title", "nonPresenterAuthors",
                                                        "year", "formats"}


@respx.mock
def test_a_card_with_its_own_address_searches_that_site():
    route = respx.get("http://127.0.0.1:8000/api/v1/search").respond(json={
        "status": "OK", "resultCount": 0, "records": []})
    card = Card(name="local", library="helmet", number="2100000001", url="http://127.0.0.1:8000")
    b = FinnaBackend(card, consortia()["helmet"], client=http.make_client(card.url), pin=Pin(),
                     session={}, today=date(2025, 3, 1))
    assert run(b.search("kalevala")) == []
    assert route.called


HOLDS = (FIXTURES / "holds_sv.html").read_text("utf-8")


@respx.mock(base_url=BASE)
def test_login_page_in_the_middle_of_a_cancel_is_not_reposted(respx_mock):
    respx_mock.get("/Holds/List").respond(200, html=HOLDS)
    cancel = respx_mock.post("/Holds/List").respond(200, html=LOGIN)
    respx_mock.post("/MyResearch/Home").respond(302, headers={"Location": "/Holds/List"})
    b = backend()
    holds = run(b.holds())
    [result] = run(b.cancel_holds([holds[0]]))
    assert cancel.call_count == 1
    assert sent_ids(cancel) == ["h-77"]
    assert not result.cancelled and "session expired" in result.message


def sent_ids(route) -> list[str]:
    return [v for k, v in form(route.calls.last.request) if k == "selectedIDS[]"]


@respx.mock(base_url=BASE)
def test_cancel_reports_a_per_row_refusal_in_the_sites_words(respx_mock):
    refused = HOLDS.replace(
        '<a class="hold-edit"',
        '<div class="alert alert-danger">1 reservation(er) kunde inte raderas. '
        'Reservationen kan inte längre raderas</div><a class="hold-edit"')
    respx_mock.get("/Holds/List").respond(200, html=HOLDS)
    cancel = respx_mock.post("/Holds/List").respond(200, html=refused)
    b = backend()
    holds = run(b.holds())
    results = run(b.cancel_holds(holds))
    data = form(cancel.calls.last.request)
    assert ("cancelSelected", "1") in data and ("confirm", "1") in data
    assert [r.cancelled for r in results] == [False, False, False]
    assert "kan inte längre raderas" in results[0].message
    assert "contact the pickup library" in results[1].message
    assert "on its way" in results[2].message


@pytest.mark.parametrize("given, sent", [("en", "en-gb"), ("en_GB", "en-gb"), ("sv", "sv"),
                                         ("fi", "fi")])
def test_language_codes_are_finnas(given, sent):
    from libcli.backends.finna import finna_language

    assert finna_language(given) == sent


def test_unknown_language_is_a_usage_error():
    from libcli.backends.finna import finna_language
    from libcli.errors import UsageError

    with pytest.raises(UsageError):
        finna_language("de")


@respx.mock(base_url=BASE)
def test_a_failing_redirect_after_a_post_does_not_send_the_post_again(respx_mock):
    """Login post → 302 → the follow-up GET answers 500: the POST is not repeated."""
    respx_mock.get("/MyResearch/CheckedOut").mock(side_effect=[
        httpx.Response(200, html=LOGIN)] + [httpx.Response(500)] * 8)
    login = respx_mock.post("/MyResearch/Home").respond(
        302, headers={"Location": "/MyResearch/CheckedOut"})
    # A cold read posts the login without following its redirect (the other
    # reads of the card go out with the follow-up GET), so the failing GET is
    # an ordinary read; either way the POST is not sent again.
    with pytest.raises(Unreachable, match="outcome is unknown|did not answer"):
        run(backend().loans())
    assert login.call_count == 1


@respx.mock(base_url=BASE)
def test_payment_stops_when_the_terms_page_shows_another_amount(respx_mock):
    terms = """<html><body class="template-dir-myresearch template-name-fines">
    <p>Summa: <span class="amount" data-raw="123570">1 235,70 €</span></p>
    <form id="paytrail-form" method="post" action="/MyResearch/Fines">
    <input type="hidden" name="csrf" value="c-1"><input type="hidden" name="pay-confirm" value="1">
    <input type="submit" name="pay-confirm" value="Accept"></form></body></html>"""
    respx_mock.get("/MyResearch/Fines").respond(200, html=FINES)
    posts = respx_mock.post("/MyResearch/Fines").respond(200, html=terms)
    with pytest.raises(Refused, match="amount changed"):
        run(backend().start_payment(_balance()))
    assert posts.call_count == 1  # `pay` only; never `pay-confirm`


HOLD_FORM = """<html><body class="template-dir-record template-name-hold">
<div class="hold-form"><form name="placeHold" method="post">
<select id="pickUpLocation" name="gatheredDetails[pickUpLocation]">
<option value="h00" selected>Oodi</option><option value="e10">Sello</option></select>
<input type="submit" name="placeHold" value="Lähetä"></form></div></body></html>"""
TAB = ('<div class="place-hold-wrapper"><a class="placehold btn btn-primary" '
       'href="/Record/helmet.1200007/Hold?id=helmet.1200007&amp;hashKey=abc#tabnav">Varaa</a></div>')


@pytest.mark.parametrize("on_account", [True, False])
def test_a_hold_post_whose_answer_is_lost_is_looked_up_on_the_account(on_account):
    with respx.mock(base_url=BASE) as respx_mock:
        respx_mock.post("/Record/helmet.1200007/AjaxTab").respond(200, html=TAB)
        form_get = respx_mock.get("/Record/helmet.1200007/Hold").respond(200, html=HOLD_FORM)
        post = respx_mock.post("/Record/helmet.1200007/Hold").mock(
            side_effect=httpx.ReadError("lost"))
        holds = HOLDS if on_account else HOLDS.replace("helmet.1200007", "helmet.1")
        respx_mock.get("/Holds/List").respond(200, html=holds)
        result = run(backend().place_hold("helmet.1200007", "sello"))
        assert post.call_count == 1 and form_get.call_count == 1
        assert dict(form(post.calls.last.request))["gatheredDetails[pickUpLocation]"] == "e10"
        assert form_get.calls.last.request.url.params["hashKey"] == "abc"
        assert result.placed is on_account
        assert on_account or "try again" in result.message
