"""Primo VE's JSON as model objects: pure functions, no I/O.

``primo.py`` holds the flow (requests, the JWT, re-login); this module reads
what the view's web page reads (shared/reference/primo-ve.md). Marks after a
rule say how sure it is: [C n] confirmed by n independent clients, [S1] seen
in one client (or one author's family), [INF] inferred; sources by the
reference's keys (OPY omnis-py, OMOB omnis-mobile, LCLI leitir-cli, BSB the
Bayerische Staatsbibliothek CLI, CFG configuration dumps, ...).

Tolerance: Primo turns a one-element array into the bare element now and
then (OMOB ``renewStatusMessages``/``holdItems``, BSB) and sends ``{}`` or
nothing for an empty list (OPY fines), so every list is read through
:func:`as_list`. A row without its identity (a loan without ``loanid``) is
:class:`PageNotUnderstood`; a missing optional field is None.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from typing import Any, Iterable

from msgspec import Struct, field

from libcli.backends.shared import fee_type_of, parse_money
from libcli.errors import LibcliError, PageNotUnderstood
from libcli.markup import clean
from libcli.model import (
    Fee, Hold, HoldStatus, Loan, Material, Money, PickupLocation, SearchResult,
)
from libcli.policy import Policy, due_status, estimated_late_fee, predicted_renewal

CONFIG = "view configuration"
LOGIN = "login"
LOANS = "loans"
REQUESTS = "requests"
FINES = "fines"
RENEW = "renew"
CANCEL = "cancel request"
SEARCH = "search"
RECORD = "record"
HOLDINGS = "holdings"
REQUEST_FORM = "request form"
SUBMIT = "request"

# The reply code of a guest, invalid or expired patron token on myaccount/*,
# answered with HTTP 200 (§7) [C 2: SUST, omnis family].
SESSION_INVALID = "0002"
# Login systems that take a card number and password in suprimaLogin (§2):
# ALMA [C 2: CFG, OMOB]; LDAP [INF: UNESP posts profile "LDAP", its system
# value was not seen]. SAML, CAS, OAUTH are single sign-on (OMOB).
PASSWORD_SYSTEMS = ("ALMA", "LDAP")


class Failed(LibcliError):
    """An answer with ``"status": "failed"`` (HTTP 200 and a reply code)."""

    def __init__(self, code: str, text: str, what: str):
        super().__init__(f"the library refused the {what}: {text or 'no reason given'}"
                         + (f" (reply code {code})" if code else ""))
        self.code = code
        self.text = text

    @property
    def session_invalid(self) -> bool:
        return self.code == SESSION_INVALID


# --- shapes -------------------------------------------------------------------


def as_list(value: Any) -> list:
    """A list however Primo sends it: a list, one bare element, {} or nothing."""
    if value is None or value == {} or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def first(value: Any) -> str | None:
    """The first string of an array-or-bare-string PNX value, cleaned."""
    for v in as_list(value):
        if isinstance(v, (str, int)) and str(v).strip():
            return clean(str(v))
    return None


def obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise PageNotUnderstood(what, "a JSON answer") from None


def check(doc: Any, what: str) -> Any:
    """The ``data`` of an envelope (§1 [C 3: OPY, LCLI, SUST]); a failed
    envelope raises :class:`Failed`. Bare answers (login, delivery) pass."""
    if isinstance(doc, dict) and str(doc.get("status", "")).lower() == "failed":
        raise Failed(str(doc.get("reply-code") or ""), clean(str(doc.get("reply-text") or "")),
                     what)
    return doc.get("data") if isinstance(doc, dict) and "data" in doc else doc


def ymd(value: Any) -> date | None:
    """``YYYYMMDD`` (§1 [C 4: OPY, LCLI formatDate, ISHARE, SUST])."""
    m = re.fullmatch(r"\s*(\d{4})(\d{2})(\d{2})\s*", str(value or ""))
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def yes(value: Any) -> bool | None:
    """``"Y"``/``"N"`` flags; None when absent."""
    v = first(value)
    return None if v is None else v.upper() == "Y"


def _short_title(title: str) -> str:
    # Loans' titles carry the statement of responsibility, "Title / Author"
    # (§4.2 [C 2: OPY, OMOB displayTitle]); the author is its own field.
    head = re.split(r"\s+/\s+", title, maxsplit=1)[0].strip().rstrip(" .,:;=")
    return head or title


def _strip_markers(text: str) -> str:
    # PNX display strings carry "$$Q…" lookup markers (§6 [C 2: OMOB, BSB]).
    return clean(re.sub(r"\$\$[A-Z][^$]*", "", text))


# --- the JWT ----------------------------------------------------------------------------


def token_from_login(doc: Any) -> str | None:
    """``{"jwtData": "\\"eyJ…\\""}``: the token is a JSON string with its
    quotes inside (§3.1 [C 4: OPY l.183, JAB, LCLI, LHA l.38])."""
    raw = doc.get("jwtData") if isinstance(doc, dict) else doc if isinstance(doc, str) else None
    if not isinstance(raw, str):
        return None
    token = raw.strip().strip('"').strip()
    return token if token.count(".") == 2 else None


def token_expiry(token: str) -> int | None:
    """The ``exp`` claim, read as base64url (§8.2 [C 3: BSB, OMOB, EZL];
    standard base64 would silently drop '-' and '_')."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return int(exp) if isinstance(exp, (int, float, str)) and str(exp).isdigit() else None
    except (ValueError, IndexError):
        return None


