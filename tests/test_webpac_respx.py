"""The WebPAC backend against awkward answers, faked with respx: a busy
record, pages in the wrong charset, an unclosed row, a truncated page, lost
sessions, unclear renewals, CAS hidden fields. Every route must be called."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from libcli import http
from libcli.backends.webpac import WebPACBackend
from libcli.errors import ExitCode, LoginRefused, NotSupported, PageNotUnderstood, Unreachable
from libcli.model import Card
from libcli.policy import consortia

FIXTURES = Path(__file__).parent / "fixtures" / "webpac"
HOST = "https://www.ester.ee"
PATH = "/patroninfo~S8*est/1234567"
PIN = "8642"
TODAY = date(2026, 11, 23)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def html(text: str, charset: str = "UTF-8", status: int = 200, **kw) -> httpx.Response:
    body = text.encode("latin-1" if charset.upper() == "ISO-8859-1" else "utf-8")
    return httpx.Response(status, content=body,
                          headers={"content-type": f"text/html; charset={charset}"}, **kw)


def raw(body: bytes, charset: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": f"text/html; charset={charset}"})


LOGIN_PAGE = ('<html><body><form name="patform" method="POST">'
              '<input type="text" name="code" /><input type="password" name="pin" />'
              '<input type="hidden" name="pat_submit" value="xxx" /></form></body></html>')
IN_USE = "<html><body><p>Your record is in use by system. Please try again later.</p></body></html>"


def backend(*, logged_in: bool = True, language: str = "est") -> WebPACBackend:
    asked = []

    def pin():
        asked.append(1)
        return PIN

    b = WebPACBackend(Card("mari", "tallinn", "30000001"), consortia()["tallinn"],
                      client=http.make_client(HOST), pin=pin,
                      session={"patron_path": PATH} if logged_in else {},
                      today=TODAY, language=language)
    b.busy_wait = 0
    b.pins_asked = asked
    return b


def run(coro):
    return asyncio.run(coro)


def form(route, n=-1) -> dict[str, list[str]]:
    return parse_qs(route.calls[n].request.content.decode())


# --- login ---------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_classic_login_posts_code_and_pin_to_itself(respx_mock):
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    post = respx_mock.post("/patroninfo~S8*est").respond(
        302, headers={"location": f"{PATH}/top"})
    respx_mock.get(f"{PATH}/items").mock(return_value=html(fixture("items_none.html")))
    b = backend(logged_in=False)
    assert run(b.loans()) == []
    assert form(post) == {"code": ["30000001"], "pin": [PIN], "pat_submit": ["xxx"]}
    assert b.session == {"patron_path": PATH} and b.requests == 3 and len(b.pins_asked) == 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_cas_login_copies_every_hidden_input_and_follows_the_ticket(respx_mock):
    cas = "/iii/cas/login?service=https%3A%2F%2Fwww.ester.ee%3A443%2Fpatroninfo~S8%2FIIITICKET&scope=8"
    respx_mock.get("/patroninfo~S8*est").respond(302, headers={"location": cas})
    respx_mock.get(url__startswith=f"{HOST}/iii/cas/login").respond(
        200, html=fixture("login_cas.html"))
    post = respx_mock.post(url__startswith=f"{HOST}/iii/cas/login;jsessionid=ABC123").respond(
        302, headers={"location": f"{HOST}/patroninfo~S8/IIITICKET?ticket=ST-1"})
    respx_mock.get("/patroninfo~S8/IIITICKET").respond(302, headers={"location": f"{PATH}/top"})
    b = backend(logged_in=False)
    run(b.login())
    assert form(post) == {"code": ["30000001"], "pin": [PIN], "lt": ["LT-1234-abcdef"],
                          "execution": ["e1s1"], "_eventId": ["submit"], "submit": ["Login"]}
    assert b.session == {"patron_path": PATH} and b.requests == 4


@respx.mock(base_url=HOST, assert_all_called=True)
def test_refused_login_in_estonian_names_the_sites_text_not_the_pin(respx_mock):
    refused = LOGIN_PAGE.replace(
        "<input type=\"text\"",
        '<span class="errormessage">Vabandame, sisestatud andmed on vigased.</span><input type="text"')
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    respx_mock.post("/patroninfo~S8*est").respond(200, html=refused)
    with pytest.raises(LoginRefused) as err:
        run(backend(logged_in=False).login())
    assert err.value.exit_code == ExitCode.LOGIN_REFUSED
    assert "Vabandame, sisestatud andmed on vigased." in str(err.value)
    assert PIN not in str(err.value) and PIN not in repr(err.value)


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_dropped_login_post_does_not_leak_the_pin(respx_mock):
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    post = respx_mock.post("/patroninfo~S8*est").mock(side_effect=httpx.ConnectError("reset"))
    with pytest.raises(Unreachable) as err:
        run(backend(logged_in=False).login())
    assert PIN not in str(err.value) and post.call_count == 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_login_page_without_a_form_is_not_understood(respx_mock):
    respx_mock.get("/patroninfo~S8*est").respond(200, html="<html><body>Maintenance</body></html>")
    with pytest.raises(PageNotUnderstood) as err:
        run(backend(logged_in=False).login())
    assert err.value.page == "login" and err.value.exit_code == ExitCode.NOT_UNDERSTOOD


@respx.mock(base_url=HOST, assert_all_called=True)
def test_lost_session_logs_in_once_and_reads_again(respx_mock):
    items = respx_mock.get(f"{PATH}/items").mock(side_effect=[
        html(LOGIN_PAGE), html(fixture("items_classic_eng.html"))])
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    respx_mock.post("/patroninfo~S8*est").respond(302, headers={"location": f"{PATH}/top"})
    b = backend()
    assert len(run(b.loans())) == 5
    assert items.call_count == 2 and len(b.pins_asked) == 1


# --- busy records, charsets, broken markup --------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_record_in_use_then_success(respx_mock):
    items = respx_mock.get(f"{PATH}/items").mock(side_effect=[
        html(IN_USE), html(IN_USE), html(fixture("items_classic_eng.html"))])
    b = backend()
    loans = run(b.loans())
    assert len(loans) == 5 and items.call_count == 3 and b.pins_asked == []


@respx.mock(base_url=HOST, assert_all_called=True)
def test_record_in_use_for_too_long_is_reported(respx_mock):
    items = respx_mock.get(f"{PATH}/items").mock(return_value=html(IN_USE))
    b = backend()
    with pytest.raises(Unreachable, match="in use by the system"):
        run(b.loans())
    assert items.call_count == b.busy_retries + 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_utf8_page_labelled_latin1_is_read_right(respx_mock):
    body = fixture("items_s53_est.html").encode("utf-8")
    respx_mock.get(f"{PATH}/items").mock(return_value=raw(body, "ISO-8859-1"))
    loans = run(backend().loans())
    assert [l.due_date for l in loans] == [date(2026, 12, 3), date(2026, 12, 14), date(2026, 11, 28)]
    assert loans[1].title == "Looming 2024 (köide)" and loans[0].reserved_by_others


@respx.mock(base_url=HOST, assert_all_called=True)
def test_latin1_page_labelled_utf8_is_read_right(respx_mock):
    body = fixture("holds_s53_est.html").replace('charset="UTF-8"', "").encode("latin-1")
    respx_mock.get(f"{PATH}/holds").mock(return_value=raw(body, "UTF-8"))
    holds = run(backend().holds())
    assert holds[1].title == "Mielensäpahoittaja" and holds[1].pickup_by == date(2026, 11, 24)


@respx.mock(base_url=HOST, assert_all_called=True)
def test_latin1_page_with_meta_only(respx_mock):
    page = fixture("holds_classic_eng.html")  # declares ISO-8859-1 in its meta tag
    respx_mock.get(f"{PATH}/holds").mock(return_value=httpx.Response(
        200, content=page.encode("latin-1"), headers={"content-type": "text/html"}))
    holds = run(backend().holds())
    assert holds[0].pickup_location == "TlnRK Nõmme"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_unclosed_table_row_loses_nothing(respx_mock):
    respx_mock.get(f"{PATH}/items").mock(return_value=html(fixture("items_classic_eng.html")))
    loans = run(backend(language="eng").loans())
    assert len(loans) == 5
    held = [l for l in loans if l.title == "Tõde ja õigus. I"][0]
    assert held.reserved_by_others and not held.renewable


@respx.mock(base_url=HOST, assert_all_called=True)
def test_truncated_page_is_not_understood(respx_mock):
    text = fixture("items_classic_eng.html")
    respx_mock.get(f"{PATH}/items").mock(return_value=html(text[: text.index("renew3")]))
    with pytest.raises(PageNotUnderstood) as err:
        run(backend().loans())
    assert err.value.page == "items" and "cut short" in err.value.missing


@respx.mock(base_url=HOST, assert_all_called=True)
def test_day_first_date_that_does_not_parse_is_not_guessed(respx_mock):
    text = fixture("items_classic_eng.html").replace("DUE 05-12-26", "DUE 12-31-26")
    respx_mock.get(f"{PATH}/items").mock(return_value=html(text))
    with pytest.raises(PageNotUnderstood, match="12-31-26"):
        run(backend().loans())


# --- renewing: unclear outcomes ---------------------------------------------------------------


def _loans(respx_mock, name="items_classic_eng.html"):
    route = respx_mock.get(f"{PATH}/items")
    route.mock(return_value=html(fixture(name)))
    return route


@respx.mock(base_url=HOST, assert_all_called=True)
def test_dropped_renew_post_is_never_repeated_the_account_is_read_again(respx_mock):
    items = _loans(respx_mock)
    post = respx_mock.post(f"{PATH}/items").mock(side_effect=httpx.ReadError("reset"))
    b = backend()
    loans = run(b.loans())
    chosen = [loans[0], loans[1]]
    # After the drop, the account shows the first one renewed to a later date.
    items.mock(return_value=html(fixture("items_classic_eng.html").replace(
        "DUE 05-12-26", "DUE 14-12-26")))
    results = run(b.renew(chosen))
    assert post.call_count == 1 and items.call_count == 2
    assert results[0].renewed and results[0].new_due_date == date(2026, 12, 14)
    assert not results[1].renewed and "did not answer" in results[1].message
    assert form(post) == {"currentsortorder": ["current_checkout"], "renewsome": ["YES"],
                          "renew0": ["i1908511"], "renew1": ["i1908522"]}


@respx.mock(base_url=HOST, assert_all_called=True)
def test_renew_answered_with_a_busy_record_renews_nothing_and_does_not_retry(respx_mock):
    _loans(respx_mock)
    post = respx_mock.post(f"{PATH}/items").mock(return_value=html(IN_USE))
    b = backend()
    loans = run(b.loans())
    results = run(b.renew(loans[:2]))
    assert post.call_count == 1
    assert [r.renewed for r in results] == [False, False]
    assert "in use" in results[0].message


@respx.mock(base_url=HOST, assert_all_called=True)
def test_whole_request_refusal(respx_mock):
    _loans(respx_mock)
    respx_mock.post(f"{PATH}/items").respond(200, html=(
        "<html><body><h2>You cannot renew items because:</h2><ul><li>Your card has expired"
        "</li></ul></body></html>"))
    b = backend()
    loans = run(b.loans())
    results = run(b.renew(loans[:1]))
    assert results[0].message == "You cannot renew items because: Your card has expired"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_two_step_renewal_posts_the_confirmation_once(respx_mock):
    _loans(respx_mock)
    confirm = f"""<html><body><div class="confirmationprompt"><h2>Kas pikendada?</h2>
    <form method="POST" action="{PATH}/items">
    <input type="hidden" name="renew3" value="i1908544" />
    <input type="hidden" name="currentsortorder" value="current_checkout" />
    <input type="submit" name="renewsome" value="JAH" /><input type="submit" name="donothing" value="EI" />
    </form></div></body></html>"""
    post = respx_mock.post(f"{PATH}/items").mock(side_effect=[
        html(confirm), html(fixture("items_classic_eng.html"))])
    b = backend()
    loans = run(b.loans())
    results = run(b.renew([loans[3], loans[4]]))
    assert post.call_count == 2
    assert form(post, 1) == {"renew3": ["i1908544"], "currentsortorder": ["current_checkout"],
                             "renewsome": ["JAH"]}
    assert results[0].renewed and results[0].new_due_date == date(2026, 12, 19)
    assert not results[1].renewed and results[1].message == "reserved by another patron (ON HOLD)"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_renew_result_for_a_returned_item(respx_mock):
    _loans(respx_mock)
    respx_mock.post(f"{PATH}/items").mock(return_value=html(fixture("items_none.html")))
    b = backend()
    loans = run(b.loans())
    (result,) = run(b.renew(loans[:1]))
    assert not result.renewed and "no longer on the loans list" in result.message


# --- holds ---------------------------------------------------------------------------------------


@respx.mock(base_url=HOST, assert_all_called=True)
def test_cancel_is_verified_by_reading_the_holds_again(respx_mock):
    holds_page = fixture("holds_classic_eng.html")
    without_first = holds_page.replace(" 4 HOLDS ", " 3 HOLDS ")
    start = without_first.index('<tr class="patFuncEntry">')
    end = without_first.index("</tr>", start) + len("</tr>")
    without_first = without_first[:start] + without_first[end:]
    reads = respx_mock.get(f"{PATH}/holds").mock(side_effect=[
        html(holds_page, "ISO-8859-1"),  # the caller's list
        html(holds_page, "ISO-8859-1"),  # fresh cancel fields
        html(without_first, "ISO-8859-1")])  # verification: the first is gone, the third is not
    post = respx_mock.post(f"{PATH}/holds").respond(200, html=without_first)
    b = backend(language="eng")
    holds = run(b.holds())
    results = run(b.cancel_holds([holds[0], holds[2], holds[1]]))
    assert [r.cancelled for r in results] == [True, False, False]
    assert results[1].message == "the library kept the hold"
    assert "ready for pickup" in results[2].message
    assert form(post) == {"currentsortorder": ["current_pickup"], "updateholdssome": ["YES"],
                          "canceli9577894x00": ["on"], "cancelb2792043x02": ["on"]}
    assert reads.call_count == 3


@respx.mock(base_url=HOST, assert_all_called=True)
def test_fines_page(respx_mock):
    respx_mock.get(f"{PATH}/overdues").mock(return_value=html(fixture("fines_est.html")))
    balance = run(backend().fees())
    assert balance.total.cents == 123540 and not balance.online_payment_offered
    assert [f.fee_type.value for f in balance.items] == ["overdue", "replacement"]


@respx.mock(base_url=HOST, assert_all_called=True)
def test_session_lost_before_a_renew_post_logs_in_and_posts_once_more(respx_mock):
    _loans(respx_mock)
    post = respx_mock.post(f"{PATH}/items").mock(side_effect=[
        html(LOGIN_PAGE), html(fixture("items_classic_eng.html"))])
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    respx_mock.post("/patroninfo~S8*est").respond(302, headers={"location": f"{PATH}/top"})
    b = backend()
    loans = run(b.loans())
    results = run(b.renew([loans[3]]))
    assert post.call_count == 2 and results[0].renewed and len(b.pins_asked) == 1


@respx.mock(base_url=HOST, assert_all_called=True)
def test_renew_without_tokens_reads_the_checkboxes_first(respx_mock):
    from libcli.model import Loan

    items = _loans(respx_mock)
    post = respx_mock.post(f"{PATH}/items").mock(return_value=html(fixture("items_classic_eng.html")))
    loan = Loan(card="mari", key="i1908544", title="Kalevipoeg", due_date=date(2026, 12, 5))
    (result,) = run(backend().renew([loan]))
    assert items.call_count == 1 and form(post)["renew3"] == ["i1908544"]
    assert result.renewed and result.new_due_date == date(2026, 12, 19)


# --- placing holds --------------------------------------------------------------------------------

RECORD = "/record=b1000013~S8*est"
REQUEST = "/search~S8*est?/.b1000013/.b1000013/1%2C1%2C1%2CB/request~b1000013"


@respx.mock(base_url=HOST, assert_all_called=True)
def test_no_request_link_means_the_librarys_own_channels(respx_mock):
    respx_mock.get(RECORD).respond(200, html="<html><body><h1>Kalevipoeg</h1></body></html>")
    with pytest.raises(NotSupported) as err:
        run(backend().place_hold("b1000013", None))
    assert "no request link" in str(err.value)
    assert "in person, by e-mail or by phone" in str(err.value)


@respx.mock(base_url=HOST, assert_all_called=True)
def test_a_site_that_takes_the_request(respx_mock):
    respx_mock.get(RECORD).respond(200, html=f'<html><body><a href="{REQUEST}">Telli</a></body></html>')
    page = f"""<html><body><form method="post" action="{REQUEST}">
    <select name="locx00"><option value="--">--</option>
    <option value="kesk+" selected="selected">TlnRK Keskraamatukogu</option>
    <option value="nomm+">TlnRK Nõmme</option></select>
    <input type="submit" name="submit" value="Telli" /></form></body></html>"""
    respx_mock.get(url__startswith=f"{HOST}/search~S8*est").respond(200, html=page)
    post = respx_mock.post(url__startswith=f"{HOST}/search~S8*est").respond(
        200, html="<html><body>Your request for <strong>Kalevipoeg</strong> was successful."
                  "</body></html>")
    b = backend()
    pickups = run(b.pickup_locations("b1000013"))
    assert [(p.code, p.name, p.default) for p in pickups] == [
        ("kesk", "TlnRK Keskraamatukogu", True), ("nomm", "TlnRK Nõmme", False)]
    placed = run(b.place_hold("b1000013", "nomm"))
    assert placed.placed and placed.pickup_location == "nomm"
    assert form(post) == {"locx00": ["nomm+"], "submit": ["Telli"], "needby_Month": ["Month"],
                          "needby_Day": ["Day"], "needby_Year": ["Year"]}


@respx.mock(base_url=HOST, assert_all_called=True)
def test_session_lost_before_a_cancel_post_logs_in_and_posts_once_more(respx_mock):
    holds_page = fixture("holds_classic_eng.html")
    respx_mock.get(f"{PATH}/holds").mock(return_value=html(holds_page))
    post = respx_mock.post(f"{PATH}/holds").mock(side_effect=[html(LOGIN_PAGE), html(holds_page)])
    respx_mock.get("/patroninfo~S8*est").respond(200, html=LOGIN_PAGE)
    respx_mock.post("/patroninfo~S8*est").respond(302, headers={"location": f"{PATH}/top"})
    b = backend()
    holds = run(b.holds())
    (result,) = run(b.cancel_holds([holds[0]]))
    # the site kept showing the hold, so the verification reports it kept
    assert post.call_count == 2 and not result.cancelled and len(b.pins_asked) == 1
