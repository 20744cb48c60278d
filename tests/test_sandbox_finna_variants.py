"""The Finna face's variants, checked against the real finna2 templates.

Selectors come from NDL-VuFind2 themes/finna2/templates (Oct 2024) for the
"2024" markup and from the bootstrap 5 pages live on heili.finna.fi (2026)
for "bs5"; driver behaviour from module/VuFind/src/VuFind/ILS/Driver
(KohaRest, SierraRest, Alma) and module/Finna/src/Finna/ILS/Driver.
"""

from __future__ import annotations

import re

import pytest

from libcli.sandbox.__main__ import parse_args
from libcli.sandbox.app import Options
from tests.sandbox_client import alerts, flashes, html
from tests.test_sandbox_finna import csrf_of, holdings, logged_in, make

TECHNICAL = "Sisäänkirjautuminen epäonnistui. Yritä uudestaan hetken kuluttua."


def rows(doc):
    """Loan and hold rows; the first tr.myresearch-row is the hidden header row."""
    return [r for r in doc.css("tr.myresearch-row") if r.css_first(".record-title")]


def row_of(doc, title):
    return next(r for r in rows(doc) if r.css_first(".record-title").text().strip() == title)


def words(node) -> str:
    return " ".join(node.text().split())


# --- markup ------------------------------------------------------------------------


def test_2024_markup_is_bootstrap_3():
    b, lib, app = logged_in("heili")
    doc = html(b.get("/MyResearch/CheckedOut"))
    header = doc.css_first("table.myresearch-table tr.myresearch-row")
    assert "sr-only" in header.attributes["class"].split()
    assert header.attributes["aria-hidden"] == "true"
    assert header.css_first("th#label-select-column") and header.css_first("th#label-title-column")
    row = row_of(doc, "Tuntematon sotilas")
    assert row.css_first("td.text-center.hidden-xs img.recordcover")
    assert row.css_first("span.label.label-info.format-book")
    assert doc.css_first("input#renewSelected[data-toggle=dropdown]")
    fines = html(b.get("/MyResearch/Fines"))
    assert fines.css_first("div#online_payment_total_due").attributes["data-raw"] == "390"
    assert fines.css_first("div#online_payment_payable")
    assert fines.css_first("div#online_payment_minimum_payment").attributes["data-raw"] == "65"
    holds = html(b.get("/Holds/List"))
    assert "sr-only" in holds.css_first("tr.myresearch-row").attributes["class"].split()


@pytest.mark.parametrize("variant", ["bs5", "2025"])
def test_bs5_markup(variant):
    b, lib, app = make("heili", options=Options(finna_variant=variant))
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/CheckedOut"))
    header = doc.css_first("table.myresearch-table tr.myresearch-row")
    assert header.attributes["class"].split() == ["visually-hidden", "myresearch-row"]
    assert doc.css_first(".sr-only") is None and doc.css_first(".hidden-xs") is None
    row = row_of(doc, "Tuntematon sotilas")
    assert row.css_first("td.d-none.d-sm-table-cell img.recordcover")
    assert row.css_first("span.badge.format-book") and doc.css_first("span.label") is None
    assert doc.css_first("input#renewSelected[data-bs-toggle=dropdown]")
    # Names, row ids and the form stay.
    assert row.css_first("input.checkbox-select-item[name='renewSelectedIDS[]']")
    assert doc.css_first("form#renewals[name=renewals]")
    fines = html(b.get("/MyResearch/Fines"))
    total = fines.css_first(".online-payment-total-due.js-payment-total-due")
    assert total.attributes["data-raw"] == "390"
    assert fines.css_first("#online_payment_total_due") is None
    assert fines.css_first(".js-minimum-payment").attributes["data-raw"] == "65"
    assert fines.css_first("table.fines-table caption.visually-hidden")
    # Switch back on the running app.
    app.state.options.finna_variant = "2024"
    doc = html(b.get("/MyResearch/CheckedOut"))
    assert "sr-only" in doc.css_first("tr.myresearch-row").attributes["class"]


# --- drivers -------------------------------------------------------------------------


