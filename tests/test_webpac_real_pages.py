"""WebPAC as real sites print it (issue #15): pages written by us after the
structure of public captures of Montréal's (Nelligan, Sierra classic skin),
New York Public Library's (Sierra 5.1 and 5.3) and Waterloo's (Millennium)
WebPAC; each fixture names the capture it follows. The site's date order is
a registry setting (`date_order`), given here in a test-local registry."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from libcli import http
from libcli.backends import webpac_pages as pages
from libcli.backends.webpac import WebPACBackend
from libcli.errors import LoginRefused, NotSupported, PageNotUnderstood
from libcli.model import Card, HoldStatus
from libcli.policy import load_registry

FIXTURES = Path(__file__).parent / "fixtures" / "webpac"
TODAY = date(2026, 11, 23)
PIN = "8642"

# Test-local sites: the backend knows them only through these rows.
REGISTRY = load_registry("""
[montreal]
name = "Demo City Libraries (year-first dates)"
backend = "webpac"
url = "https://nelligan.example"
scope = "58"
date_order = "ymd"

[nypl]
name = "Demo Public Library (month-first dates)"
backend = "webpac"
url = "https://catalog.example"
scope = "1"
date_order = "mdy"

[waterloo]
name = "Demo Public Libraries (month-first dates)"
backend = "webpac"
url = "https://books.example"
scope = "3"
date_order = "mdy"
""")

PATRON = {"montreal": "/patroninfo~S58*eng/2400001", "nypl": "/patroninfo~S1*eng/5400001",
          "waterloo": "/patroninfo~S3*eng/1300001"}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def backend(site: str, *, logged_in: bool = True) -> WebPACBackend:
    asked = []

    def pin():
        asked.append(1)
        return PIN

    consortium = REGISTRY[site]
    b = WebPACBackend(Card("c", site, "29999000111222"), consortium,
                      client=http.make_client(consortium.url), pin=pin,
                      session={"patron_path": PATRON[site]} if logged_in else {},
                      today=TODAY, language="eng")
    b.pins_asked = asked
    return b


def run(coro):
    return asyncio.run(coro)


# --- 1. dates in the library's order -------------------------------------------------------


def test_montreal_prints_year_first_dates():
    b = backend("montreal")
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        mock.get(f"{PATRON['montreal']}/items").respond(200, html=fixture(
            "montreal_items_renewed_ymd.html"))
        mock.get(f"{PATRON['montreal']}/holds").respond(200, html=fixture(
            "montreal_holds_ymd.html"))
        loans = run(b.loans())
        holds = run(b.holds())
    assert [l.due_date for l in loans] == [date(2026, 11, 30), date(2026, 12, 3),
                                          date(2027, 1, 9)]
    assert [h.expires for h in holds] == [date(2027, 3, 19), date(2027, 3, 15),
                                          date(2027, 3, 19)]


def test_new_york_prints_month_first_dates():
    b = backend("nypl")
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        mock.get(f"{PATRON['nypl']}/items").respond(200, html=fixture("nypl53_items_mdy.html"))
        (loan,) = run(b.loans())
    assert loan.due_date == date(2027, 1, 5) and loan.key == "i42000001"
    assert b._renew_marks == {"i42000001": "name_pfmark_canceli42000001x11"}  # kept in the backend


@pytest.mark.parametrize("text, order, expected", [
    ("26-12-31", "ymd", date(2026, 12, 31)),
    ("2026.12.31", "ymd", date(2026, 12, 31)),
    ("12-31-26", "mdy", date(2026, 12, 31)),
    ("1/5/2027", "mdy", date(2027, 1, 5)),
    ("31-12-26", "dmy", date(2026, 12, 31)),
    ("31.12.2026", "dmy", date(2026, 12, 31)),
])
def test_one_date_parser_reads_each_order(text, order, expected):
    assert pages.parse_date(text, "items", "the due date", order) == expected


@pytest.mark.parametrize("text, order", [
    ("12-31-26", "dmy"),  # month-first on a day-first site
    ("31-12-26", "mdy"),
    ("2026-12-31", "dmy"),  # year-first on a day-first site
    ("31-12-2026", "ymd"),
    ("26-13-01", "ymd"),
])
def test_a_date_out_of_the_librarys_order_is_an_error_naming_the_field(text, order):
    with pytest.raises(PageNotUnderstood) as err:
        pages.parse_date(text, "holds", "the cancel-by date of 'Le phare'", order)
    assert "the cancel-by date of 'Le phare'" in str(err.value) and text in str(err.value)


def test_a_month_first_page_on_a_year_first_site_is_not_guessed():
    page = fixture("montreal_items_renewed_ymd.html")
    with pytest.raises(PageNotUnderstood) as err:
        pages.parse_items(page, "mdy")
    assert "due date" in str(err.value)


# --- 2. the classic login form split across tables -----------------------------------------


def _montreal_login(mock, message: str = ""):
    return mock.get("/patroninfo~S58*eng").respond(
        200, html=fixture("montreal_login.html").replace("%MESSAGE%", message))


def test_a_login_form_whose_inputs_follow_it_posts_code_and_pin():
    b = backend("montreal", logged_in=False)
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        _montreal_login(mock)
        post = mock.post("/patroninfo~S58*eng").respond(
            302, headers={"location": "/patroninfo~S58/2400001/top"})
        mock.get("/patroninfo~S58/2400001/items").respond(
            200, html=fixture("montreal_items_renewed_ymd.html"))
        loans = run(b.loans())
    sent = parse_qs(post.calls[0].request.content.decode())
    assert sent["code"] == ["29999000111222"] and sent["pin"] == [PIN]
    assert len(loans) == 3 and b.session["patron_path"] == "/patroninfo~S58/2400001"


def test_a_refused_split_form_login_carries_the_sites_sentence():
    b = backend("montreal", logged_in=False)
    sorry = "Sorry, the information you submitted was invalid. Please try again."
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        _montreal_login(mock)
        mock.post("/patroninfo~S58*eng").respond(
            200, html=fixture("montreal_login.html").replace("%MESSAGE%", sorry))
        with pytest.raises(LoginRefused) as err:
            run(b.loans())
    assert sorry in str(err.value) and "If you do not have a PIN" not in str(err.value)
    assert PIN not in str(err.value)


@pytest.mark.parametrize("with_pin", [True, False], ids=["name-code-pin", "name-code"])
def test_a_login_asking_for_the_patrons_name_is_refused_clearly(with_pin):
    page = fixture("waterloo_login_name.html")
    if not with_pin:
        page = page.replace('<td><input name="pin" type="password" size="40" maxlength="40">'
                            '</td>', "")
    b = backend("waterloo", logged_in=False)
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        mock.get("/patroninfo~S3*eng").respond(200, html=page)
        with pytest.raises(NotSupported) as err:
            run(b.loans())
    assert "name" in str(err.value) and "Demo Public Libraries" in str(err.value)
    assert b.pins_asked == []  # nothing was posted


# --- 3. holds rows without a cancel box or a record link -------------------------------------


def test_an_in_transit_row_without_box_or_link_is_read_and_not_cancellable():
    b = backend("waterloo")
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        route = mock.get(f"{PATRON['waterloo']}/holds").respond(
            200, html=fixture("waterloo_holds_mdy.html"))
        holds = run(b.holds())
        waiting, transit = holds
        results = run(b.cancel_holds([transit]))
    assert route.call_count == 2  # the read, then the fresh read before cancelling; no post
    assert (waiting.key, waiting.record_id, waiting.queue_position) == ("b2200001", None, 9)
    assert waiting.pickup_location == "Demo McCormick Branch" and waiting.cancellable
    assert waiting.expires == date(2027, 4, 3)
    assert transit.title == "The profession : a thriller" and transit.author == "Lee Unreal"
    assert transit.status is HoldStatus.IN_TRANSIT and transit.record_id is None
    assert not transit.cancellable and transit.key not in b._cancel_names
    assert transit.expires == date(2027, 5, 1)
    (result,) = results
    assert not result.cancelled and "no way to cancel" in result.message


def test_an_encore_title_link_gives_the_bib_record():
    parsed = pages.parse_holds(fixture("nypl51_holds_mdy.html"), "mdy")
    assert [r.record_id for r in parsed.rows] == ["b23000001", "b23000002"]
    assert [r.key for r in parsed.rows] == ["i40000001", "i40000002"]


# --- 4. Sierra 5.3's count in span#id_pftitle_items_count, on both pages ---------------------


def test_sierra53_states_the_holds_count_in_the_items_count_span():
    page = fixture("nypl53_holds_mdy.html")
    assert pages.parse_holds(page, "mdy").stated_count == 3
    with pytest.raises(PageNotUnderstood) as err:
        pages.parse_holds(page.replace(">3 HOLDS<", ">4 HOLDS<"), "mdy")
    assert "states 4" in str(err.value)


def test_sierra53_states_the_items_count_in_its_span():
    page = fixture("nypl53_items_mdy.html")
    assert pages.parse_items(page, "mdy").stated_count == 1
    with pytest.raises(PageNotUnderstood):
        pages.parse_items(page.replace(">1 ITEM CHECKED OUT", ">2 ITEMS CHECKED OUT"), "mdy")


# --- 5. a blank ready status, a Ratings column, an empty pickup select ----------------------


def test_a_blank_status_is_a_ready_hold():
    rows = pages.parse_holds(fixture("montreal_holds_ymd.html"), "ymd").rows
    assert [r.status for r in rows] == ["in_transit", "waiting", "ready"]
    assert rows[2].key == "b3100003" and rows[2].pickup_by is None
    assert (rows[1].queue_position, rows[1].queue_length) == (2, 5)


def test_ratings_column_and_empty_pickup_select():
    rows = pages.parse_holds(fixture("nypl53_holds_mdy.html"), "mdy").rows
    ready, waiting, transit = rows
    assert ready.title == "Bread" and ready.author == "by Sam Fiction ; photographs by Lee Made"
    assert ready.status == "ready" and ready.pickup_by == date(2026, 12, 4)
    assert ready.pickup_location is None
    assert ready.pickup_field == "name_pfpickup_loci41000001x00"
    assert waiting.pickup_location == "Demo Performing Arts" and waiting.frozen
    assert transit.status == "in_transit" and transit.pickup_location == (
        "Demo Performing Arts - 3rd Fl")
    assert [r.record_id for r in rows] == ["b24000001", "b24000002", "b24000003"]


def test_sierra51_ready_hold_with_ratings_and_freeze_cells():
    ready, waiting = pages.parse_holds(fixture("nypl51_holds_mdy.html"), "mdy").rows
    assert ready.status == "ready" and ready.pickup_by == date(2026, 12, 2)
    assert ready.title == "A harbor in winter" and not ready.frozen
    assert (waiting.queue_position, waiting.queue_length, waiting.expires) == (
        4, 9, date(2027, 8, 24))


# --- 6. the hidden renew failure message, shown by script -----------------------------------


def test_the_renew_failure_message_shown_by_script_is_read():
    parsed = pages.parse_items(fixture("montreal_items_renewed_ymd.html"), "ymd")
    assert parsed.fail_message == "Not all renewals were successful. See details below."
    quiet = fixture("montreal_items_renewed_ymd.html").replace(
        'showElement("renewfailmsg");', "")
    assert pages.parse_items(quiet, "ymd").fail_message is None


def test_renewing_reports_the_failure_message_for_a_row_without_result():
    b = backend("montreal")
    with respx.mock(base_url=b.consortium.url, assert_all_called=True) as mock:
        page = fixture("montreal_items_renewed_ymd.html")
        mock.get(f"{PATRON['montreal']}/items").respond(
            200, html=page.replace('showElement("renewfailmsg");', "").replace(
                "<em><b>  RENEWED</b><br />Now due 26-12-21</em>", "").replace(
                '<em><div style="color:red">  ON HOLD</div></em>', ""))
        mock.post(f"{PATRON['montreal']}/items").respond(200, html=page)
        loans = run(b.loans())
        renewed, held, silent = run(b.renew(loans))
    assert renewed.renewed and renewed.new_due_date == date(2026, 12, 21)
    assert not held.renewed and "reserved by another patron" in held.message
    assert not silent.renewed and "Not all renewals were successful" in silent.message


# --- 7. a placed hold's message is the page's text -------------------------------------------


def test_a_placed_holds_message_is_text_without_scripts():
    placed, words = pages.request_result(fixture("montreal_request_placed.html"))
    assert placed is True
    assert words == ("Your request for Le phare / Jean Inventé. was successful. "
                     "Pick up location: DEMO-BRANCH NORD")


# --- #18.6: a bounded number of rows per page ------------------------------------------------


def test_rows_per_page_are_capped_with_a_clear_error():
    row = ('<tr class="patFuncEntry"><td class="patFuncMark"><input type="checkbox" '
           'name="renew{n}" value="i{item}" /></td><td class="patFuncTitle">T{n}</td>'
           '<td class="patFuncStatus"> DUE 30-11-26 </td></tr>')
    many = pages.MAX_ROWS + 1
    page = ("<html><body><table class=\"patFunc\">"
            + "".join(row.format(n=n, item=1000000 + n) for n in range(many))
            + "</table></body></html>")
    with pytest.raises(PageNotUnderstood) as err:
        pages.parse_items(page, "dmy")
    assert str(pages.MAX_ROWS) in str(err.value)
    assert len(pages.parse_items(page.replace(row.format(n=0, item=1000000), ""), "dmy").rows) \
        == pages.MAX_ROWS


def test_charges_per_page_are_capped_too():
    charge = ('<tr class="patFuncFinesEntryTitle"><td class="patFuncFinesEntryTitle">T</td></tr>'
              '<tr class="patFuncFinesEntryDetail"><td></td><td class="patFuncFinesDetailType">'
              'OVERDUE</td><td class="patFuncFinesDetailAmt">$0.10</td></tr>')
    page = ('<html><body><table class="patFunc">' + charge * (pages.MAX_ROWS + 1)
            + '</table></body></html>')
    with pytest.raises(PageNotUnderstood) as err:
        pages.parse_fines(page, "mdy")
    assert str(pages.MAX_ROWS) in str(err.value)