# --- the view's configuration (§2) ----------------------------------------------------------


class ViewConfig(Struct):
    institution: str | None = None
    profile: str | None = None  # the password login profile's name, None: SSO only
    sso_profiles: list[str] = field(default_factory=list)
    language: str | None = None
    languages: list[str] = field(default_factory=list)
    tab: str | None = None
    scope: str | None = None
    pay_url: str | None = None

    def to_session(self) -> dict[str, Any]:
        return {"institution": self.institution, "profile": self.profile,
                "sso_profiles": self.sso_profiles, "language": self.language,
                "languages": self.languages, "tab": self.tab, "scope": self.scope,
                "pay_url": self.pay_url}

    @classmethod
    def from_session(cls, data: Any) -> "ViewConfig | None":
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{k: data.get(k) for k in ("institution", "profile", "language", "tab",
                                                   "scope", "pay_url")},
                       sso_profiles=list(data.get("sso_profiles") or []),
                       languages=list(data.get("languages") or []))
        except TypeError:
            return None


def read_config(doc: Any) -> ViewConfig:
    if not isinstance(doc, dict) or not isinstance(doc.get("authentication"), (list, dict)):
        raise PageNotUnderstood(CONFIG, "its login profiles (authentication[])")
    view = obj(doc.get("primo-view"))
    # primo-view.institution.institution-code [C 3: OMOB CustomTenant.kt, CFG, KU Leuven].
    institution = first(obj(view.get("institution")).get("institution-code"))
    profile = None
    sso: list[str] = []
    # authentication[]: profile-name and authentication-system [C 2: CFG, OMOB];
    # the first password profile is the one the login page posts.
    for entry in as_list(doc.get("authentication")):
        entry = obj(entry)
        name = first(entry.get("profile-name"))
        system = (first(entry.get("authentication-system")) or "").upper()
        if not name:
            continue
        if system in PASSWORD_SYSTEMS:
            profile = profile or name
        else:
            sso.append(name)
    # attributes-map.interfaceLanguage / interfaceLanguageOptions "fi,en" [S1 CFG; NDE types].
    attrs = obj(view.get("attributes-map"))
    language = first(attrs.get("interfaceLanguage"))
    options = [x.strip() for x in (first(attrs.get("interfaceLanguageOptions")) or "").split(",")
               if x.strip()]
    tab, scope = _search_scope(view)
    return ViewConfig(institution=institution, profile=profile, sso_profiles=sso,
                      language=language, languages=options or ([language] if language else []),
                      tab=tab, scope=scope, pay_url=_pay_url(obj(doc.get("mapping-tables"))))


def _search_scope(view: dict) -> tuple[str | None, str | None]:
    """The local catalogue's tab and scope: an unknown scope answers HTTP 400
    [S1 OMOB], so they come from the view's own scopes[] ({scope-id, tab,
    contains-central-index-scope} [S1 CFG]); the library's holdings, not the
    central index, are what a hold can be placed on."""
    scopes = [obj(s) for s in as_list(view.get("scopes"))]
    local = [s for s in scopes if first(s.get("scope-id")) and first(s.get("tab"))
             and str(s.get("contains-central-index-scope")).lower() != "true"]
    for s in local:
        if first(s.get("scope-id")) == "MyInstitution":
            return first(s.get("tab")), "MyInstitution"
    pick = local[0] if local else next((s for s in scopes if first(s.get("scope-id"))), None)
    if pick is None:
        return None, None
    return first(pick.get("tab")), first(pick.get("scope-id"))