def test_koha_counts_are_null_for_permanent_blocks_and_the_block_is_the_message():
    b, lib, app = logged_in("heili")  # KohaRestSuomi
    doc = html(b.get("/MyResearch/CheckedOut"))
    ok = row_of(doc, "Tuntematon sotilas")
    assert "Uusimiskertoja jäljellä: 5" in words(ok)
    assert "Aineistotyyppi: Kirja" in words(ok)  # materialType
    limit = row_of(doc, "The Pragmatic Programmer")  # too_many
    reserved = row_of(doc, "Sinuhe egyptiläinen")  # on_reserve
    for row, message in ((limit, "Tämän lainan uusimiskerrat ovat tulleet täyteen"),
                         (reserved, "Varattu toiselle asiakkaalle")):
        status = row.css_first("div.status-column")
        assert "Uusimiskertoja" not in status.text() and "Uusittu" not in status.text()
        assert status.css_first("div.alert.alert-info").text() == message
        assert row.css_first("td.checkbox-col span.no-checkbox").text() == "Ei voi uusia"
    holds = html(b.get("/Holds/List"))
    assert any("Sijainti jonossa: 3" == words(p) for p in holds.css("div.holds-status-information p"))


def test_short_loans_are_due_at_a_time_of_day():
    b, lib, app = logged_in("heili")
    doc = html(b.get("/MyResearch/CheckedOut"))
    quick = row_of(doc, "Hytti nro 6")
    due = quick.css_first("div.status-column strong span.due-time")
    assert re.fullmatch(r"\d{1,2}\.\d{2}", due.text())
    loan = next(l for l in lib.loans_of("10000001") if lib.title_of(l).title == "Hytti nro 6")
    d = loan.due_date
    assert f"Eräpäivä: {d.day}.{d.month}.{d.year} {due.text()}" in words(quick)
    assert row_of(doc, "Kalevala").css_first("span.due-time") is None


def test_sierra_gives_every_loan_a_checkbox_and_counts_renewals():
    b, lib, app = make("heili", options=Options(finna_driver="sierra"))
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/CheckedOut"))
    loans = rows(doc)
    assert len(loans) == len(lib.loans_of("10000001"))
    assert all(r.css_first("input.checkbox-select-item") for r in loans)
    assert doc.css_first("span.no-checkbox") is None
    assert "Uusittu: 1" in words(row_of(doc, "Kalevala"))  # renew, no renewLimit
    assert "Uusimiskertoja" not in doc.text()
    holds = html(b.get("/Holds/List"))
    assert any("Sijainti jonossa: 3 / 4" == words(p)
               for p in holds.css("div.holds-status-information p"))


@pytest.mark.parametrize("lang, in_process", [("fi", "Käsiteltävänä"), ("sv", "Behandlas"),
                                              ("en-gb", "In process")])
def test_alma_prints_no_renewal_counts_and_holds_in_process(lang, in_process):
    b, lib, app = make("heili", options=Options(finna_driver="alma", language=lang))
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/CheckedOut"))
    for row in rows(doc):
        status = words(row.css_first("div.status-column"))
        assert not re.search(r"Uusimiskertoja|Uusittu|Förnyelser|Förnyat|Renewals|Renewed", status)
    positions = [words(p) for p in html(b.get("/Holds/List")).css(
        "div.holds-status-information p")]
    assert len(positions) == 2
    assert any(p.endswith(f": {in_process}") for p in positions)  # first in its queue
    assert any(p.endswith(": 3") for p in positions)


def test_driver_switches_on_a_running_app():
    b, lib, app = logged_in("heili")
    assert doc_has_no_checkbox(b)
    app.state.options.finna_driver = "sierra"
    assert not doc_has_no_checkbox(b)


def doc_has_no_checkbox(b) -> bool:
    return html(b.get("/MyResearch/CheckedOut")).css_first("span.no-checkbox") is not None


# --- hold forms -------------------------------------------------------------------------


def hold_url(b, lib, title="Kalevipoeg"):
    record = next(r for r, t in lib.titles.items() if t.title == title)
    href = html(holdings(b, record)).css_first("a.placehold").attributes["href"]
    return record, href.split("#")[0]


