"""The Primo VE face of the demo library (tuni, Andor), in raw HTTP, checked
against reference/primo-ve.md."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta

import pytest

from libcli.model import HoldStatus
from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock
from libcli.sandbox.misbehave import DroppedConnection, Fault
from libcli.sandbox.seed import BIG_CARD, BIG_PIN, build_library
from tests.sandbox_client import Browser

TODAY = date(2025, 3, 10)
VID = "358FIN_TAMPO:VU1"
INST = "358FIN_TAMPO"
MY = "/primaws/rest/priv/myaccount"
PUB = "/primaws/rest/pub"
MAIN = ("20000001", "1234")
YMD = re.compile(r"^\d{8}$")


class Andor:
    def __init__(self, *, big=0, options=None):
        self.lib = build_library("tuni", Clock(TODAY), big_loans=big)
        self.options = options or Options()
        self.app = create_app("tuni", library=self.lib, options=self.options)
        self.b = Browser(self.app, "http://tuni.localhost")

    def login(self, card=MAIN[0], pin=MAIN[1], profile="Alma", **extra):
        form = {"authenticationProfile": profile, "username": card, "password": pin,
                "institution": INST, "view": VID, "targetUrl": "", **extra}
        return self.b.post("/primaws/suprimaLogin?lang=fi", data=form)

    def token(self, card=MAIN[0], pin=MAIN[1]) -> str:
        r = self.login(card, pin)
        assert r.status_code == 200
        return json.loads(r.json()["jwtData"])

    def get(self, path, token=None, *, quoted=False, **params):
        headers = {"Authorization": f'Bearer "{token}"' if quoted else f"Bearer {token}"} \
            if token else {}
        return self.b.get(path, params=params, headers=headers)

    def post(self, path, token, body, **params):
        return self.b.request("POST", path, params=params, json=body,
                              headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def andor():
    a = Andor()
    yield a
    a.b.close()


def claims(token: str) -> dict:
    header, payload, _ = token.split(".")
    assert "=" not in payload  # base64url without padding, as a JWT
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def envelope_ok(r) -> dict:
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"beaconO22", "status", "reply-code", "reply-text", "data"}
    assert (body["status"], body["reply-code"], body["reply-text"]) == ("ok", "0000", "OK")
    return body["data"]


def invalid_patron(r) -> None:
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["reply-code"], body["reply-text"], body["data"]) == (
        "failed", "0002", "The patron ID is invalid", None)


# --- configuration and login (§2, §3) ------------------------------------------


def test_configuration_names_profiles_institution_and_languages(andor):
    r = andor.b.get(f"{PUB}/configuration/vid/{VID}")
    assert r.status_code == 200
    conf = r.json()
    assert conf["vid"] == VID
    systems = {p["authentication-system"]: p["profile-name"] for p in conf["authentication"]}
    assert systems["ALMA"] == "Alma" and "SAML" in systems
    view = conf["primo-view"]
    assert view["institution"]["institution-code"] == INST
    assert view["attributes-map"]["interfaceLanguageOptions"] == "fi,en,sv"
    assert view["attributes-map"]["interfaceLanguage"] == "fi"
    links = conf["mapping-tables"]["Library Card Links"]
    assert links[0]["source1"] == "online_payment_url"
    assert andor.b.get(links[0]["target"]).status_code == 200
    assert andor.b.get(f"{PUB}/configuration/vid/OTHER:VU1").status_code == 404


def test_sso_only_view_offers_no_password_login(andor):
    andor.options.primo_sso_only = True
    conf = andor.b.get(f"{PUB}/configuration/vid/{VID}").json()
    assert [p["authentication-system"] for p in conf["authentication"]] == ["SAML"]
    assert andor.login().status_code == 401


def test_login_gives_a_quoted_jwt_with_the_real_claims(andor):
    r = andor.login()
    assert r.status_code == 200
    raw = r.json()["jwtData"]
    assert raw.startswith('"') and raw.endswith('"')
    token = json.loads(raw)
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert head == {"kid": f"primaPrivateKey-{INST}", "alg": "ES256"}
    c = claims(token)
    assert c["exp"] - c["iat"] == 86400
    assert (c["iss"], c["userName"], c["institution"], c["viewId"]) == (
        "Prima", MAIN[0], INST, VID)
    assert (c["signedIn"], c["onCampus"], c["authenticationSystem"]) == ("true", "false", "ALMA")
    assert c["displayName"] == "Tuomas Tutkija" and c["userGroup"] != "GUEST"
    for key in ("jti", "user", "userIp", "authenticationProfile", "language",
                "samlSessionIndex", "samlNameId"):
        assert key in c


@pytest.mark.parametrize("change", [
    {"password": "9999"}, {"username": "20009999"}, {"authenticationProfile": "HAKA"},
    {"authenticationProfile": "Nope"}, {"institution": "OTHER"}])
def test_login_refused_is_401(andor, change):
    form = {"authenticationProfile": "Alma", "username": MAIN[0], "password": MAIN[1],
            "institution": INST, "view": VID, **change}
    assert andor.b.post("/primaws/suprimaLogin", data=form).status_code == 401


def test_token_works_with_and_without_quotes_and_none_is_401(andor):
    token = andor.token()
    assert envelope_ok(andor.get(f"{MY}/counters", token))
    assert envelope_ok(andor.get(f"{MY}/counters", token, quoted=True))
    assert andor.get(f"{MY}/counters").status_code == 401
    invalid_patron(andor.get(f"{MY}/counters", token[:-4] + "AAAA"))


def test_guest_jwt_is_a_bare_string_and_sees_no_account(andor):
    r = andor.b.get(f"{PUB}/institution/{INST}/guestJwt",
                    params={"isGuest": "true", "lang": "fi", "viewId": VID})
    assert r.status_code == 200 and r.text.startswith('"')
    guest = r.json()
    c = claims(guest)
    assert (c["userGroup"], c["signedIn"], c["exp"] - c["iat"]) == ("GUEST", "false", 86400)
    invalid_patron(andor.get(f"{MY}/loans", guest))


def test_every_account_endpoint_answers_the_envelope(andor):
    token = andor.token()
    for path in ("counters", "loans", "requests", "fines", "personal_settings"):
        envelope_ok(andor.get(f"{MY}/{path}", token, lang="fi"))
    loan = andor.lib.loans_of(MAIN[0])[0]
    envelope_ok(andor.post(f"{MY}/renew_loans", token, {"id": loan.loan_id}))
    envelope_ok(andor.get(f"{MY}/renew_all_loans", token))
    waiting = next(h for h in andor.lib.holds_of(MAIN[0]) if h.status is HoldStatus.WAITING)
    envelope_ok(andor.post(f"{MY}/cancel_requests", token, {"id": waiting.hold_id}))
    for path in ("counters", "loans", "requests", "fines", "personal_settings",
                 "renew_all_loans"):
        assert andor.get(f"{MY}/{path}").status_code == 401


def test_expired_token_is_0002_or_401_by_switch(andor):
    token = andor.token()
    andor.lib.clock.advance(seconds=86400 - 60)
    andor.options.session_ttl = None
    envelope_ok(andor.get(f"{MY}/counters", token))
    andor.lib.clock.advance(seconds=61)
    invalid_patron(andor.get(f"{MY}/counters", token))
    andor.options.primo_expired_401 = True
    assert andor.get(f"{MY}/counters", token).status_code == 401


def test_idle_session_expires_its_token(andor):
    token = andor.token()
    andor.options.session_ttl = 0
    invalid_patron(andor.get(f"{MY}/loans", token))
    andor.options.session_ttl = 600
    envelope_ok(andor.get(f"{MY}/loans", andor.token()))


def test_counters(andor):
    data = envelope_ok(andor.get(f"{MY}/counters", andor.token()))
    values = {a["type"]: a["value"] for a in data["listofactions"]["action"]}
    assert values["Loans"] == str(len(andor.lib.loans_of(MAIN[0])))
    assert values["Requests"] == str(len(andor.lib.holds_of(MAIN[0])))
    assert values["Fines"] == "9.30"  # 3.50 overdue + 5.80 replacement, dot decimal, no currency


# --- loans, renewals (§4.2, §4.3) -------------------------------------------------


def test_loans_page_with_bulk_and_one_based_offset():
    a = Andor(big=25)
    token = a.token(BIG_CARD, BIG_PIN)
    seen, offset, pages = [], 1, []
    while True:
        loans = envelope_ok(a.get(f"{MY}/loans", token, bulk="10", offset=str(offset),
                                  type="active", lang="en"))["loans"]
        pages.append(loans["showmore"])
        seen += [l["loanid"] for l in loans["loan"]]
        if "Y" not in loans["showmore"]:
            break
        offset += 10
    assert pages == [["Y"], ["Y"], ["N"]]
    assert len(seen) == len(set(seen)) == 25
    assert sorted(seen) == sorted(l.loan_id for l in a.lib.loans_of(BIG_CARD))
    a.b.close()


def test_loan_fields_dates_and_languages(andor):
    token = andor.token()
    by_lang = {lang: envelope_ok(andor.get(f"{MY}/loans", token, lang=lang))["loans"]["loan"]
               for lang in ("fi", "en", "sv")}
    overdue = {lang: next(l["loanstatus"] for l in loans if l["title"] == "Puhdistus")
               for lang, loans in by_lang.items()}
    assert overdue == {"fi": "Myöhässä", "en": "Overdue", "sv": "Försenad"}
    for loan in by_lang["fi"]:
        assert YMD.match(loan["duedate"]) and YMD.match(loan["loandate"])
        assert loan["mmsid"].endswith("5973")
        l = andor.lib.loans[loan["loanid"]]
        assert loan["duedate"] == l.due_date.strftime("%Y%m%d")
        assert loan["renew"] == ("Y" if andor.lib.renew_check(l.card, l.loan_id) is None else "N")
    assert {l["renew"] for l in by_lang["fi"]} == {"Y", "N"}  # the reserved one cannot be


def test_renew_loan_moves_its_due_date(andor):
    token = andor.token()
    loan = next(l for l in andor.lib.loans_of(MAIN[0])
                if andor.lib.renew_check(MAIN[0], l.loan_id) is None)
    data = envelope_ok(andor.post(f"{MY}/renew_loans", token, {"id": loan.loan_id}, lang="en"))
    [row] = data["loans"]["loan"]
    new_due = TODAY + timedelta(days=28)
    assert (row["loanid"], row["duedate"]) == (loan.loan_id, new_due.strftime("%Y%m%d"))
    assert row["renewstatuses"] == {"renewstatus": ["Loan renewed"]}
    assert andor.lib.loans[loan.loan_id].due_date == new_due


def test_refused_renewal_keeps_the_due_date_and_says_why(andor):
    token = andor.token()
    reserved = next(l for l in andor.lib.loans_of(MAIN[0])
                    if andor.lib.renew_check(MAIN[0], l.loan_id) == "renew_item_requested")
    before = reserved.due_date
    data = envelope_ok(andor.post(f"{MY}/renew_loans", token, {"id": reserved.loan_id}, lang="fi"))
    [row] = data["loans"]["loan"]
    assert row["duedate"] == before.strftime("%Y%m%d") and row["renew"] == "N"
    assert row["renewstatuses"]["renewstatus"] == ["Niteestä on varaus"]
    body = andor.post(f"{MY}/renew_loans", token, {"id": "nosuchloan"}).json()
    assert (body["status"], body["reply-code"]) == ("failed", "0001")


def test_renew_all_loans(andor):
    token = andor.token()
    data = envelope_ok(andor.get(f"{MY}/renew_all_loans", token, lang="en"))
    rows = data["loans"]["loan"]
    assert {r["loanid"] for r in rows} == {l.loan_id for l in andor.lib.loans_of(MAIN[0])}
    messages = {r["renewstatuses"]["renewstatus"][0] for r in rows}
    assert "Loan renewed" in messages and "Item is requested by another patron" in messages


# --- requests, cancel (§4.4) ----------------------------------------------------


def test_requests_list_holds(andor):
    data = envelope_ok(andor.get(f"{MY}/requests", andor.token(), lang="en"))
    assert set(data) == {"holds", "photocopies", "bookings", "cdls", "ills", "acqs"}
    holds = {h["requestid"]: h for h in data["holds"]["hold"]}
    assert set(holds) == {h.hold_id for h in andor.lib.holds_of(MAIN[0])}
    ready = next(h for h in holds.values() if h["available"] == "Y")
    assert (ready["holdstatus"], ready["cancel"]) == ("On hold shelf", "N")
    ready_since = TODAY - timedelta(days=1)
    assert ready["endholddate"] == (ready_since + timedelta(days=7)).strftime("%Y%m%d")
    waiting = [h for h in holds.values() if h["holdstatus"] == "In process"]
    assert waiting and all(h["cancel"] == "Y" and "endholddate" not in h for h in waiting)
    for h in holds.values():
        assert YMD.match(h["requestdate"]) and h["pickuplocationname"] and h["mmsid"]


@pytest.mark.parametrize("body", [
    lambda i: {"request_id": i, "request_type": "holds"},
    lambda i: {"id": i},
    lambda i: {"requestIds": [i]},
], ids=["omnis", "leitir", "bsb"])
def test_cancel_request_accepts_each_body(andor, body):
    token = andor.token()
    waiting = next(h for h in andor.lib.holds_of(MAIN[0]) if h.status is HoldStatus.WAITING)
    data = envelope_ok(andor.post(f"{MY}/cancel_requests", token, body(waiting.hold_id)))
    assert data == {"holds": {"hold": [{"requestid": waiting.hold_id, "note": {"type": "info"}}]}}
    assert waiting.hold_id not in andor.lib.holds


def test_cancel_refused(andor):
    token = andor.token()
    ready = next(h for h in andor.lib.holds_of(MAIN[0]) if h.status is HoldStatus.READY)
    body = andor.post(f"{MY}/cancel_requests", token, {"id": ready.hold_id}, lang="en").json()
    assert (body["status"], body["reply-text"]) == ("failed", "The request cannot be cancelled")
    assert ready.hold_id in andor.lib.holds
    body = andor.post(f"{MY}/cancel_requests", token,
                      {"request_id": ready.hold_id, "request_type": "bookings"}).json()
    assert body["status"] == "failed"


# --- fines, personal settings (§4.5, §4.6) ---------------------------------------


@pytest.mark.parametrize("lang, sums, overdue", [
    ("fi", ["3,50 €", "5,80 €"], "Myöhästymismaksu"),
    ("sv", ["3,50 €", "5,80 €"], "Förseningsavgift"),
    ("en", ["€3.50", "€5.80"], "Overdue fine"),
])
def test_fines_are_localised_strings(andor, lang, sums, overdue):
    data = envelope_ok(andor.get(f"{MY}/fines", andor.token(), lang=lang))
    fines = data["fines"]["fine"]
    assert [f["finesum"] for f in fines] == sums
    assert [f["originalfinesum"] for f in fines] == sums
    assert fines[0]["description"] == overdue
    assert all(YMD.match(f["finedate"]) and f["type"] == "debit" and f["isAlert"] is False
               for f in fines)


def test_no_fines_is_empty_data():
    a = Andor(big=1)
    assert envelope_ok(a.get(f"{MY}/fines", a.token(BIG_CARD, BIG_PIN))) == {}
    a.b.close()


def test_personal_settings_email(andor):
    data = envelope_ok(andor.get(f"{MY}/personal_settings", andor.token()))
    assert data["email"]["value"] == "tuomas@example.org"


# --- search (§6) -------------------------------------------------------------------


def search(andor, **params):
    base = {"q": "any,contains,python", "vid": VID, "inst": INST, "tab": "LibraryCatalog",
            "scope": "MyInstitution", "offset": "0", "limit": "10", "lang": "fi"}
    return andor.b.get(f"{PUB}/pnxs", params={**base, **params})


def test_search_finds_records_with_pnx_and_delivery(andor):
    r = search(andor)
    assert r.status_code == 200
    body = r.json()
    assert body["info"]["total"] == len(body["docs"]) == 2
    doc = body["docs"][0]
    mms = doc["pnx"]["control"]["sourcerecordid"][0]
    assert doc["pnx"]["control"]["recordid"] == [f"alma{mms}"] and mms in andor.lib.titles
    assert doc["context"] == "L"
    holding = doc["delivery"]["holding"][0]
    assert holding["holKey"].startswith(f"HoldingResultKey [mid={holding['holdId']}")
    assert "delivery" not in search(andor, skipDelivery="Y").json()["docs"][0]
    assert search(andor, scope="NoSuchScope").status_code == 400


def test_search_pages_from_offset_zero(andor):
    everything = search(andor, q="any,contains,", limit="50").json()
    total = everything["info"]["total"]
    assert total == len(andor.lib.titles)
    first = search(andor, q="any,contains,", limit="5", offset="0").json()
    second = search(andor, q="any,contains,", limit="5", offset="5").json()
    ids = [d["pnx"]["control"]["recordid"][0] for d in first["docs"] + second["docs"]]
    assert ids == [d["pnx"]["control"]["recordid"][0] for d in everything["docs"][:10]]
    assert (second["info"]["first"], second["info"]["last"]) == (6, 10)


def test_record_and_delivery(andor):
    mms = next(iter(andor.lib.titles))
    doc = andor.b.get(f"{PUB}/pnxs/L/alma{mms}", params={"vid": VID, "lang": "fi"}).json()
    assert doc["pnx"]["display"]["mms"] == [mms]
    assert andor.b.get(f"{PUB}/pnxs/L/alma990000000005973").status_code == 404
    params = {"q": "any,contains,python", "vid": VID, "scope": "MyInstitution", "offset": "0",
              "limit": "10", "lang": "fi"}
    on_page = search(andor).json()["docs"][0]["pnx"]["control"]["recordid"][0]
    asked = [on_page, f"alma{mms}"]
    assert andor.b.request("POST", f"{PUB}/delivery", params=params,
                           json=asked).status_code == 500  # no qInclude
    r = andor.b.request("POST", f"{PUB}/delivery", params={**params, "qInclude": ""}, json=asked)
    assert [d["pnxId"] for d in r.json()] == [on_page]  # only ids on that result page
    assert r.json()[0]["delivery"]["holding"]


# --- placing a hold (§5) ---------------------------------------------------------------


def hold_chain(andor, token, title="Python Crash Course"):
    mms = next(r for r, t in andor.lib.titles.items() if t.title == title)
    doc = andor.b.get(f"{PUB}/pnxs/L/alma{mms}", params={"vid": VID}).json()
    holdings = doc["delivery"]["holding"]
    r = andor.b.get(f"{PUB}/getPhysicalService/{mms}", headers={"Authorization": f"Bearer {token}"},
                    params={"vid": VID, "recordOwner": INST, "sourceRecordId": mms})
    psid = r.json()["physicalServiceId"]
    return mms, holdings, psid


def holdings_body(mms, locations):
    return {"filters": {"noItem": 10, "ilsRecordList": [{"institution": INST, "recordId": mms}],
                        "vid": VID, "filterCall": True},
            "locations": locations, "hideResourceSharing": False}


def test_hold_chain_places_a_hold(andor):
    token = andor.token("20000002", "2345")
    mms, holdings, psid = hold_chain(andor, token, "Kalevala")
    url = f"/primaws/rest/priv/ILSServices/holdings/{psid}"
    # Two holdings, or one without its holKey: no items (OPY/OMOB bisection).
    for locations in (holdings[:2], [{k: v for k, v in holdings[0].items() if k != "holKey"}]):
        data = envelope_ok(andor.post(url, token, holdings_body(mms, locations)))
        assert data["itemInfo"]["locations"][0]["items"] == []
    data = envelope_ok(andor.post(url, token, holdings_body(mms, holdings[:1]), lang="en"))
    item = data["itemInfo"]["locations"][0]["items"][0]
    service = item["listofservices"]["service"][0]
    assert (service["type"], service["allowed"]) == ("AlmaItemRequest", "Y")
    link = service["link-to-service"]
    assert f"/ILSServices/itemServices/{mms}/item/{item['itemid']}/" in link
    form = andor.b.get(link + f"&lang=fi&itemid={item['itemid']}&vid={VID}",
                       headers={"Authorization": f"Bearer {token}"}).json()
    group = form["services-arr"]["services"][0]["groups-list-map"][0]
    keys = [p["key"] for p in group["pickupLocation"]]
    assert group["requestType"] == "hold" and all(k.endswith("$$LIBRARY") for k in keys)
    library_id = keys[1].split("$$")[0]
    body = {"requestType": "hold", "pickupLocation": library_id, "materialType": "BOOK",
            "itemId": item["itemid"], "group_id": mms, "pickupLibraryId": library_id,
            "pickupType": "LIBRARY"}
    path, _, query = link.partition("?")
    r = andor.b.request("POST", f"{path}?{query}&lang=fi", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and "data" not in r.json()  # no request id
    [hold] = [h for h in andor.lib.holds_of("20000002") if h.record_id == mms]
    assert hold.pickup == andor.lib.pickup_locations[1].code
    requests = envelope_ok(andor.get(f"{MY}/requests", token))["holds"]["hold"]
    assert hold.hold_id in {h["requestid"] for h in requests}
    # The same title again: HTTP 200, status failed.
    again = andor.b.request("POST", f"{path}?{query}", json=body,
                            headers={"Authorization": f"Bearer {token}"}).json()
    assert again["status"] == "failed" and again["reply-text"]
    queue = andor.get(f"/primaws/rest/priv/ILSServices/itemQueue/{item['itemid']}", token,
                      lang="en").json()
    assert queue == {"itemId": item["itemid"], "itemQueueString": "(requests: 1)"}


def test_physical_service_belongs_to_one_login(andor):
    first = andor.token("20000002", "2345")
    mms, holdings, psid = hold_chain(andor, first)
    second = andor.token("20000002", "2345")
    body = andor.post(f"/primaws/rest/priv/ILSServices/holdings/{psid}", second,
                      holdings_body(mms, holdings[:1])).json()
    assert body["status"] == "failed"


# --- misbehaviour ------------------------------------------------------------------------


def renewable(andor):
    return next(l for l in andor.lib.loans_of(MAIN[0])
                if andor.lib.renew_check(MAIN[0], l.loan_id) is None)


def test_renew_answer_lost_after_the_library_renewed(andor):
    token = andor.token()
    loan = renewable(andor)
    andor.options.faults = [Fault("drop_answer", path=f"{MY}/renew_loans", method="POST")]
    with pytest.raises(DroppedConnection):
        andor.post(f"{MY}/renew_loans", token, {"id": loan.loan_id})
    assert andor.lib.loans[loan.loan_id].due_date == TODAY + timedelta(days=28)


def test_dropped_before_acting_changes_nothing(andor):
    token = andor.token()
    waiting = next(h for h in andor.lib.holds_of(MAIN[0]) if h.status is HoldStatus.WAITING)
    andor.options.faults = [Fault("drop", path=f"{MY}/cancel_requests")]
    with pytest.raises(DroppedConnection):
        andor.post(f"{MY}/cancel_requests", token, {"id": waiting.hold_id})
    assert waiting.hold_id in andor.lib.holds


def test_refuse_answers_status_failed_with_http_200(andor):
    token = andor.token()
    loan = renewable(andor)
    before = loan.due_date
    andor.options.faults = [Fault("refuse", path=f"{MY}/renew_loans")]
    r = andor.post(f"{MY}/renew_loans", token, {"id": loan.loan_id})
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["reply-code"], body["data"]) == ("failed", "0001", None)
    assert andor.lib.loans[loan.loan_id].due_date == before
    envelope_ok(andor.post(f"{MY}/renew_loans", token, {"id": loan.loan_id}))  # once only


def test_expire_sessions_revokes_tokens(andor):
    token = andor.token()
    andor.options.faults = [Fault("expire_sessions", path=f"{MY}/loans")]
    invalid_patron(andor.get(f"{MY}/loans", token))
    envelope_ok(andor.get(f"{MY}/loans", andor.token()))


def test_demo_host_serves_tuni_on_primo(tmp_path):
    import asyncio

    import httpx

    from libcli.sandbox.demo import demo_transport

    async def main():
        async with httpx.AsyncClient(transport=demo_transport(tmp_path / "demo.sqlite"),
                                     base_url="http://tuni.localhost") as client:
            return await client.get(f"{PUB}/configuration/vid/{VID}")

    assert asyncio.run(main()).json()["primo-view"]["institution"]["institution-code"] == INST


@pytest.mark.socket
def test_real_server_serves_andor_over_a_socket(tmp_path):
    import httpx

    from tests.helpers.sandbox_server import Server

    s = Server("--view", "tuni", "--state", str(tmp_path / "state.sqlite"))
    try:
        card, pin, view = s.cards[0]
        assert view == "tuni"
        with httpx.Client(base_url=s.url, timeout=10) as c:
            r = c.post("/primaws/suprimaLogin", data={
                "authenticationProfile": "Alma", "username": card, "password": pin,
                "institution": INST, "view": VID, "targetUrl": ""})
            token = json.loads(r.json()["jwtData"])
            loans = c.get(f"{MY}/loans", params={"bulk": "50", "offset": "1", "lang": "fi"},
                          headers={"Authorization": f'Bearer "{token}"'}).json()
            assert loans["status"] == "ok" and loans["data"]["loans"]["loan"]
    finally:
        s.stop()