def _pay_url(tables: dict) -> str | None:
    """The Pay Fine link: the row of the "Library Card Links" mapping table
    whose parameter is ``online_payment_url`` (EXLPAY, Ex Libris's own
    documentation). Mapping tables reach the view as ``{target, source1…}``
    rows [S1 CFG types]; which column holds the URL is [INF], so any column of
    that row holding an http(s) address is taken."""
    for rows in tables.values():
        for row in as_list(rows):
            row = obj(row)
            values = [str(v).strip() for v in row.values() if isinstance(v, (str, int))]
            if "online_payment_url" not in values:
                continue
            enabled = str(row.get("enabled", row.get("source3", "true"))).lower()
            if enabled in ("false", "n", "no", "0"):
                continue  # "only one row can be enabled at a time" (EXLPAY)
            url = next((v for v in values if re.match(r"(?i)https?://", v)), None)
            if url:
                return url
    return None


# --- loans (§4.2) ------------------------------------------------------------------------------


def read_loans(data: Any, *, card: str, policy: Policy, today: date,
               account: str | None = None) -> tuple[list[Loan], bool]:
    """One page of ``myaccount/loans``: its loans, and whether ``showmore``
    asks for the next page (§4.2 [S1 OPY l.255–260]; OMOB reads it too)."""
    loans = obj(obj(data).get("loans"))
    rows = [read_loan(obj(r), i, card=card, policy=policy, today=today, account=account)
            for i, r in enumerate(as_list(loans.get("loan")))]
    more = any(str(v).upper() == "Y" for v in as_list(loans.get("showmore")))
    return rows, more


def renew_messages(row: dict) -> list[str]:
    """``renewstatuses.renewstatus`` ([S1 OMOB Models.kt]; a bare string too)."""
    inner = row.get("renewstatuses")
    if isinstance(inner, dict):
        inner = inner.get("renewstatus")
    return [clean(str(m)) for m in as_list(inner) if isinstance(m, (str, int)) and str(m).strip()]


def read_loan(row: dict, index: int = 0, *, card: str, policy: Policy, today: date,
              account: str | None = None) -> Loan:
    # loanid, duedate [C 4]; title [C 5]; renew Y/N [C 4]; itembarcode [C 3];
    # mmsid [C 2]; callnumber2 / callnumber [S1 OMOB / C 2].
    key = first(row.get("loanid"))
    if not key:
        raise PageNotUnderstood(LOANS, f"the id (loanid) of loan {index + 1}")
    due = ymd(first(row.get("duedate")))
    if due is None:
        raise PageNotUnderstood(LOANS, f"the due date (duedate YYYYMMDD) of loan {index + 1}")
    title = _short_title(first(row.get("title")) or "")
    material = Material.BOOK
    renewable = yes(row.get("renew")) is not False
    reason = None
    if not renewable:
        messages = renew_messages(row)
        _, predicted = predicted_renewal(policy, material, 0, False)
        reason = "; ".join(messages) or predicted or "the library does not allow renewing it online"
    return Loan(
        card=card, account=account, key=key, title=title or "(no title)", due_date=due,
        author=first(row.get("author")), record_id=first(row.get("mmsid")),
        barcode=first(row.get("itembarcode")),
        call_number=first(row.get("callnumber2")) or first(row.get("callnumber")),
        material=material, renewals_limit=policy.renewal_limit_for(material),
        renewable=renewable, not_renewable_reason=reason,
        status=due_status(policy, due, today),
        estimated_fee=estimated_late_fee(policy, material, due, today))


def loans_in_answer(data: Any) -> dict[str, dict]:
    """The loans a renew answer carries, by loanid. The renew answer is not
    documented anywhere [INF]: the loans envelope with the renewed loan(s) is
    assumed, and a loan it does not carry is looked up in the loans again."""
    loans = obj(obj(data).get("loans"))
    out = {}
    for row in as_list(loans.get("loan")):
        row = obj(row)
        key = first(row.get("loanid"))
        if key:
            out[key] = row
    return out


# --- requests (holds) (§4.4) ---------------------------------------------------------------------

# holdstatus is localised text [C 2: OPY live ("W realizacji"), LCLI]; an
# item on its way to the pickup desk is told by its words [INF] in fi/sv/en.
_IN_TRANSIT = re.compile(r"(?i)transit|kuljetuksessa|kuljetus|matkalla|på väg|under transport")


