"""The Finna face of the demo library, checked against reference/finna.md."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from libcli.model import HoldStatus
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock
from libcli.sandbox.finna_face import money
from libcli.sandbox.seed import BIG_CARD, BIG_PIN, build_library
from tests.sandbox_client import Browser, alerts, body_classes, flashes, html

TODAY = date(2025, 3, 10)
CARDS = {"heili": ("10000001", "1234"), "tuni": ("20000001", "1234"),
         "helmet": ("2100000001", "1234")}
CSRF = re.compile(r"^[0-9a-f]{32}-[0-9a-f]{32}$")


def make(view="heili", *, big=0, options=None):
    lib = build_library(view, Clock(TODAY), big_loans=big)
    app = create_app(view, library=lib, options=options or Options())
    return Browser(app, f"http://{view}.localhost"), lib, app


@pytest.fixture
def heili():
    b, lib, app = make("heili")
    yield b, lib, app
    b.close()


def logged_in(view="heili", card=None, pin=None, **kw):
    b, lib, app = make(view, **kw)
    card, pin = (card, pin) if card else CARDS[view]
    r = b.login(card, pin)
    assert r.status_code == 302
    return b, lib, app


def csrf_of(response) -> str:
    return html(response).css_first("input[name=csrf]").attributes["value"]


# --- conventions --------------------------------------------------------------


def test_money_uses_no_break_spaces():
    assert money(123450) == "1\u00a0234,50\u00a0€"
    assert money(65) == "0,65\u00a0€"
    assert money(0) == "0,00\u00a0€"


# --- login ----------------------------------------------------------------------


def test_protected_page_logged_out_is_the_login_page_with_a_flash(heili):
    b, lib, app = heili
    r = b.get("/MyResearch/CheckedOut")
    assert r.status_code == 200
    assert {"template-dir-myresearch", "template-name-login"} <= body_classes(r)
    doc = html(r)
    assert doc.css_first("html").attributes["lang"] == "fi"
    assert flashes(r, "danger") == ["Kirjaudu sisään ensin"]
    form = doc.css_first("form#loginForm[name=loginForm][method=post]")
    assert form.attributes["action"] == "/MyResearch/Home"
    assert form.css_first("input#login_MultiILS_target[type=hidden][name=target]").attributes["value"] == "heili"
    assert form.css_first("input#login_MultiILS_username[type=text][name=username]")
    assert form.css_first("input#login_MultiILS_password[type=password][name=password]")
    assert form.css_first("input[name=auth_method]").attributes["value"] == "MultiILS"
    assert CSRF.match(csrf_of(r))
    assert form.css_first("input.btn.btn-primary[name=processLogin]")
    assert doc.css_first("a#login_library_card_register") and doc.css_first("a#login_library_card_recovery")
    assert doc.css_first("h2.lightbox-header")
    assert "PHPSESSID" in r.cookies and r.cookies["language"] == "fi"
    assert not doc.css_first("li.logoutOptions")


def test_login_redirects_to_the_follow_up_with_a_new_session(heili):
    b, lib, app = heili
    first = b.get("/MyResearch/Fines")
    old = first.cookies["PHPSESSID"]
    r = b.login("10000001", "1234", follow="/MyResearch/Fines")
    assert r.status_code == 302 and r.headers["location"] == "/MyResearch/Fines"
    assert r.cookies["PHPSESSID"] != old
    page = b.get("/MyResearch/Fines")
    assert "template-name-fines" in body_classes(page)
    doc = html(page)
    assert doc.css_first("li.logoutOptions a").attributes["href"] == "/MyResearch/Logout"
    assert doc.css_first("ul.myresearch-menu")


def test_login_without_follow_up_renders_the_default_account_page(heili):
    b, lib, app = heili
    page = b.get("/MyResearch/Home")
    assert flashes(page) == []  # the plain form, no "must log in" flash
    r = b.post("/MyResearch/Home", data={"csrf": csrf_of(page), "auth_method": "MultiILS",
                                         "target": "heili", "username": "1000 0001",
                                         "password": "1234", "processLogin": "x"})
    assert r.status_code == 200 and "template-name-mylist" in body_classes(r)
    assert html(r).css_first("li.logoutOptions")


@pytest.mark.parametrize("change, message", [
    ({"password": "0000"}, "Käyttäjätunnus/salasana ei täsmää. Yritä uudestaan."),
    ({"username": "99999999"}, "Käyttäjätunnus/salasana ei täsmää. Yritä uudestaan."),
    ({"password": ""}, "Anna käyttäjätunnus ja salasana."),
    ({"csrf": "0" * 32 + "-" + "0" * 32}, "Tekninen virhe kirjautumisessa. Yritä uudelleen."),
    ({"target": "helmet"}, "Kirjautuminen ei onnistu: tuntematon kirjasto."),
])
def test_login_failures_re_render_the_form(heili, change, message):
    b, lib, app = heili
    page = b.get("/MyResearch/UserLogin")
    data = {"csrf": csrf_of(page), "auth_method": "MultiILS", "target": "heili",
            "username": "10000001", "password": "1234", "processLogin": "x", **change}
    r = b.post("/MyResearch/Home", data=data)
    assert r.status_code == 200
    assert "template-name-login" in body_classes(r)
    assert flashes(r, "danger") == [message]
    assert html(r).css_first("#login_MultiILS_username").attributes["value"] == data["username"]


def test_csrf_keeps_the_five_newest_tokens_and_login_empties_them(heili):
    b, lib, app = heili
    tokens = [csrf_of(b.get("/MyResearch/UserLogin")) for _ in range(6)]
    assert len(set(tokens)) == 6
    data = {"auth_method": "MultiILS", "target": "heili", "username": "10000001",
            "password": "1234", "processLogin": "x"}
    r = b.post("/MyResearch/Home", data={**data, "csrf": tokens[0]})  # pushed out by the 6th
    assert flashes(r, "danger") == ["Tekninen virhe kirjautumisessa. Yritä uudelleen."]
    # That answer rendered a 7th token, so the 2nd is gone too; the 3rd is still kept.
    r = b.post("/MyResearch/Home", data={**data, "csrf": tokens[1]})
    assert "template-name-login" in body_classes(r)
    r = b.post("/MyResearch/Home", data={**data, "csrf": tokens[3]})
    assert r.status_code == 200 and "template-name-mylist" in body_classes(r)
    b.get("/MyResearch/Logout")
    r = b.post("/MyResearch/Home", data={**data, "csrf": tokens[4]})  # login emptied the list
    assert "template-name-login" in body_classes(r)


def test_user_login_when_logged_in_and_logout(heili):
    b, lib, app = heili
    b.login("10000001", "1234")
    r = b.get("/MyResearch/UserLogin")
    assert r.status_code == 302 and r.headers["location"] == "/MyResearch/Home"
    r = b.get("/MyResearch/Logout")
    assert r.status_code == 302 and r.headers["location"] == "/"
    assert "template-name-login" in body_classes(b.get("/MyResearch/CheckedOut"))


def test_user_login_remembers_the_referer(heili):
    b, lib, app = heili
    page = b.get("/MyResearch/UserLogin", headers={"Referer": "http://heili.localhost/Record/heili.100007"})
    r = b.post("/MyResearch/Home", data={"csrf": csrf_of(page), "auth_method": "MultiILS",
                                         "target": "heili", "username": "10000001",
                                         "password": "1234", "processLogin": "x"})
    assert r.status_code == 302 and r.headers["location"] == "/Record/heili.100007"


# --- language -------------------------------------------------------------------


def test_language_from_lng_then_cookie_and_written_back(heili):
    b, lib, app = heili
    r = b.get("/MyResearch/CheckedOut?lng=sv")
    assert html(r).css_first("html").attributes["lang"] == "sv"
    assert flashes(r, "danger") == ["Du måste logga in först"]
    assert r.cookies["language"] == "sv"
    r = b.get("/MyResearch/CheckedOut")
    assert html(r).css_first("html").attributes["lang"] == "sv"
    r = b.get("/MyResearch/CheckedOut?lng=en")  # "en" is not a Finna language
    assert html(r).css_first("html").attributes["lang"] == "sv"
    r = b.post("/MyResearch/CheckedOut", data={"mylang": "en-gb"})
    assert flashes(r, "danger") == ["You must be logged in first"]
    assert r.cookies["language"] == "en-gb"


def test_default_language_comes_from_options():
    b, lib, app = make("heili", options=Options(language="en-gb"))
    assert html(b.get("/")).css_first("html").attributes["lang"] == "en-gb"


# --- checked out ------------------------------------------------------------------


def rows_by_title(response):
    out = {}
    for row in html(response).css("tr.myresearch-row"):
        title = row.css_first(".record-title")
        out[title.text().strip()] = row
    return out


def test_checked_out_page_markup_heili():
    b, lib, app = logged_in("heili")
    r = b.get("/MyResearch/CheckedOut")
    assert {"template-dir-myresearch", "template-name-checkedout"} <= body_classes(r)
    doc = html(r)
    loans = lib.loans_of("10000001")
    assert doc.css_first("div.useraccount-header h2").text() == f"Lainat ({len(loans)})"
    form = doc.css_first("form#renewals[name=renewals][method=post]")
    assert "action" not in form.attributes
    assert form.attributes["data-clear-account-cache"] == "checkedOut"
    assert form.css_first("input#submitType[name=renewSelected]").attributes["value"] == "1"
    assert "disabled" in form.css_first("input#renewSelected[name=renewSelected]").attributes
    assert form.css_first("input#renewAll[name=renewAll]")
    assert form.css_first("input.checkbox-select-all[name=selectAll]")
    rows = rows_by_title(r)
    assert len(rows) == len(loans)
    for loan in loans:
        title = lib.title_of(loan)
        row = doc.css_first(f'tr[id="record{title.record_id}"]')
        assert row is not None and "myresearch-row" in row.attributes["class"]
    quick = rows["Hytti nro 6"]
    assert quick.css_first("span.no-checkbox").text() == "Ei voi uusia"
    assert quick.css_first("input.checkbox-select-item") is None
    ok = rows["Tuntematon sotilas"]
    box = ok.css_first("input.checkbox-select-item[type=checkbox][name='renewSelectedIDS[]']")
    value = box.attributes["value"]
    assert re.fullmatch(r"\d+\|\d+", value)
    assert box.attributes["id"] == "checkbox_" + re.sub(r"[^A-Za-z0-9]", "", value)
    assert ok.css_first("input[name='selectAllIDS[]']").attributes["value"] == value
    assert ok.css_first("input[name='renewAllIDS[]']").attributes["value"] == value
    status = ok.css_first("div.status-column").text()
    assert "Uusimiskertoja jäljellä: 5" in status
    assert f"Eräpäivä: {(TODAY + timedelta(days=20)).day}.3.2025" in status
    assert ok.css_first("td.hidden-xs img.recordcover")
    assert ok.css_first("span.label.label-info.iconlabel.format-book")
    assert "Viivakoodi:" in ok.css_first("div.record-core-metadata").text()
    limit = rows["The Pragmatic Programmer"]
    assert "Uusimiskertoja jäljellä: 0" in limit.text()
    overdue = rows["Puhdistus"]
    assert overdue.css_first("div.alert.alert-danger").text() == "Laina on myöhässä"
    due = rows["Kalevala"]
    assert due.css_first("div.alert.alert-info").text() == "Laina-aikaa jäljellä alle vuorokausi"


def test_renew_selected_results_per_row_and_flashes_helmet():
    b, lib, app = logged_in("helmet")
    r = b.get("/MyResearch/CheckedOut")
    rows = rows_by_title(r)
    # SierraRest: every loan has a checkbox, refusals show after submitting.
    assert all(row.css_first("input.checkbox-select-item") for row in rows.values())
    ids = {t: row.css_first("input.checkbox-select-item").attributes["value"] for t, row in rows.items()}
    picked = [ids["Tuntematon sotilas"], ids["Sinuhe egyptiläinen"], ids["The Pragmatic Programmer"]]
    r = b.post("/MyResearch/CheckedOut", data={"csrf": csrf_of(r), "renewSelected": "1",
                                              "renewSelectedIDS[]": picked})
    assert r.status_code == 200
    rows = rows_by_title(r)
    new_due = TODAY + timedelta(days=28)
    good = rows["Tuntematon sotilas"]
    assert good.css_first("div.alert.alert-success").text() == "Uusiminen onnistui"
    assert f"Eräpäivä: {new_due.day}.{new_due.month}.{new_due.year}" in good.text()
    assert rows["Sinuhe egyptiläinen"].css_first("div.alert.alert-danger").text() == \
        "Lainaa ei voitu uusia: Varattu toiselle asiakkaalle"
    assert rows["The Pragmatic Programmer"].css_first("div.alert.alert-danger").text() == \
        "Lainaa ei voitu uusia: Tämän lainan uusimiskerrat ovat tulleet täyteen"
    # No renewal result: the due status shows instead.
    assert rows["Puhdistus"].css_first("div.alert.alert-danger").text() == "Laina on myöhässä"
    assert flashes(r, "success") == ["1 lainaa uusittu."]
    assert flashes(r, "danger") == ["2 items could not be renewed"]
    assert lib.loans[picked[0].split("|")[0]].due_date == new_due


def test_renew_all_and_select_all_and_empty_selection():
    b, lib, app = logged_in("heili")
    r = b.get("/MyResearch/CheckedOut")
    form = html(r).css_first("form#renewals")
    all_ids = [i.attributes["value"] for i in form.css("input[name='renewAllIDS[]']")]
    r = b.post("/MyResearch/CheckedOut", data={"renewSelected": "1"})
    assert flashes(r, "danger") == ["Valitse uusittavat lainat."]
    r = b.post("/MyResearch/CheckedOut", data={"renewAll": "1", "renewAllIDS[]": all_ids})
    assert len(alerts(r, "success")) - 1 == len(all_ids)  # minus the summary flash
    r = b.post("/MyResearch/CheckedOut", data={"renewSelected": "1", "selectAll": "on",
                                              "selectAllIDS[]": all_ids[:1],
                                              "renewSelectedIDS[]": all_ids[1:]})
    assert flashes(r, "success") == ["1 lainaa uusittu."]


def test_no_renewable_loan_means_no_form():
    b, lib, app = make("heili")
    for loan in list(lib.loans_of("10000001")):
        if lib.renew_check("10000001", loan.loan_id) is None:
            del lib.loans[loan.loan_id]
    b.login("10000001", "1234")
    r = b.get("/MyResearch/CheckedOut")
    doc = html(r)
    assert doc.css_first("form#renewals") is None
    assert doc.css_first("div.toolbar.no-list-functions div.myresearch-notification")


def test_no_loans(heili):
    b, lib, app = heili
    for loan in list(lib.loans_of("10000001")):
        del lib.loans[loan.loan_id]
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/CheckedOut"))
    assert doc.css_first("h3").text() == "Sinulla ei ole lainoja."
    assert doc.css_first("div.useraccount-header h2").text() == "Lainat (0)"


def test_paging_a_big_account():
    b, lib, app = logged_in("heili", card=BIG_CARD, pin=BIG_PIN, big=100)
    r = b.get("/MyResearch/CheckedOut")
    doc = html(r)
    assert len(doc.css("tr.myresearch-row")) == 50
    assert doc.css_first("div.useraccount-header h2").text() == "Lainat (100)"
    renewable = sum(lib.renew_check(BIG_CARD, l.loan_id) is None for l in lib.loans_of(BIG_CARD))
    assert 50 < renewable < 100  # some titles are reserved by others
    assert len(doc.css("input[name='renewAllIDS[]']")) == renewable  # other pages: hidden inputs
    assert doc.css_first("input#renewAll")
    assert len(html(b.get("/MyResearch/CheckedOut?page=2")).css("tr.myresearch-row")) == 50
    assert b.get("/MyResearch/CheckedOut?page=3").status_code == 400


def test_helmet_ils_paging_has_no_renew_all_beyond_one_page():
    b, lib, app = logged_in("helmet", card=BIG_CARD, pin=BIG_PIN, big=60)
    doc = html(b.get("/MyResearch/CheckedOut"))
    assert doc.css_first("input#renewAll") is None
    assert len(doc.css("input[name='renewAllIDS[]']")) == 50


# --- holds ------------------------------------------------------------------------


def test_holds_list_markup():
    b, lib, app = logged_in("heili")
    assert b.get("/MyResearch/Holds").headers["location"] == "/Holds/List"
    r = b.get("/Holds/List")
    assert {"template-dir-holds", "template-name-list"} <= body_classes(r)
    doc = html(r)
    holds = lib.holds_of("10000001")
    assert doc.css_first("h2").text() == f"Varaukset ({len(holds)})"
    form = doc.css_first("form#update_holds[name=updateForm][method=post]")
    assert form.attributes["action"] == "/Holds/List"
    assert form.css_first("input#submitType[name=cancelSelected]").attributes["value"] == "1"
    assert form.css_first("input#cancelConfirm[name=confirm]").attributes["value"] == "0"
    assert form.css_first("input#cancelSelected[name=cancelSelected]")
    assert doc.css_first("div.dropdown.button-bottom input#cancelAll[name=cancelAll].btn-danger")
    rows = doc.css("tr.myresearch-row.result")
    assert len(rows) == len(holds)
    by_status = dict(zip([h.status for h in holds], rows))
    ready = by_status[HoldStatus.READY]
    assert ready.css_first("span.no-checkbox").text() == "Ei voi muokata"
    pick = lib.pickup_by(holds[0])
    assert ready.css_first("div.alert.alert-success").text() == \
        f"Noudettavissa - nouto viimeistään {pick.day}.{pick.month}.{pick.year}"
    transit = by_status[HoldStatus.IN_TRANSIT]
    assert transit.css_first("div.text-success").text() == "Matkalla noutopaikkaan"
    assert transit.css_first("input.checkbox-select-item") is None
    waiting = [row for row in rows if row.css_first("input.checkbox-select-item")]
    assert len(waiting) == 2
    texts = [w.css_first("div.holds-status-information").text() for w in waiting]
    assert any("Sijainti jonossa: 3 / 4" in t for t in texts)
    assert all("Noutopaikka:" in t and "Luotu:" in t and "Vanhenee:" in t for t in texts)
    assert all(w.css_first("input[name='cancelAllIDS[]']") for w in waiting)


def test_cancel_holds_confirm_then_cancel():
    b, lib, app = logged_in("heili")
    doc = html(b.get("/Holds/List"))
    ids = [i.attributes["value"] for i in doc.css("input[name='selectedIDS[]']")]
    r = b.post("/Holds/List", data={"cancelSelected": "1", "confirm": "0", "selectedIDS[]": ids[:1]})
    assert r.status_code == 200 and "template-name-confirm" in body_classes(r)
    assert ids[0] in lib.holds
    confirm = html(r).css_first("form.confirm-form")
    assert confirm.css_first("input[name=confirm]").attributes["value"] == "1"
    r = b.post("/Holds/List", data={"cancelSelected": "1", "confirm": "1", "selectedIDS[]": ids[:1]})
    assert r.status_code == 200 and "template-name-list" in body_classes(r)
    assert flashes(r, "success") == ["1 varaus(ta) poistettu."]
    assert ids[0] not in lib.holds


def test_cancel_needs_ids_seen_on_the_list_page():
    b, lib, app = logged_in("heili")
    ready = next(h for h in lib.holds_of("10000001") if h.status is HoldStatus.READY)
    waiting = next(h for h in lib.holds_of("10000001") if h.status is HoldStatus.WAITING)
    r = b.post("/Holds/List", data={"cancelSelected": "1", "confirm": "1",
                                    "selectedIDS[]": [waiting.hold_id]})
    assert flashes(r, "danger") == ["Virhe: epäjohdonmukaiset parametrit."]
    assert waiting.hold_id in lib.holds
    # The list was rendered by that answer; a ready hold was never offered.
    r = b.post("/Holds/List", data={"cancelSelected": "1", "confirm": "1",
                                    "selectedIDS[]": [ready.hold_id]})
    assert flashes(r, "danger") == ["Virhe: epäjohdonmukaiset parametrit."]
    assert ready.hold_id in lib.holds
    r = b.post("/Holds/List", data={"cancelAll": "1", "confirm": "1"})
    assert flashes(r, "danger") == ["Valitse poistettavat varaukset."]


# --- record page and placing holds ------------------------------------------------------


def holdings(b, record_id):
    return b.post(f"/Record/{record_id}/AjaxTab", data={"tab": "holdings"})


def test_record_page_and_anonymous_holdings(heili):
    b, lib, app = heili
    record = next(r for r, t in lib.titles.items() if t.title == "Oneiron")
    r = b.get(f"/Record/{record}")
    assert r.status_code == 200 and {"template-dir-record", "template-name-view"} <= body_classes(r)
    assert html(r).css_first("h1").text() == "Oneiron"
    tab = holdings(b, record)
    link = html(tab).css_first("a.login-link")
    assert link.attributes["href"] == "/MyResearch/CompleteLogin?target=heili"
    assert html(tab).css_first("a.placehold") is None
    assert b.get("/Record/heili.nonexistent").status_code == 404


def test_place_hold_flow():
    b, lib, app = logged_in("heili")
    record = next(r for r, t in lib.titles.items() if t.title == "Kalevipoeg")
    link = html(holdings(b, record)).css_first("div.place-hold-wrapper > a.placehold.btn.btn-primary")
    href = link.attributes["href"]
    assert href.startswith(f"/Record/{record}/Hold?") and href.endswith("#tabnav")
    assert "hashKey=" in href
    url = href.split("#")[0]
    form_page = b.get(url)
    assert {"template-dir-record", "template-name-hold"} <= body_classes(form_page)
    doc = html(form_page)
    form = doc.css_first("div.hold-form > form[name=placeHold][method=post]")
    select = form.css_first('select#pickUpLocation[name="gatheredDetails[pickUpLocation]"]')
    options = {o.attributes["value"]: o for o in select.css("option")}
    assert "lpr" in options and "selected" in options["lpr"].attributes
    assert form.css_first('input#requiredByDate[name="gatheredDetails[requiredBy]"]')
    assert form.css_first("input[name=placeHold]")
    bad = b.post(url, data={"gatheredDetails[pickUpLocation]": "mars", "placeHold": "x"})
    assert bad.status_code == 200 and alerts(bad, "danger") == ["Virheellinen noutopaikka."]
    ok = b.post(url, data={"gatheredDetails[pickUpLocation]": "ima",
                           "gatheredDetails[requiredBy]": "1.1.2026", "placeHold": "x"})
    assert ok.status_code == 302 and ok.headers["location"] == f"/Record/{record}#top"
    after = b.get(ok.headers["location"].split("#")[0])
    success = html(after).css_first("div.flash-message.alert-success")
    assert success.css_first("a").attributes["href"] == "/Holds/List"
    placed = [h for h in lib.holds_of("10000001") if h.record_id == record]
    assert len(placed) == 1 and placed[0].pickup == "ima"
    again = b.get(url)  # up-front refusal: already held
    assert again.status_code == 302 and again.headers["location"] == f"/Record/{record}#top"
    assert flashes(b.get(f"/Record/{record}"), "danger") == ["Olet jo varannut tämän nimekkeen."]


def test_hold_with_a_wrong_hash_key_redirects_to_the_record():
    b, lib, app = logged_in("heili")
    record = next(r for r, t in lib.titles.items() if t.title == "Kalevipoeg")
    href = html(holdings(b, record)).css_first("a.placehold").attributes["href"].split("#")[0]
    r = b.get(href.replace("hashKey=", "hashKey=0"))
    assert r.status_code == 302 and r.headers["location"] == f"/Record/{record}"


def test_quick_loans_offer_no_hold_link_and_logged_out_hold_asks_for_login():
    b, lib, app = logged_in("heili")
    quick = next(r for r, t in lib.titles.items() if t.title == "Hytti nro 6")
    assert html(holdings(b, quick)).css_first("a.placehold") is None
    b.get("/MyResearch/Logout")
    r = b.get(f"/Record/{quick}/Hold?id={quick}")
    assert r.status_code == 200 and "template-name-login" in body_classes(r)


def test_blocked_patron_sees_a_borrowing_block():
    b, lib, app = logged_in("helmet", card="2100000002", pin="2345")
    record = next(r for r, t in lib.titles.items() if t.title == "Kalevipoeg")
    doc = html(holdings(b, record))
    assert doc.css_first("div.borrowing-block") and doc.css_first("a.placehold") is None


# --- fines and payment --------------------------------------------------------------------


def test_fines_page_markup_and_payment_flow():
    b, lib, app = logged_in("heili")
    r = b.get("/MyResearch/Fines")
    assert {"template-dir-myresearch", "template-name-fines"} <= body_classes(r)
    doc = html(r)
    total = doc.css_first("div#online_payment_total_due")
    assert total.attributes["data-raw"] == "390"
    assert total.css_first("span.amount").text() == "3,90\u00a0€"
    assert doc.css_first("div#online_payment_minimum_payment").attributes["data-raw"] == "65"
    table = doc.css_first("table.fines-table.online-payment")
    assert table and "finna-table-striped" in table.attributes["class"]
    assert [th.text() for th in table.css("thead tr.headers th")] == [
        "Nimeke", "Tyyppi", "Selite", "Kirjauspvm", "Maksu", "Maksettavaa"]
    assert len(table.css("tbody tr")) == 2
    assert table.css_first("tbody th[scope=row][data-label] a")
    form = doc.css_first("form#online_payment_form[action='/MyResearch/Fines']")
    transaction = form.css_first("input[name=transactionId]").attributes["value"]
    assert form.css_first("input[name=pay].btn-lg")
    terms = b.post("/MyResearch/Fines", data={"pay": "1", "transactionId": transaction})
    assert terms.status_code == 200
    pform = html(terms).css_first("form#paytrail-form")
    assert pform.css_first("input[name=pay-confirm][type=hidden]").attributes["value"] == "1"
    assert pform.css_first("input[type=submit][name=reset]")
    assert pform.css_first("input[type=submit][name=pay-confirm]")
    r = b.post("/MyResearch/Fines", data={"pay-confirm": "1", "transactionId": transaction,
                                          "csrf": csrf_of(terms)})
    assert r.status_code == 302
    provider = urlparse(r.headers["location"])
    assert provider.path == "/PaymentProvider/checkout"
    # While the provider page is open, the account says so and offers no second payment.
    pending = html(b.get("/MyResearch/Fines"))
    assert "Maksu on kesken" in pending.css_first("div.alert.alert-danger").text()
    assert pending.css_first("input[name=pay]") is None
    page = b.get(r.headers["location"])
    assert page.status_code == 200 and html(page).css_first("button#provider-pay")
    fields = {i.attributes["name"]: i.attributes["value"]
              for i in html(page).css("form#provider-form input[type=hidden]")}
    back = b.post("/PaymentProvider/checkout", data={**fields, "action": "pay"})
    assert back.status_code == 302
    ret = urlparse(back.headers["location"])
    assert ret.path == "/MyResearch/Fines" and "finna_payment_id" in parse_qs(ret.query)
    done = b.get(back.headers["location"])
    assert flashes(done, "success") == ["Maksu onnistui"]
    assert lib.balance_cents("10000001") == 0
    assert html(done).css_first("h3").text() == "Sinulla ei ole maksuja."


def test_payment_cancelled_at_the_provider_keeps_the_fees():
    b, lib, app = logged_in("heili")
    doc = html(b.get("/MyResearch/Fines"))
    transaction = doc.css_first("input[name=transactionId]").attributes["value"]
    terms = b.post("/MyResearch/Fines", data={"pay": "1", "transactionId": transaction})
    r = b.post("/MyResearch/Fines", data={"pay-confirm": "1", "transactionId": transaction,
                                          "csrf": csrf_of(terms), "reset": "Peruuta"})
    page = b.get(r.headers["location"])
    fields = {i.attributes["name"]: i.attributes["value"]
              for i in html(page).css("form#provider-form input[type=hidden]")}
    back = b.post("/PaymentProvider/checkout", data={**fields, "action": "cancel"})
    done = b.get(back.headers["location"])
    assert flashes(done, "success") == ["Maksu peruutettu"]
    assert lib.balance_cents("10000001") == 390
    assert html(done).css_first("input[name=pay]")  # may try again


def test_pay_confirm_with_a_bad_token_goes_back_to_fines():
    b, lib, app = logged_in("heili")
    doc = html(b.get("/MyResearch/Fines"))
    transaction = doc.css_first("input[name=transactionId]").attributes["value"]
    b.post("/MyResearch/Fines", data={"pay": "1", "transactionId": transaction})
    r = b.post("/MyResearch/Fines", data={"pay-confirm": "1", "transactionId": transaction,
                                          "csrf": "nope"})
    assert r.status_code == 302 and r.headers["location"] == "/MyResearch/Fines"
    assert flashes(b.get("/MyResearch/Fines"), "danger") == ["Maksu epäonnistui"]
    assert not lib.payments


@pytest.mark.parametrize("view, card, pin, text, amount", [
    ("heili", "10000002", "2345", "Verkkomaksamisen minimisumma", "0,65\u00a0€"),
    ("heili", "10000003", "3456", "Verkkomaksaminen edellyttää sähköpostiosoitetta", None),
])
def test_fines_when_payment_is_not_possible(view, card, pin, text, amount):
    b, lib, app = logged_in(view, card=card, pin=pin)
    doc = html(b.get("/MyResearch/Fines"))
    info = doc.css_first("div.fines-info-area p")
    assert info.text().startswith(text)
    if amount:
        assert info.css_first("span.amount").text() == amount
    assert doc.css_first("form#online_payment_form") is None
    assert doc.css_first("div#online_payment_total_due").attributes["data-raw"] == \
        str(lib.balance_cents(card))


# --- AJAX and the search API --------------------------------------------------------------


def test_ajax_json(heili):
    b, lib, app = heili
    assert b.get("/AJAX/JSON?method=keepAlive").json() == {"data": True}
    assert b.get("/AJAX/JSON?method=getUserFines").status_code == 401
    b.login("10000001", "1234")
    assert b.get("/AJAX/JSON?method=getUserFines").json()["data"]["total"] == 390
    assert b.get("/AJAX/JSON?method=getUserHolds").json()["data"] == \
        {"available": 1, "in_transit": 1, "other": 2}
    assert sum(b.get("/AJAX/JSON?method=getUserTransactions").json()["data"].values()) == \
        len(lib.loans_of("10000001"))


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_search_api(prefix):
    b, lib, app = make("helmet")
    r = b.get(f"{prefix}/search", params={"lookfor": "Kivirähk", "type": "Author",
                                          "field[]": ["id", "title", "year", "nonPresenterAuthors"],
                                          "lng": "en-gb"})
    body = r.json()
    assert body["status"] == "OK" and body["resultCount"] == 2
    first = body["records"][0]
    assert first["id"].startswith("helmet.") and isinstance(first["year"], str)
    assert first["nonPresenterAuthors"][0]["name"] == "Kivirähk, Andrus"
    default = b.get(f"{prefix}/search", params={"lookfor": "Kalevala"}).json()["records"][0]
    assert set(default) >= {"id", "title", "buildings", "formats"}
    assert "year" not in default
    assert default["buildings"][0] == {"value": "0/Helmet/", "translated": "Helmet-kirjastot"}
    assert default["formats"][0]["value"] == "0/Book/"
    counts = b.get(f"{prefix}/search", params={"lookfor": "", "limit": "0",
                                               "facet[]": "building"}).json()
    assert "records" not in counts and counts["resultCount"] == len(lib.titles)
    assert counts["facets"]["building"][0]["value"] == "0/Helmet/"
    own = b.get(f"{prefix}/search", params={"filter[]": 'building:"0/Helmet/"', "limit": 5}).json()
    assert own["resultCount"] == len(lib.titles) and len(own["records"]) == 5
    other = b.get(f"{prefix}/search", params={"filter[]": 'building:"0/Heili/"'}).json()
    assert other == {"resultCount": 0, "status": "OK"}
    either = b.get(f"{prefix}/search", params={"filter[]": ['~format:"0/Sound/"', '~format:"0/Video/"']}).json()
    assert either["resultCount"] == 3
    bad = b.get(f"{prefix}/search", params={"limit": "101"})
    assert bad.status_code == 400 and bad.json() == {"status": "ERROR", "statusMessage": "Invalid limit"}
    page2 = b.get(f"{prefix}/search", params={"limit": 10, "page": 2, "field[]": "id"}).json()
    page1 = b.get(f"{prefix}/search", params={"limit": 10, "page": 1, "field[]": "id"}).json()
    assert not {r["id"] for r in page1["records"]} & {r["id"] for r in page2["records"]}
    rec = b.get(f"{prefix}/record", params={"id": first["id"], "field[]": ["id", "title"]}).json()
    assert rec["resultCount"] == 1 and rec["records"][0]["id"] == first["id"]
    assert b.get(f"{prefix}/record").status_code == 400


# --- markup drift ----------------------------------------------------------------------------


def test_2025_variant_moves_the_markup_but_keeps_the_anchors():
    options = Options(finna_variant="2025")
    b, lib, app = make("heili", options=options)
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/CheckedOut"))
    assert doc.css_first("a.record-title") is None
    assert doc.css_first("tr.myresearch-row h3.record-title > a")
    assert doc.css_first("span.badge.bg-info") and doc.css_first("span.label") is None
    assert doc.css_first("div.table-responsive table.myresearch-table")
    assert "Uusintakertoja jäljellä: 5" in doc.css_first("table").text()
    assert doc.css("input[name='renewSelectedIDS[]']")
    # Switch back on the running app.
    app.state.options.finna_variant = "2024"
    doc = html(b.get("/MyResearch/CheckedOut"))
    assert doc.css_first("a.record-title") and "Uusimiskertoja" in doc.text()


def test_payment_notify_registers_without_a_session():
    b, lib, app = logged_in("helmet")
    doc = html(b.get("/MyResearch/Fines"))
    transaction = doc.css_first("input[name=transactionId]").attributes["value"]
    terms = b.post("/MyResearch/Fines", data={"pay": "1", "transactionId": transaction})
    r = b.post("/MyResearch/Fines", data={"pay-confirm": "1", "transactionId": transaction,
                                          "csrf": csrf_of(terms)})
    page = b.get(r.headers["location"])
    fields = {i.attributes["name"]: i.attributes["value"]
              for i in html(page).css("form#provider-form input[type=hidden]")}
    back = urlparse(b.post("/PaymentProvider/checkout", data={**fields, "action": "pay"})
                    .headers["location"])
    b.get("/MyResearch/Logout")
    assert b.get(f"/AJAX/onlinePaymentNotify?{back.query}&lng=fi").status_code == 200
    assert lib.balance_cents("2100000001") == 0
    assert b.get("/AJAX/onlinePaymentNotify?finna_payment_id=x&signature=y").status_code == 400