def test_hold_form_with_terms_to_accept():
    b, lib, app = make("heili", options=Options(finna_hold_form="terms"))
    b.login("10000001", "1234")
    record, url = hold_url(b, lib)
    form = html(b.get(url)).css_first("form[name=placeHold]")
    box = form.css_first('input#acceptTerms[type=checkbox][name="gatheredDetails[acceptTerms]"]')
    assert box and form.css_first("label[for=acceptTerms]").text() == "Hyväksyn käyttöehdot"
    # record/hold.phtml: the terms come after the other fields, before the submit button.
    names = [i.attributes.get("name") for i in form.css("input, select, textarea")]
    assert names.index("gatheredDetails[acceptTerms]") == len(names) - 2
    data = {"gatheredDetails[pickUpLocation]": "ima", "placeHold": "x"}
    refused = b.post(url, data=data)
    assert refused.status_code == 200
    assert flashes(refused, "danger") == ["Käyttöehdot tulee hyväksyä."]
    assert not [h for h in lib.holds_of("10000001") if h.record_id == record]
    ok = b.post(url, data={**data, "gatheredDetails[acceptTerms]": "on"})
    assert ok.status_code == 302
    assert [h.pickup for h in lib.holds_of("10000001") if h.record_id == record] == ["ima"]


def test_hold_form_with_request_groups_and_their_pickup_locations():
    b, lib, app = make("heili", options=Options(finna_hold_form="request-groups"))
    b.login("10000001", "1234")
    record, url = hold_url(b, lib)
    form = html(b.get(url)).css_first("form[name=placeHold]")
    group = form.css_first('div.hold-request-group select#requestGroupId[name="gatheredDetails[requestGroupId]"]')
    assert [o.attributes["value"] for o in group.css("option")] == ["", "1", "2"]
    pickup = form.css_first('div.hold-pickup-location select#pickUpLocation')
    assert [o.attributes["value"] for o in pickup.css("option")] == []  # filled by hold.js
    # The real AJAX method, route and JSON shape (VuFind\AjaxHandler\GetRequestGroupPickupLocations).
    r = b.get("/AJAX/JSON", params={"method": "getRequestGroupPickupLocations", "id": record,
                                    "requestGroupId": "2"})
    assert r.status_code == 200
    locations = r.json()["data"]["locations"]
    near = [loc.code for loc in lib.pickup_locations[:2]]
    assert [loc["locationID"] for loc in locations] == near
    assert [loc["locationDisplay"] for loc in locations] == [loc.name for loc in lib.pickup_locations[:2]]
    everywhere = b.get("/AJAX/JSON", params={"method": "getRequestGroupPickupLocations",
                                             "id": record, "requestGroupId": "1"}).json()
    assert len(everywhere["data"]["locations"]) == len(lib.pickup_locations)
    assert b.get("/AJAX/JSON", params={"method": "getRequestGroupPickupLocations",
                                       "id": record}).status_code == 400
    far = lib.pickup_locations[-1].code
    wrong = b.post(url, data={"gatheredDetails[requestGroupId]": "2",
                              "gatheredDetails[pickUpLocation]": far, "placeHold": "x"})
    assert wrong.status_code == 200 and alerts(wrong, "danger") == ["Virheellinen noutopaikka."]
    nogroup = b.post(url, data={"gatheredDetails[pickUpLocation]": near[0], "placeHold": "x"})
    assert alerts(nogroup, "danger")[0] == "Valittu varausryhmä on virheellinen. Yritä uudestaan."
    ok = b.post(url, data={"gatheredDetails[requestGroupId]": "2",
                           "gatheredDetails[pickUpLocation]": near[1], "placeHold": "x"})
    assert ok.status_code == 302
    assert [h.pickup for h in lib.holds_of("10000001") if h.record_id == record] == [near[1]]
    b.get("/MyResearch/Logout")
    assert b.get("/AJAX/JSON", params={"method": "getRequestGroupPickupLocations", "id": record,
                                       "requestGroupId": "2"}).status_code == 401