def read_holds(data: Any, *, card: str, account: str | None = None) -> list[Hold]:
    holds = obj(obj(data).get("holds"))
    return [read_hold(obj(r), i, card=card, account=account)
            for i, r in enumerate(as_list(holds.get("hold")))]


def read_hold(row: dict, index: int = 0, *, card: str, account: str | None = None) -> Hold:
    # requestid, title, holdstatus, available Y/N (ready), cancel Y/N,
    # pickuplocationname, requestdate [C 2: OPY live test, LCLI types].
    key = first(row.get("requestid"))
    if not key:
        raise PageNotUnderstood(REQUESTS, f"the id (requestid) of hold {index + 1}")
    words = first(row.get("holdstatus")) or ""
    if yes(row.get("available")):
        status = HoldStatus.READY
    elif _IN_TRANSIT.search(words):
        status = HoldStatus.IN_TRANSIT
    else:
        status = HoldStatus.WAITING
    cancel = yes(row.get("cancel"))
    # A hold ready for pickup is cancelled by telling the library (the seed:
    # "Requests available for pick up must be canceled by notifying the Library").
    cancellable = cancel if cancel is not None else status is not HoldStatus.READY
    # endholddate / endrequestdate: named after CFG's "Hold/Recall Request
    # Detailed Display" (end_hold_date, end_request_date) by the rule
    # "drop the underscores" that holds for every observed field [INF];
    # placeinqueue likewise after the Alma REST API's place_in_queue [INF]:
    # no client shows a queue position in this JSON (§4.4), so it is often None.
    queue = first(row.get("placeinqueue"))
    return Hold(
        card=card, account=account, key=key,
        title=_short_title(first(row.get("title")) or "") or "(no title)",
        status=status, author=first(row.get("author")), record_id=first(row.get("mmsid")),
        queue_position=int(queue) if queue and queue.isdigit() and status is HoldStatus.WAITING
        else None,
        pickup_location=first(row.get("pickuplocationname")),
        pickup_by=ymd(first(row.get("endholddate"))) if status is HoldStatus.READY else None,
        created=ymd(first(row.get("requestdate"))),
        expires=ymd(first(row.get("endrequestdate"))),
        cancellable=cancellable)


def cancel_note(data: Any, request_id: str) -> str | None:
    """Why a cancel answer with status ok did not cancel, if it says so: its
    ``holds.hold[].note`` ({"type": "info"} on success [S1 OPY live]); a note
    of another type is read as the refusal [INF]."""
    for row in as_list(obj(obj(data).get("holds")).get("hold")):
        row = obj(row)
        if first(row.get("requestid")) not in (None, request_id):
            continue
        note = row.get("note")
        if isinstance(note, dict) and str(note.get("type", "info")).lower() not in ("info", "success"):
            return first(note.get("text") or note.get("message") or note.get("value")) or "refused"
    return None


# --- fines (§4.5) -----------------------------------------------------------------------------------


def read_fines(data: Any, *, currency: str) -> list[Fee]:
    """Open fines as fees. ``data: {}`` is an account without fines [S1 OPY];
    ``finesum`` is localised text ("0,20 PLN", "0,20 €") [C 2: OPY, LCLI];
    a ``CLOSED`` fine is paid and not counted (LCLI treats anything else as open)."""
    out = []
    for i, row in enumerate(as_list(obj(obj(data).get("fines")).get("fine"))):
        row = obj(row)
        if (first(row.get("finestatus")) or "").upper() == "CLOSED":
            continue
        cents = parse_money(first(row.get("finesum")))
        if cents is None:
            raise PageNotUnderstood(FINES, f"the amount (finesum) of fine {i + 1}")
        description = first(row.get("description"))
        out.append(Fee(amount=Money(cents, currency),
                       fee_type=fee_type_of(description or ""),
                       title=first(row.get("title")), description=description,
                       created=ymd(first(row.get("finedate")))))
    return out


# --- search (§6) ----------------------------------------------------------------------------------------


def _pnx(doc: dict, section: str) -> dict:
    return obj(obj(doc.get("pnx")).get(section))


def mms_of(doc: dict) -> str | None:
    """The bare MMS id: control.sourcerecordid, else recordid without its
    "alma" prefix (§6 [C 2: OPY, BSB])."""
    control = _pnx(doc, "control")
    record = first(control.get("recordid")) or ""
    if not record.startswith("alma") and record:
        return None  # a central-index record (cdi_…): nothing to hold
    return first(control.get("sourcerecordid")) or (record[4:] if record else None) \
        or first(_pnx(doc, "display").get("mms"))


