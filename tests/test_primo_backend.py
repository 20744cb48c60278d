"""The Primo VE backend (Andor) against JSON fixtures we wrote after the
shapes other clients show (tests/fixtures/primo/SOURCES.md), faked with
respx. Every route must be called; request counts are pinned where the
design promises them (a warm read is one request)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from libcli import http
from libcli.backends import primo_json as pj
from libcli.backends.primo import PrimoBackend
from libcli.errors import LibcliError, LoginRefused, NotSupported, PageNotUnderstood, UsageError
from libcli.model import Card, FeeType, HoldStatus
from libcli.policy import consortia

FIXTURES = Path(__file__).parent / "fixtures" / "primo"
HOST = "https://andor.tuni.fi"
VID = "358FIN_TAMPO:VU1"
CONFIG = f"/primaws/rest/pub/configuration/vid/{VID}"
LOGIN = "/primaws/suprimaLogin"
ACCOUNT = "/primaws/rest/priv/myaccount/"
PIN = "s3cr3tpw"
IAT = 1764633600  # the fixtures' tokens: issued then, valid 24 h
NOW = IAT + 3600
TODAY = date(2025, 12, 2)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text("utf-8"))


def token_of(name: str) -> str:
    return pj.token_from_login(fixture(name))


TOKEN = token_of("login_ok_quoted_jwt.json")
TOKEN2 = token_of("login_ok_second_jwt.json")


def warm_session(config: str = "config_vu1_password_and_haka.json", token: str = TOKEN,
                 exp: int = IAT + 86400) -> dict:
    conf = pj.read_config(fixture(config))
    return {"primo": {"view": VID, "fetched": NOW - 60, "config": conf.to_session()},
            "jwt": token, "jwt_exp": exp}


def backend(session: dict | None = None, *, language: str | None = None) -> PrimoBackend:
    asked = []

    def pin():
        asked.append(1)
        return PIN

    b = PrimoBackend(Card("t", "tuni", "2000123"), consortia()["tuni"],
                     client=http.make_client(HOST), pin=pin, session=session,
                     today=TODAY, language=language)
    b.clock = lambda: NOW
    b.pins_asked = asked
    return b


def run(coro):
    return asyncio.run(coro)


def ok(name: str) -> httpx.Response:
    return httpx.Response(200, json=fixture(name))


def bearer(route, n=-1) -> str:
    return route.calls[n].request.headers.get("authorization", "")


def body(route, n=-1):
    return json.loads(route.calls[n].request.content)


# --- the configuration and the login ----------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_cold_read_fetches_the_configuration_logs_in_with_the_password_profile(respx_mock):
    conf = respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_password_and_haka.json"))
    login = respx_mock.post(LOGIN).mock(return_value=ok("login_ok_quoted_jwt.json"))
    loans = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_three.json"))
    b = backend()
    assert len(run(b.loans())) == 3
    assert conf.call_count == login.call_count == loans.call_count == 1
    form = parse_qs(login.calls[0].request.content.decode())
    assert form == {"authenticationProfile": ["Alma"], "username": ["2000123"],
                    "password": [PIN], "institution": ["358FIN_TAMPO"], "view": [VID],
                    "targetUrl": [f"{HOST}/discovery/search?vid={VID}"]}
    assert login.calls[0].request.url.params["lang"] == "fi"
    # The quotes around jwtData's token are stripped; exp is read as base64url.
    assert bearer(loans) == f"Bearer {TOKEN}" and '"' not in TOKEN
    assert b.session["jwt"] == TOKEN and b.session["jwt_exp"] == IAT + 86400
    assert b.session["primo"]["config"]["profile"] == "Alma"
    assert b.requests == 3 and len(b.pins_asked) == 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_view_with_only_single_sign_on_says_so_and_sends_no_pin(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_haka_only.json"))
    b = backend()
    with pytest.raises(NotSupported) as err:
        run(b.loans())
    assert "only single sign-on (HAKA)" in err.value.message
    assert b.pins_asked == [] and b.requests == 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_refused_login_is_login_refused_once_and_names_no_pin(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_password_and_haka.json"))
    login = respx_mock.post(LOGIN).respond(401)
    b = backend()
    for _ in range(2):  # a second read in the same run does not post the PIN again
        with pytest.raises(LoginRefused) as err:
            run(b.loans())
        assert PIN not in str(err.value) and PIN not in repr(err.value.__dict__)
    assert login.call_count == 1 and len(b.pins_asked) == 1
    assert "jwt" not in b.session


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_warm_read_is_one_request(respx_mock):
    loans = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_three.json"))
    b = backend(warm_session())
    run(b.loans())
    assert b.requests == 1 and loans.call_count == 1 and b.pins_asked == []
    assert bearer(loans) == f"Bearer {TOKEN}"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_three_concurrent_reads_with_an_expired_token_log_in_exactly_once(respx_mock):
    login = respx_mock.post(LOGIN).mock(return_value=ok("login_ok_second_jwt.json"))
    loans = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_three.json"))
    holds = respx_mock.get(ACCOUNT + "requests").mock(return_value=ok("requests_three_states.json"))
    fines = respx_mock.get(ACCOUNT + "fines").mock(return_value=ok("fines_one_overdue_fi.json"))
    b = backend(warm_session(exp=NOW + 10))  # within the margin: treated as expired

    async def status():
        return await asyncio.gather(b.loans(), b.holds(), b.fees())

    run(status())
    assert login.call_count == 1 and len(b.pins_asked) == 1
    assert all(bearer(r) == f"Bearer {TOKEN2}" for r in (loans, holds, fines))
    assert b.requests == 4  # no configuration fetch: it is cached


@pytest.mark.parametrize("stale", ["http401", "http403", "failed0002"])
@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_token_the_library_no_longer_takes_is_one_relogin(respx_mock, stale):
    first = (httpx.Response(401) if stale == "http401" else httpx.Response(403)
             if stale == "http403" else ok("failed_0002_patron_invalid.json"))
    loans = respx_mock.get(ACCOUNT + "loans").mock(side_effect=[first, ok("loans_three.json")])
    login = respx_mock.post(LOGIN).mock(return_value=ok("login_ok_second_jwt.json"))
    b = backend(warm_session())
    assert len(run(b.loans())) == 3
    assert login.call_count == 1 and loans.call_count == 2
    assert bearer(loans, 0) == f"Bearer {TOKEN}" and bearer(loans, 1) == f"Bearer {TOKEN2}"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_session_refused_again_after_the_relogin_is_an_error_not_a_loop(respx_mock):
    loans = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("failed_0002_patron_invalid.json"))
    login = respx_mock.post(LOGIN).mock(return_value=ok("login_ok_second_jwt.json"))
    with pytest.raises(LoginRefused):
        run(backend(warm_session()).loans())
    assert loans.call_count == 2 and login.call_count == 1


@pytest.mark.parametrize("path, read", [("loans", "loans"), ("requests", "holds"),
                                        ("fines", "fees")])
@respx.mock(base_url=HOST, assert_all_called=True)
def test_another_failed_reply_is_an_error_never_an_empty_account(respx_mock, path, read):
    respx_mock.get(ACCOUNT + path).mock(return_value=ok("failed_0007_record_locked.json"))
    b = backend(warm_session())
    with pytest.raises(LibcliError) as err:
        run(getattr(b, read)())
    assert "Tietuetta käsitellään" in err.value.message and "0007" in err.value.message
    assert b.pins_asked == []


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_non_json_answer_is_not_understood(respx_mock):
    respx_mock.get(ACCOUNT + "loans").respond(200, html="<html>Huoltokatko</html>")
    with pytest.raises(PageNotUnderstood) as err:
        run(backend(warm_session()).loans())
    assert err.value.page == "loans"


# --- loans ----------------------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_loans_are_paged_by_offset_until_showmore_says_no(respx_mock):
    route = respx_mock.get(ACCOUNT + "loans").mock(side_effect=[
        ok("loans_page1_showmore_Y.json"), ok("loans_page2_last.json")])
    b = backend(warm_session())
    loans = run(b.loans())
    assert len(loans) == 52 and len({l.key for l in loans}) == 52
    offsets = [c.request.url.params["offset"] for c in route.calls]
    assert offsets == ["1", "51"]
    assert {c.request.url.params["bulk"] for c in route.calls} == {"50"}
    assert b.session["loan_pages"] == 2
    first = loans[0]
    assert first.title == "Kirja 1" and first.author == "Kirjoittaja 1"  # " / author" cut
    assert first.due_date == date(2025, 12, 15) and first.renewable
    assert first.barcode == "3000000001" and first.call_number == "81.2"
    reserved = next(l for l in loans if l.key == "234500500005973")
    assert not reserved.renewable and reserved.not_renewable_reason == "Varattu toiselle asiakkaalle"
    # renewstatuses as a bare string, not an array
    limit = next(l for l in loans if l.key == "234500510005973")
    assert limit.not_renewable_reason == "Uusintakerrat täynnä"
    assert reserved.status.value == "due_soon" and limit.status.value == "overdue"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_paged_account_read_warm_asks_its_known_pages_together(respx_mock):
    route = respx_mock.get(ACCOUNT + "loans").mock(side_effect=lambda req: ok(
        "loans_page1_showmore_Y.json" if req.url.params["offset"] == "1" else "loans_page2_last.json"))
    session = warm_session() | {"loan_pages": 2}
    b = backend(session)
    assert len(run(b.loans())) == 52 and route.call_count == 2


@pytest.mark.parametrize("path, read, name, count", [
    ("loans", "loans", "loans_one_loan_as_object.json", 1), ("loans", "loans", "loans_none.json", 0),
    ("requests", "holds", "requests_one_hold_as_object.json", 1),
    ("requests", "holds", "requests_none.json", 0),
    ("fines", "fees", "fines_one_overdue_fi.json", 1), ("fines", "fees", "fines_none_empty_data.json", 0)])
@respx.mock(base_url=HOST, assert_all_called=True)
def test_one_row_as_an_object_and_an_empty_list_are_read(respx_mock, path, read, name, count):
    respx_mock.get(ACCOUNT + path).mock(return_value=ok(name))
    got = run(getattr(backend(warm_session()), read)())
    assert len(got.items if read == "fees" else got) == count


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_loan_without_its_id_is_not_understood(respx_mock):
    respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_row_without_loanid.json"))
    with pytest.raises(PageNotUnderstood) as err:
        run(backend(warm_session()).loans())
    assert "loanid" in err.value.missing


# --- renewing --------------------------------------------------------------------------------------


def _three_loans(respx_mock):
    respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_three.json"))
    b = backend(warm_session())
    loans = run(b.loans())
    respx_mock.routes.clear()
    return b, loans


@respx.mock(base_url=HOST, assert_all_called=True)
def test_renew_posts_one_id_per_loan_and_reads_each_result_from_its_answer(respx_mock):
    b, loans = _three_loans(respx_mock)
    answers = {loans[0].key: ok("renew_answer_carries_loan.json"),
               loans[1].key: ok("renew_answer_carries_loan_unchanged.json"),
               loans[2].key: ok("failed_0007_record_locked.json")}
    post = respx_mock.post(ACCOUNT + "renew_loans").mock(
        side_effect=lambda req: answers[json.loads(req.content)["id"]])
    results = run(b.renew(loans))
    assert post.call_count == 3
    assert sorted(json.loads(c.request.content)["id"] for c in post.calls) == sorted(
        l.key for l in loans)
    assert [r.loan_id for r in results] == [l.id for l in loans]
    assert results[0].renewed and results[0].new_due_date == date(2026, 1, 5)
    assert not results[1].renewed and results[1].message == "Aineisto on varattu"
    assert not results[2].renewed and "Tietuetta käsitellään" in results[2].message
    assert all(c.request.headers["content-type"].startswith("application/json") for c in post.calls)


@respx.mock(base_url=HOST, assert_all_called=True)
def test_renew_answers_without_the_loan_are_checked_by_one_read_of_the_loans(respx_mock):
    b, loans = _three_loans(respx_mock)
    post = respx_mock.post(ACCOUNT + "renew_loans").mock(
        return_value=ok("renew_answer_without_loan.json"))
    read = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_after_renew.json"))
    results = run(b.renew(loans))
    assert post.call_count == 3 and read.call_count == 1
    assert [r.renewed for r in results] == [False, True, False]
    assert results[1].new_due_date == date(2026, 1, 5)
    assert results[0].message == "the library gave no answer for this loan"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_lost_renew_answer_is_never_posted_again(respx_mock):
    b, loans = _three_loans(respx_mock)
    post = respx_mock.post(ACCOUNT + "renew_loans").mock(
        side_effect=httpx.RemoteProtocolError("connection dropped"))
    read = respx_mock.get(ACCOUNT + "loans").mock(return_value=ok("loans_after_renew.json"))
    results = run(b.renew(loans))
    assert post.call_count == 3  # once per loan, never again
    assert read.call_count == 1
    assert [r.renewed for r in results] == [False, True, False]
    assert "answer was lost" in results[0].message


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_renew_refused_for_a_stale_token_is_posted_again_after_the_login(respx_mock):
    b, loans = _three_loans(respx_mock)
    post = respx_mock.post(ACCOUNT + "renew_loans").mock(side_effect=[
        httpx.Response(401), ok("renew_answer_carries_loan.json")])
    login = respx_mock.post(LOGIN).mock(return_value=ok("login_ok_second_jwt.json"))
    [result] = run(b.renew(loans[:1]))
    assert result.renewed and post.call_count == 2 and login.call_count == 1


def test_a_loan_the_library_marks_unrenewable_is_not_posted():
    b = backend(warm_session())
    data = pj.check(fixture("loans_page2_last.json"), "loans")
    loans, _ = pj.read_loans(data, card="t", policy=b.policy, today=TODAY)
    with respx.mock(base_url=HOST, assert_all_called=False) as mock:
        post = mock.post(ACCOUNT + "renew_loans")
        results = run(b.renew(loans[:1]))
    assert post.call_count == 0 and not results[0].renewed
    assert results[0].message == "Uusintakerrat täynnä"


# --- holds and cancelling ------------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_holds_in_three_states(respx_mock):
    respx_mock.get(ACCOUNT + "requests").mock(return_value=ok("requests_three_states.json"))
    holds = run(backend(warm_session()).holds())
    assert [h.status for h in holds] == [HoldStatus.WAITING, HoldStatus.IN_TRANSIT,
                                         HoldStatus.READY]
    ready = holds[2]
    assert ready.pickup_by == date(2025, 12, 9) and not ready.cancellable
    assert holds[0].pickup_location == "Pääkirjasto Linna" and holds[0].created == date(2025, 11, 20)
    assert holds[0].title == "Varattu kirja 1" and holds[0].cancellable
    assert holds[0].queue_position == 2 and holds[1].queue_position is None


@respx.mock(base_url=HOST, assert_all_called=True)
def test_cancel_posts_the_verified_body_and_a_ready_hold_is_not_posted(respx_mock):
    respx_mock.get(ACCOUNT + "requests").mock(return_value=ok("requests_three_states.json"))
    b = backend(warm_session())
    holds = run(b.holds())
    post = respx_mock.post(ACCOUNT + "cancel_requests").mock(return_value=ok("cancel_ok_note_info.json"))
    results = run(b.cancel_holds([holds[0], holds[2]]))
    assert body(post) == {"request_id": "876500010005973", "request_type": "holds"}
    assert post.call_count == 1
    assert [r.cancelled for r in results] == [True, False]
    assert "ready for pickup" in results[1].message


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_refused_cancel_reports_the_librarys_words(respx_mock):
    respx_mock.get(ACCOUNT + "requests").mock(return_value=ok("requests_three_states.json"))
    b = backend(warm_session())
    holds = run(b.holds())
    respx_mock.post(ACCOUNT + "cancel_requests").mock(return_value=ok("failed_0007_record_locked.json"))
    [result] = run(b.cancel_holds(holds[:1]))
    assert not result.cancelled and result.message == "Tietuetta käsitellään, yritä myöhemmin"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_lost_cancel_answer_is_checked_in_the_list_not_posted_again(respx_mock):
    reads = respx_mock.get(ACCOUNT + "requests").mock(side_effect=[
        ok("requests_three_states.json"), ok("requests_after_cancel.json")])
    b = backend(warm_session())
    holds = run(b.holds())
    post = respx_mock.post(ACCOUNT + "cancel_requests").mock(
        side_effect=httpx.ReadTimeout("no answer"))
    [result] = run(b.cancel_holds(holds[:1]))
    assert result.cancelled and post.call_count == 1 and reads.call_count == 2


# --- fees and payment ---------------------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_fines_are_integer_cents_and_the_total_is_the_open_ones(respx_mock):
    respx_mock.get(ACCOUNT + "fines").mock(return_value=ok("fines_open_and_closed_fi.json"))
    balance = run(backend(warm_session()).fees())
    assert [f.amount.cents for f in balance.items] == [20, 123450, 100]  # CLOSED left out
    assert balance.total.cents == 123570 and balance.total.currency == "EUR"
    assert [f.fee_type for f in balance.items] == [FeeType.OVERDUE, FeeType.REPLACEMENT,
                                                   FeeType.UNCOLLECTED_HOLD]
    assert balance.items[0].created == date(2025, 11, 5) and balance.items[0].title == "Kirja 1"
    assert not balance.online_payment_offered and "pay at the library" in balance.site_reason


@respx.mock(base_url=HOST, assert_all_called=True)
def test_the_pay_link_of_the_configuration_is_the_payment_start(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_pay_link.json"))
    respx_mock.get(ACCOUNT + "fines").mock(return_value=ok("fines_one_overdue_fi.json"))
    b = backend(warm_session("config_vu1_pay_link.json"))
    balance = run(b.fees())
    assert balance.online_payment_offered and balance.total.cents == 430
    started = run(b.start_payment(balance))
    assert started.url == "https://www.paytrail.com/pay/tuni-demo"
    assert started.amount == balance.total
    assert TOKEN not in started.url


@respx.mock(base_url=HOST, assert_all_called=True)
def test_without_a_pay_link_payment_is_not_supported_and_says_where_to_pay(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_password_and_haka.json"))
    respx_mock.get(ACCOUNT + "fines").mock(return_value=ok("fines_one_overdue_fi.json"))
    b = backend(warm_session())
    balance = run(b.fees())
    with pytest.raises(NotSupported) as err:
        run(b.start_payment(balance))
    assert "pay at the library's service desk" in err.value.message


@pytest.mark.parametrize("fines, why", [("fines_open_and_closed_fi.json", "replacement"),
                                        ("fines_low", "below the online minimum")])
@respx.mock(base_url=HOST, assert_all_called=True)
def test_payment_keeps_the_seeds_rules(respx_mock, fines, why):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_pay_link.json"))
    if fines == "fines_low":
        doc = fixture("fines_one_overdue_fi.json")
        doc["data"]["fines"]["fine"]["finesum"] = "2,99 €"  # the seed's minimum is 3,00 €
        answer = httpx.Response(200, json=doc)
    else:
        answer = ok(fines)
    respx_mock.get(ACCOUNT + "fines").mock(return_value=answer)
    b = backend(warm_session("config_vu1_pay_link.json"))
    balance = run(b.fees())
    with pytest.raises(LibcliError) as err:
        run(b.start_payment(balance))
    assert why in err.value.message


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_pay_link_to_an_unknown_host_is_refused(respx_mock):
    doc = fixture("config_vu1_pay_link.json")
    doc["mapping-tables"]["My Account Links"][0]["target"] = "https://pay.example.net/x"
    respx_mock.get(CONFIG).respond(200, json=doc)
    respx_mock.get(ACCOUNT + "fines").mock(return_value=ok("fines_one_overdue_fi.json"))
    b = backend(warm_session("config_vu1_pay_link.json"))
    with pytest.raises(LibcliError) as err:
        run(b.start_payment(run(b.fees())))
    assert "neither the library's host nor a known payment provider" in err.value.message


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_balance_changed_since_it_was_shown_starts_no_payment(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_pay_link.json"))
    respx_mock.get(ACCOUNT + "fines").mock(side_effect=[ok("fines_one_overdue_fi.json"),
                                                        ok("fines_open_and_closed_fi.json")])
    b = backend(warm_session("config_vu1_pay_link.json"))
    balance = run(b.fees())
    with pytest.raises(LibcliError) as err:
        run(b.start_payment(balance))
    assert "changed" in err.value.message


# --- search ------------------------------------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_search_uses_the_views_local_scope_and_needs_no_login(respx_mock):
    route = respx_mock.get("/primaws/rest/pub/pnxs").mock(return_value=ok("search_pnxs_kalevala.json"))
    b = backend(warm_session(token=""))
    results = run(b.search("Kalevala", limit=5))
    params = route.calls[0].request.url.params
    assert params["q"] == "any,contains,Kalevala" and params["vid"] == VID
    assert (params["tab"], params["scope"], params["inst"]) == ("LibraryCatalog", "MyInstitution",
                                                                "358FIN_TAMPO")
    assert params["limit"] == "5" and params["offset"] == "0" and "qInclude" in params
    assert "authorization" not in route.calls[0].request.headers
    assert results[0].record_id == "9911130510505973" and results[0].title == "Kalevala"
    assert results[0].authors == ("Lönnrot, Elias", "Kuvittaja, Akseli")
    assert results[0].year == "1849" and results[0].formats == ("book",)
    assert results[1].record_id == "cdi_demo_kalevala_1"  # a bare string title is read too
    assert b.requests == 1


# --- placing a hold -----------------------------------------------------------------------------------------------

ITEM_SERVICE = ("/primaws/rest/priv/ILSServices/itemServices/9911130510505973/item/"
                "23111111110005973/8594000111/AlmaItemRequest")


def _hold_chain(respx_mock):
    respx_mock.get("/primaws/rest/pub/pnxs/L/alma9911130510505973").mock(
        return_value=ok("record_pnxs_L_with_delivery.json"))
    service = respx_mock.get("/primaws/rest/pub/getPhysicalService/9911130510505973").mock(
        return_value=ok("physical_service_id.json"))
    holdings = respx_mock.post("/primaws/rest/priv/ILSServices/holdings/8594000111").mock(
        return_value=ok("holdings_items_one_requestable.json"))
    form = respx_mock.get(ITEM_SERVICE).mock(return_value=ok("request_form_hold_two_pickups.json"))
    return service, holdings, form


@respx.mock(base_url=HOST, assert_all_called=True)
def test_pickup_locations_follow_the_uis_chain(respx_mock):
    service, holdings, form = _hold_chain(respx_mock)
    b = backend(warm_session())
    locations = run(b.pickup_locations("9911130510505973"))
    assert [(p.code, p.name) for p in locations] == [("11112222330005973", "Pääkirjasto Linna"),
                                                     ("11112222440005973", "Hervannan kirjasto")]
    assert service.calls[0].request.url.params["recordOwner"] == "358FIN_TAMPO"
    sent = body(holdings)
    assert len(sent["locations"]) == 1 and sent["locations"][0]["holKey"].startswith("HoldingResultKey")
    assert sent["filters"]["holid"] == "22111111110005973"
    assert form.calls[0].request.url.params["itemid"] == "23111111110005973"
    assert bearer(holdings) == bearer(form) == f"Bearer {TOKEN}"
    assert b.requests == 4


@respx.mock(base_url=HOST, assert_all_called=True)
def test_placing_a_hold_submits_the_captured_body_with_the_chosen_pickup(respx_mock):
    _hold_chain(respx_mock)
    submit = respx_mock.post(ITEM_SERVICE).mock(return_value=ok("submit_ok_no_request_id.json"))
    result = run(backend(warm_session()).place_hold("alma9911130510505973", "herv"))
    assert result.placed and result.pickup_location == "Hervannan kirjasto"
    assert body(submit) == {"requestType": "hold", "itemId": "23111111110005973",
                            "group_id": "9911130510505973", "materialType": "BOOK",
                            "pickupLocation": "11112222440005973",
                            "pickupLibraryId": "11112222440005973", "pickupType": "LIBRARY"}
    params = submit.calls[0].request.url.params
    assert params["institution"] == "358FIN_TAMPO" and params["hasHold"] == "true"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_refused_hold_is_placed_false_with_the_librarys_words(respx_mock):
    _hold_chain(respx_mock)
    respx_mock.post(ITEM_SERVICE).mock(return_value=ok("submit_failed_already_requested.json"))
    result = run(backend(warm_session()).place_hold("9911130510505973", "Pääkirjasto Linna"))
    assert not result.placed and result.message == "Olet jo varannut tämän nimekkeen"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_an_unknown_pickup_location_lists_the_choices_and_submits_nothing(respx_mock):
    _hold_chain(respx_mock)
    with pytest.raises(UsageError) as err:
        run(backend(warm_session()).place_hold("9911130510505973", "Kauppi"))
    assert "Hervannan kirjasto" in str(err.value.problems)


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_lost_hold_answer_is_looked_up_in_the_holds_not_posted_again(respx_mock):
    _hold_chain(respx_mock)
    submit = respx_mock.post(ITEM_SERVICE).mock(side_effect=httpx.RemoteProtocolError("dropped"))
    respx_mock.get(ACCOUNT + "requests").mock(return_value=ok("requests_three_states.json"))
    result = run(backend(warm_session()).place_hold("9911130510505973", "Pääkirjasto Linna"))
    assert submit.call_count == 1 and not result.placed and "look again" in result.message


# --- the JWT reader --------------------------------------------------------------------------------------------


def test_the_tokens_expiry_is_read_as_base64url():
    payload = TOKEN.split(".")[1]
    assert "-" in payload or "_" in payload  # standard base64 would lose these
    assert pj.token_expiry(TOKEN) == IAT + 86400
    assert pj.token_expiry("not-a-token") is None


@respx.mock(base_url=HOST, assert_all_called=True)
def test_identify_reads_the_views_configuration_without_a_login(respx_mock):
    respx_mock.get(CONFIG).mock(return_value=ok("config_vu1_password_and_haka.json"))
    b = backend()
    run(b.identify())
    assert b.pins_asked == [] and b.session["primo"]["config"]["institution"] == "358FIN_TAMPO"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_identify_refuses_a_site_that_is_not_primo_ve(respx_mock):
    respx_mock.get(CONFIG).respond(404, html="<html>Not found</html>")
    with pytest.raises(PageNotUnderstood) as err:
        run(backend().identify())
    assert "does not look like Primo VE" in err.value.missing