# --- fines ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, start, end", [
    ("fi", "Aiempi maksutapahtuma aloitettu", "jos edellinen tapahtuma keskeytyi."),
    ("sv", "Tidigare betalning startade vid", "endast om den tidigare avbröts."),
    ("en-gb", "Earlier payment was started at", "only if the earlier one was interrupted."),
])
def test_an_earlier_payment_warns_and_the_pay_button_stays(lang, start, end):
    b, lib, app = make("heili", options=Options(language=lang))
    b.login("10000001", "1234")
    doc = html(b.get("/MyResearch/Fines"))
    assert doc.css_first("div.alert-danger") is None
    transaction = doc.css_first("input[name=transactionId]").attributes["value"]

    def start_payment():
        terms = b.post("/MyResearch/Fines", data={"pay": "1", "transactionId": transaction})
        r = b.post("/MyResearch/Fines", data={"pay-confirm": "1", "transactionId": transaction,
                                              "csrf": csrf_of(terms)})
        assert r.status_code == 302 and "/PaymentProvider/checkout" in r.headers["location"]

    start_payment()
    doc = html(b.get("/MyResearch/Fines"))
    areas = doc.css("div.fines-info-area")
    assert areas[0].css_first("div.useraccount-header h2")
    warning = words(areas[1].css_first("div.alert.alert-danger"))
    assert re.fullmatch(re.escape(start) + r" \d{1,2}\.\d{1,2}\.\d{4} \d{2}:\d{2}\. .*"
                        + re.escape(end), warning)
    assert doc.css_first("form#online_payment_form input[name=pay]")
    # Starting again abandons the earlier transaction.
    first = next(iter(lib.payments.values()))
    start_payment()
    assert first.status == "cancelled" and len(lib.payments) == 2


# --- login ------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["MultiILS", "Database"])
def test_login_tabs_in_either_order(first):
    b, lib, app = make("heili", options=Options(finna_login_first=first))
    doc = html(b.get("/MyResearch/UserLogin"))
    tabs = [li.attributes["class"].split()[0] for li in doc.css("ul.loginTabs > li")]
    assert tabs[0] == first and sorted(tabs) == ["Database", "MultiILS"]
    panes = doc.css("div.tab-content > div.tab-pane")
    assert f"{first}-tab" in panes[0].attributes["class"] and "active" in panes[0].attributes["class"]
    forms = doc.css("form[name=loginForm]")
    methods = [f.css_first("input[name=auth_method]").attributes["value"] for f in forms]
    assert methods[0] == first
    database = forms[methods.index("Database")]
    assert "id" not in database.attributes
    assert database.css_first("input#login_Database_username[name=username]")
    card = doc.css_first("form#loginForm")
    assert card.css_first("input[name=auth_method]").attributes["value"] == "MultiILS"
    assert card.css_first("input#login_MultiILS_target[name=target][type=hidden]")
    assert b.login("10000001", "1234").status_code == 302


def test_a_technical_refusal_once():
    b, lib, app = make("heili", options=Options(refuse_login_once=True))
    r = b.login("10000001", "1234")
    assert r.status_code == 200 and flashes(r, "danger") == [TECHNICAL]
    assert html(r).css_first("form#loginForm")
    assert b.login("10000001", "1234").status_code == 302


def test_command_line_switches():
    args = parse_args(["--finna-variant", "bs5", "--finna-driver", "alma", "--finna-hold-form",
                       "terms", "--finna-login-first", "Database", "--refuse-login-once"])
    assert (args.finna_variant, args.finna_driver, args.finna_hold_form,
            args.finna_login_first, args.refuse_login_once) == ("bs5", "alma", "terms",
                                                                  "Database", True)
    assert parse_args([]).finna_driver is None


def test_paged_loans_have_the_simple_pager_on_top_and_the_full_one_below():
    from libcli.sandbox.seed import BIG_CARD, BIG_PIN

    b, lib, app = logged_in("heili", card=BIG_CARD, pin=BIG_PIN, big=100)
    doc = html(b.get("/MyResearch/CheckedOut?page=2"))
    simple = doc.css_first("div.pagination-container ul.pagination-simple")
    items = simple.css("li")
    assert items[0].css_first("a").attributes["href"] == "?page=1" and items[2].css_first("a") is None
    assert words(items[1]) == "Näytetään 51 - 100 yhteensä 100 tuloksesta"
    pages = doc.css_first("nav ul.pagination")
    assert [a.text() for a in pages.css("li a") if a.text()] == ["1", "2"]