def read_search(doc: Any) -> list[SearchResult]:
    if not isinstance(doc, dict) or not isinstance(doc.get("docs", []), (list, dict)):
        raise PageNotUnderstood(SEARCH, "the result list (docs)")
    out = []
    for d in as_list(doc.get("docs")):
        d = obj(d)
        display = _pnx(d, "display")
        record = mms_of(d) or first(_pnx(d, "control").get("recordid"))
        title = first(display.get("title"))
        if not record or not title:
            continue
        authors = _names(as_list(display.get("creator")) + as_list(display.get("contributor")))
        out.append(SearchResult(
            record_id=record, title=_strip_markers(title), authors=authors,
            year=first(display.get("creationdate")) or first(_pnx(d, "addata").get("date")),
            formats=tuple(_strip_markers(t) for t in as_list(display.get("type"))
                          if isinstance(t, str))))
    return out


def _names(values: Iterable[Any]) -> tuple[str, ...]:
    seen: list[str] = []
    for v in values:
        for part in str(v).split(";"):
            name = _strip_markers(part)
            if name and name not in seen:
                seen.append(name)
    return tuple(seen)


# --- placing a hold (§5) ---------------------------------------------------------------------------------


def holdings_of(doc: Any) -> list[dict]:
    """``delivery.holding[]`` of a record (pnxs/L answer [S1 BSB]; the
    ``delivery`` answer's items carry the same [C 2: OPY, BSB])."""
    if isinstance(doc, list):
        return [h for d in doc for h in holdings_of(d)]
    return [obj(h) for h in as_list(obj(obj(doc).get("delivery")).get("holding")) if obj(h)]


class RequestableItem(Struct, frozen=True):
    item_id: str
    link: str  # its AlmaItemRequest link-to-service
    category: str = ""
    status: str = ""
    main_location: str = ""
    sub_location: str = ""


def requestable_items(data: Any) -> list[RequestableItem]:
    """Items of ``ILSServices/holdings`` that offer an allowed AlmaItemRequest
    (``itemInfo.locations[].items[].listofservices.service[]`` [C 2: OPY live, BSB])."""
    out = []
    for loc in as_list(obj(obj(data).get("itemInfo")).get("locations")):
        loc = obj(loc)
        for item in as_list(loc.get("items")):
            item = obj(item)
            item_id = first(item.get("itemid"))
            services = as_list(obj(item.get("listofservices")).get("service"))
            link = next((first(s.get("link-to-service")) for s in map(obj, services)
                         if first(s.get("type")) == "AlmaItemRequest" and yes(s.get("allowed"))
                         and first(s.get("link-to-service"))), None)
            if item_id and link:
                out.append(RequestableItem(
                    item_id=item_id, link=link, category=first(item.get("itemcategoryname")) or "",
                    status=first(item.get("itemstatusname")) or "",
                    main_location=first(item.get("mainlocationname"))
                    or first(loc.get("main-location")) or "",
                    sub_location=first(item.get("secondarylocationname"))
                    or first(loc.get("sub-location")) or ""))
    return out


class RequestForm(Struct, frozen=True):
    request_type: str
    material_type: str | None
    locations: list[PickupLocation]
    kinds: dict[str, str]  # library id -> its pickup type (LIBRARY, …)


def read_request_form(doc: Any) -> RequestForm | None:
    """The hold group of ``services-arr.services[].groups-list-map[]``; a
    pickup key is ``<libraryId>$$<TYPE>`` [C 3: OPY, BSB, JHU], BSB also saw
    ``…###<addressId>`` (delivery to an address: not offered here)."""
    for service in as_list(obj(obj(doc).get("services-arr")).get("services")):
        for group in as_list(obj(service).get("groups-list-map")):
            group = obj(group)
            kind = first(group.get("requestType")) or "hold"
            if kind != "hold":
                continue
            locations, kinds = [], {}
            for p in as_list(group.get("pickupLocation")):
                p = obj(p)
                key = first(p.get("key")) or ""
                library, _, rest = key.partition("$$")
                if not library or not rest or "###" in rest:
                    continue
                kinds[library] = rest
                locations.append(PickupLocation(code=library, name=first(p.get("value")) or library,
                                                default=yes(p.get("default")) is True))
            material = first(obj(group.get("materialType")).get("key"))
            return RequestForm(kind, material, locations, kinds)
    return None
