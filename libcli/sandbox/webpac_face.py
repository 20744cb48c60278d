"""The demo library's III WebPAC Pro face: Tallinn Central Library in ESTER.

It serves "Minu ESTER / My ESTER" as shared/reference/webpac.md describes it
(§11, the fake-server checklist), over the shared circulation model:

- login: the classic `patform` (GET/POST `/patroninfo~S8*est`, fields `code`
  and `pin`; success is a 302 to `/patroninfo~S8*est/<7-digit>/top`, failure
  a 200 re-render with "Sorry, the information you submitted was invalid" in
  `div.notice`) or CAS (`/iii/cas/login?service=…`, hidden `lt`,
  `execution`, `_eventId`; a service ticket redirect back to
  `/patroninfo~S8*est/IIITICKET?ticket=…`);
- `/top` with links to `/items`, `/holds`, `/overdues`;
- `/items`: the `checkout_form`, `renewN` = `iNNNNNNN` checkboxes, the status
  cell grammar (`DUE dd-mm-yy` / `TÄHTAEG dd.mm.yy`, `+N HOLD(S)`,
  `Renewed N time(s)`), per-row renewal results in `td.patFuncStatus`, and
  the header row left unclosed as the real site does;
- `/holds`: `cancel{i|b}NNNxNN`, `loc…` selects, `freeze…` checkboxes;
- `/overdues`: charges and the total in euros;
- one-step (`renewsome`, `renewall`, `updateholdssome`, `cancelall`) and
  two-step (`requestRenewSome`, `requestRenewAll`, `requestUpdateHoldsSome`,
  `requestCancelAll` → a confirmation page) flows;
- the session in the `III_SESSION_ID` cookie (CAS keeps its own `JSESSIONID`);
- `/record=bNNNNNNN~S8*est` with a Request link whose page refuses: Tallinn
  takes reservations in person, by e-mail or by phone.

Variants, chosen through ``Options.webpac_variant``: a comma-separated list
of tokens, read on every request (so a test may switch them on a running
app). Unknown tokens (such as the default "2024") are ignored.

=============  ===========================  =====================================
switch         tokens (default first)       what changes
=============  ===========================  =====================================
markup         ``classic`` | ``sierra51``   see "Markups" below
               | ``sierra53``
dates          (the registry's              the order of a date's parts:
               ``date_order``) | ``dmy``    day-first (Tallinn), month-first
               | ``mdy`` | ``ymd``          (NYPL, Waterloo: `mm-dd-yy`) or
                                            year-first (Montréal: `yy-mm-dd`)
login          ``form`` | ``cas``           the CAS login flow
language       ``est`` | ``eng``            the default for URLs without
                                            `*est` / `*eng` (the URL wins)
charset        ``utf-8`` | ``iso-8859-1``   header and meta; latin-1 bytes
renew flow     ``one-step`` | ``two-step``  two-step: every renew/cancel post
                                            is answered with a confirmation
                                            page first
format column  ``format`` | ``no-format``   a `td.patFuncFormat` material column
ready status   (words) | ``blank-ready``    a ready hold's status cell printed
                                            blank (Montréal, nelligan-api's
                                            hold_login_withoneready.html)
busy record    (off) | ``busy``             each session's first account page
                                            read answers "Your record is in use
                                            by system" once
=============  ===========================  =====================================

Example: ``Options(webpac_variant="sierra53,cas,eng,iso-8859-1,two-step,mdy")``;
``webpac_variant(markup="sierra53", login="cas", dates="mdy")`` builds the
string; ``python -m libcli.sandbox --view tallinn --webpac-variant sierra51
--webpac-date-order ymd`` serves it on a socket.

Markups, each after public captures of real patron pages:

- ``classic`` (Millennium / Sierra classic skin; Montréal's Nelligan pages in
  julbrs/nelligan-api test/data, Waterloo's in LibraryHippo test_wpl.py): the
  count as the text of `th.patFuncTitle`; `td.patFuncTitle`; the items
  header row left open; `#renewfailmsg` printed hidden above and below the
  table and revealed by a `showElement("renewfailmsg")` script; an item in
  transit has neither a cancel box nor a title link (Waterloo).
- ``sierra51`` (NYPL's sierra-5.1-patron-…-webpac-holds-markup.html): the
  count in `th.patFuncTitle > label#items_count`, a Ratings column
  (`td.patFuncRating`), holds' titles linking to Encore
  (`/iii/encore/record/C__Rb…`), a freeze cell of `&nbsp;` or a
  `div.patFuncFreezeLabel` and a checkbox.
- ``sierra53`` (NYPL's sierra-5.3-patron-…-webpac-holds-markup.html and
  account-markup-2023-08-14.html): no title row; the count in
  `div.patFuncTitle > span#id_pftitle_items_count` on both pages ("3 ITEMS
  CHECKED OUT", "4 HOLDS"); `th.patFuncBibTitle`; visually-hidden labels;
  `name_pfmark_cancel…`, `name_pfpickup_loc…`, `name_pffreeze_freeze…`; a
  Ratings column; a ready hold's pickup select printed empty; the items
  page's mark cell left open.

The sandbox's choices where the reference marks ESTER unconfirmed:

- Dates follow the order chosen (Tallinn's registry row: day-first):
  `dd-mm-yy` in English, `dd.mm.yy` in Estonian status cells, `dd.mm.yyyy`
  for Estonian cancel-by and fine dates; the other orders move the parts
  and keep the separators.
- Estonian wording: `TÄHTAEG dd.mm.yy`, "Pikendatud N korda" (1: "kord"),
  "+N JÄRJEKORRAS", "PIKENDATUD … Uus tähtaeg dd.mm.yy"; failures
  "BRONEERITUD" (on hold), "LIIGA PALJU PIKENDUSI", "PIKENDAMINE POLE
  LUBATUD"; holds "N. koht M-st", "TEEL", "Valmis. Kätte saada hiljemalt
  dd.mm.yy"; login failure "Vabandame, sisestatud andmed on vigased. Palun
  proovige uuesti."; amounts `0,60 €` (English pages: `€0.60`).
- The optional `td.patFuncFormat` column stands for a site-customised items
  table that names the material type (Ajakiri, Ajaleht, Köidetud ajakiri,
  Audiovisuaalne, Raamat).
- Ready and in-transit holds cannot be cancelled online; ready rows carry no
  cancel checkbox.

No online payment: the fines page shows the amounts only.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from libcli.model import FeeType, HoldStatus

from . import circulation as circ

COOKIE = "III_SESSION_ID"
CAS_COOKIE = "JSESSIONID"

_PATRON = re.compile(
    r"^(?:~S(?P<s1>\w+))?(?:\*(?P<l>[a-z]{3}))?(?:~S(?P<s2>\w+))?"
    r"(?:/(?P<id>[^/?]+))?(?:/(?P<fn>\w+))?/?$"
)
_RENEW_FIELD = re.compile(r"^(?:renew\d+|name_pfmark_cancel(i\d+)x\d+)$")
_HOLD_FIELD = re.compile(r"^(?:name_pfmark_)?cancel([ibj]\d+)x\d+$")
_LOC_FIELD = re.compile(r"^(?:name_pfpickup_)?loc([ibj]\d+)x\d+$")


# --- variants ---------------------------------------------------------------


_MARKUPS = {"classic": "classic", "sierra51": "sierra51", "5.1": "sierra51", "s51": "sierra51",
            "sierra53": "sierra53", "5.3": "sierra53", "s53": "sierra53"}


@dataclass(frozen=True)
class Variant:
    markup: str = "classic"
    dates: str | None = None  # None: the consortium's date_order
    login: str = "form"
    language: str = "est"
    charset: str = "utf-8"
    flow: str = "one-step"
    format_column: bool = True
    busy: bool = False
    blank_ready: bool = False

    @property
    def s53(self) -> bool:
        return self.markup == "sierra53"

    @property
    def s51(self) -> bool:
        return self.markup == "sierra51"

    @property
    def ratings(self) -> bool:
        return self.markup != "classic"


def parse_variant(text: str | None) -> Variant:
    values: dict[str, Any] = {}
    for token in re.split(r"[,+\s]+", (text or "").lower()):
        if token in _MARKUPS:
            values["markup"] = _MARKUPS[token]
        elif token in ("dmy", "mdy", "ymd"):
            values["dates"] = token
        elif token in ("form", "cas"):
            values["login"] = token
        elif token in ("est", "eng"):
            values["language"] = token
        elif token in ("utf-8", "utf8"):
            values["charset"] = "utf-8"
        elif token in ("iso-8859-1", "latin1", "latin-1"):
            values["charset"] = "iso-8859-1"
        elif token in ("one-step", "two-step"):
            values["flow"] = token
        elif token in ("format", "no-format"):
            values["format_column"] = token == "format"
        elif token == "busy":
            values["busy"] = True
        elif token == "blank-ready":
            values["blank_ready"] = True
    return Variant(**values)


def webpac_variant(*, markup: str = "classic", login: str = "form", language: str = "est",
                   charset: str = "utf-8", flow: str = "one-step", format_column: bool = True,
                   busy: bool = False, dates: str | None = None) -> str:
    """The ``Options.webpac_variant`` string for these switches."""
    return ",".join([markup, login, language, charset, flow,
                     "format" if format_column else "no-format"] + (["busy"] if busy else [])
                    + ([dates] if dates else []))


# --- wording ----------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "eng": {
        "title": "My ESTER",
        "login_heading": "Please enter the following information",
        "code": "Library card number",
        "pin": "PIN",
        "submit": "Submit",
        "invalid": "Sorry, the information you submitted was invalid. Please try again.",
        "logged_in": "You are logged into ESTER as",
        "items_link": "{n} Items currently checked out",
        "holds_link": "{n} requests (holds).",
        "fines_link": "{amount} in unpaid fines and bills",
        "exp": "EXP DATE:",
        "items_count": "{n} ITEMS CHECKED OUT",
        "renew": "RENEW", "title_h": "TITLE", "barcode": "BARCODE", "status": "STATUS",
        "callno": "CALL NUMBER", "format": "FORMAT",
        "renew_all": "Renew All", "renew_marked": "Renew Marked",
        "renew_fail": "Not all renewals were successful. See details below.",
        "due": "DUE", "holds_suffix1": "HOLD", "holds_suffixn": "HOLDS",
        "renewed_1": "Renewed 1 time", "renewed_n": "Renewed {n} times",
        "fine_now": "FINE(up to now)",
        "renewed_ok": "RENEWED", "now_due": "Now due",
        "on_hold": "ON HOLD", "too_many": "TOO MANY RENEWALS", "not_allowed": "RENEW NOT ALLOWED",
        "no_items": "No items checked out",
        "holds_count": "{n} HOLDS",
        "cancel": "CANCEL", "pickup": "PICKUP LOCATION", "cancel_by": "CANCEL IF NOT FILLED BY",
        "freeze": "FREEZE", "cant_freeze": "This hold can not be frozen.",
        "queue": "{pos} of {len} holds", "in_transit": "IN TRANSIT",
        "ready": "Ready. Must pick up by {date}",
        "cancel_all": "Cancel All", "update_list": "UPDATE LIST", "no_holds": "No holds",
        "fines_h": "FINES", "total": "Total", "no_fines": "You have no fines.",
        "checked_out_label": "DATE CHECKED OUT:", "due_label": "DATE DUE:",
        "overdue": "OVERDUE", "replacement": "REPLACEMENT", "notice": "NOTICE",
        "confirm_renew": "Renew the following items?",
        "confirm_renew_all": "Renew all items?",
        "confirm_holds": "Update the following holds?",
        "confirm_cancel_all": "Cancel all holds?",
        "yes": "YES", "no": "NO",
        "in_use": "Your record is in use by system. Please try again later.",
        "request": "Request",
        "request_denied": "Request denied. Tallinn Central Library takes reservations in "
                          "person, by e-mail or by phone.",
        "request_ok": "Your request for {title} was successful.",
        "pickup_at": "Pick up location:",
        "available": "AVAILABLE", "location": "LOCATION",
        "formats": {"book": "Book", "magazine": "Magazine", "bound_magazine": "Bound magazine",
                    "newspaper": "Newspaper", "audiovisual": "Audiovisual",
                    "children": "Book", "quick_loan": "Book"},
        "money": "€{whole}.{cents:02d}",
        "date_sep": "-", "year": "%y", "long_year": "%y",
    },
    "est": {
        "title": "Minu ESTER",
        "login_heading": "Palun sisestage järgmised andmed",
        "code": "Lugejakaardi number",
        "pin": "PIN-kood",
        "submit": "Sisene",
        "invalid": "Vabandame, sisestatud andmed on vigased. Palun proovige uuesti.",
        "logged_in": "Olete ESTERisse sisse loginud kui",
        "items_link": "{n} laenutust",
        "holds_link": "{n} broneeringut.",
        "fines_link": "{amount} tasumata trahve ja arveid",
        "exp": "KEHTIB KUNI:",
        "items_count": "{n} LAENUTATUD TEAVIKUT",
        "renew": "PIKENDA", "title_h": "PEALKIRI", "barcode": "TRIIPKOOD", "status": "STAATUS",
        "callno": "KOHAVIIT", "format": "TEAVIKU LIIK",
        "renew_all": "Pikenda kõik", "renew_marked": "Pikenda märgitud",
        "renew_fail": "Kõiki teavikuid ei õnnestunud pikendada. Vaata üksikasju allpool.",
        "due": "TÄHTAEG", "holds_suffix1": "JÄRJEKORRAS", "holds_suffixn": "JÄRJEKORRAS",
        "renewed_1": "Pikendatud 1 kord", "renewed_n": "Pikendatud {n} korda",
        "fine_now": "TRAHV(seni)",
        "renewed_ok": "PIKENDATUD", "now_due": "Uus tähtaeg",
        "on_hold": "BRONEERITUD", "too_many": "LIIGA PALJU PIKENDUSI",
        "not_allowed": "PIKENDAMINE POLE LUBATUD",
        "no_items": "Laenutusi ei ole",
        "holds_count": "{n} BRONEERINGUT",
        "cancel": "TÜHISTA", "pickup": "KÄTTESAAMISE KOHT", "cancel_by": "TÜHISTA, KUI POLE TÄIDETUD",
        "freeze": "PEATA", "cant_freeze": "Seda broneeringut ei saa peatada.",
        "queue": "{pos}. koht {len}-st", "in_transit": "TEEL",
        "ready": "Valmis. Kätte saada hiljemalt {date}",
        "cancel_all": "Tühista kõik", "update_list": "UUENDA NIMEKIRJA",
        "no_holds": "Broneeringuid ei ole",
        "fines_h": "TRAHVID", "total": "Kokku", "no_fines": "Teil ei ole trahve.",
        "checked_out_label": "LAENUTATUD:", "due_label": "TÄHTAEG:",
        "overdue": "VIIVIS", "replacement": "ASENDUSTASU", "notice": "MEELDETULETUS",
        "confirm_renew": "Kas pikendada järgmisi teavikuid?",
        "confirm_renew_all": "Kas pikendada kõiki teavikuid?",
        "confirm_holds": "Kas muuta järgmisi broneeringuid?",
        "confirm_cancel_all": "Kas tühistada kõik broneeringud?",
        "yes": "JAH", "no": "EI",
        "in_use": "Teie kirje on süsteemis kasutusel. Palun proovige hiljem uuesti.",
        "request": "Telli",
        "request_denied": "Tellimine ei ole võimalik. Tallinna Keskraamatukogu võtab "
                          "broneeringuid vastu kohapeal, e-posti või telefoni teel.",
        "request_ok": "Teie tellimus teosele {title} on edukalt esitatud.",
        "pickup_at": "Kättesaamise koht:",
        "available": "KOHAL", "location": "ASUKOHT",
        "formats": {"book": "Raamat", "magazine": "Ajakiri", "bound_magazine": "Köidetud ajakiri",
                    "newspaper": "Ajaleht", "audiovisual": "Audiovisuaalne",
                    "children": "Raamat", "quick_loan": "Raamat"},
        "money": "{whole},{cents:02d} €",
        "date_sep": ".", "year": "%y", "long_year": "%Y",
    },
}


def money(cents: int, t: dict[str, Any]) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return sign + t["money"].format(whole=whole, cents=part)


# --- the face ---------------------------------------------------------------


class WebPACFace:
    def __init__(self, ctx):
        self.ctx = ctx
        self.library: circ.Library = ctx.library
        self.scope = ctx.consortium.scope or "1"
        self.sessions = ctx.sessions(COOKIE)
        self.cas_sessions = ctx.sessions(CAS_COOKIE, path="/iii/cas")
        self.tickets: dict[str, str] = {}  # CAS service ticket → card

    # -- helpers -------------------------------------------------------------

    @property
    def variant(self) -> Variant:
        return parse_variant(self.ctx.options.webpac_variant)

    def lang_of(self, lang: str | None) -> str:
        return lang if lang in TEXT else self.variant.language

    def base(self, lang: str) -> str:
        return f"/patroninfo~S{self.scope}*{lang}"

    def respond(self, template: str, lang: str, session=None, status: int = 200,
                **context: Any) -> Response:
        v = self.variant
        t = TEXT[lang]
        html = self.ctx.templates.get_template(f"webpac/{template}").render(
            t=t, v=v, lang=lang, charset=v.charset.upper(), scope=self.scope,
            base=self.base(lang), **context)
        body = html.encode(v.charset, "xmlcharrefreplace")
        response = Response(body, status_code=status,
                            media_type=f"text/html; charset={v.charset.upper()}")
        if session is not None:
            self.sessions.commit(session, response)
        return response

    def redirect(self, url: str, session=None) -> Response:
        response = RedirectResponse(url, status_code=302)
        if session is not None:
            self.sessions.commit(session, response)
        return response

    def patron_of(self, session) -> circ.Patron | None:
        card = session.get("card")
        return self.library.patrons.get(card) if card else None

    @property
    def date_order(self) -> str:
        return self.variant.dates or self.ctx.consortium.date_order

    def fmt(self, day: date | None, lang: str, long: bool = False) -> str:
        if day is None:
            return ""
        t = TEXT[lang]
        parts = {"d": "%d", "m": "%m", "y": t["long_year" if long else "year"]}
        return day.strftime(t["date_sep"].join(parts[c] for c in self.date_order))

    # -- routes --------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/patroninfo{rest:path}", self.patroninfo, methods=["GET", "POST"]),
            Route("/iii/cas/login", self.cas_login, methods=["GET", "POST"]),
            Route("/logout{rest:path}", self.logout, methods=["GET"]),
            Route("/record={rest:path}", self.record, methods=["GET"]),
            Route("/search{rest:path}", self.search, methods=["GET", "POST"]),
            Route("/", self.home, methods=["GET"]),
        ]

    async def home(self, request: Request) -> Response:
        return self.redirect(self.base(self.variant.language))

    async def patroninfo(self, request: Request) -> Response:
        m = _PATRON.match(request.path_params["rest"])
        if not m:
            return Response("Not found", status_code=404)
        lang = self.lang_of(m.group("l"))
        rec, fn = m.group("id"), m.group("fn")
        session = self.sessions.load(request)
        if rec == "IIITICKET":
            return self.ticket(request, session, lang)
        patron = self.patron_of(session)
        if patron is None:
            if self.variant.login == "cas":
                return self.redirect(self.cas_url(request, lang), session)
            if request.method == "POST" and rec is None:
                return await self.form_login(request, session, lang)
            return self.respond("login.html", lang, session, message=None)
        if rec is None or fn is None:
            return self.redirect(f"{self.base(lang)}/{patron.patron_id}/top", session)
        handler = {"top": self.top, "items": self.items, "holds": self.holds,
                   "overdues": self.overdues}.get(fn)
        if handler is None:
            return Response("Not found", status_code=404)
        if self.variant.busy and fn != "top" and not session.get("busy_shown"):
            session["busy_shown"] = True
            return self.respond("busy.html", lang, session, patron=patron)
        return await handler(request, session, patron, lang)

    # -- login ---------------------------------------------------------------

    async def form_login(self, request: Request, session, lang: str) -> Response:
        form = await request.form()
        patron = self.library.authenticate(str(form.get("code", "")), str(form.get("pin", "")))
        if patron is None:
            return self.respond("login.html", lang, session, message=TEXT[lang]["invalid"])
        fresh = self.sessions.regenerate(session)
        fresh["card"] = patron.card
        return self.redirect(f"{self.base(lang)}/{patron.patron_id}/top", fresh)

    def cas_url(self, request: Request, lang: str) -> str:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        service = f"{origin}{self.base(lang)}/IIITICKET"
        return "/iii/cas/login?" + urlencode({"service": service, "lang": lang,
                                              "scope": self.scope})

    async def cas_login(self, request: Request) -> Response:
        service = request.query_params.get("service", "")
        lang = self.lang_of(request.query_params.get("lang"))
        cas = self.cas_sessions.load(request)
        message = None
        if request.method == "POST":
            form = await request.form()
            expected = cas.pop("lt")
            if not expected or form.get("lt") != expected or form.get("_eventId") != "submit":
                message = TEXT[lang]["invalid"]
            else:
                patron = self.library.authenticate(str(form.get("code", "")),
                                                   str(form.get("pin", "")))
                if patron is None:
                    message = TEXT[lang]["invalid"]
                else:
                    ticket = "ST-" + secrets.token_hex(12)
                    self.tickets[ticket] = patron.card
                    sep = "&" if "?" in service else "?"
                    response = RedirectResponse(f"{service}{sep}ticket={ticket}", status_code=302)
                    self.cas_sessions.commit(cas, response)
                    return response
        cas["lt"] = "LT-" + secrets.token_hex(10)
        html_ctx = {"message": message, "lt": cas["lt"], "execution": "e1s1",
                    "action": "/iii/cas/login?" + urlencode(
                        {"service": service, "lang": lang, "scope": self.scope})}
        response = self.respond("cas_login.html", lang, None, **html_ctx)
        self.cas_sessions.commit(cas, response)
        return response

    def ticket(self, request: Request, session, lang: str) -> Response:
        card = self.tickets.pop(request.query_params.get("ticket", ""), None)
        patron = self.library.patrons.get(card) if card else None
        if patron is None:
            return self.redirect(self.cas_url(request, lang), session)
        fresh = self.sessions.regenerate(session)
        fresh["card"] = patron.card
        return self.redirect(f"{self.base(lang)}/{patron.patron_id}/top", fresh)

    async def logout(self, request: Request) -> Response:
        session = self.sessions.load(request)
        self.sessions.destroy(session)
        response = self.respond("logout.html", self.variant.language, None)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- account pages -------------------------------------------------------

    async def top(self, request, session, patron, lang) -> Response:
        lib = self.library
        return self.respond(
            "top.html", lang, session, patron=patron,
            loans=len(lib.loans_of(patron.card)), holds=len(lib.holds_of(patron.card)),
            fines=money(lib.balance_cents(patron.card), TEXT[lang]) if lib.balance_cents(
                patron.card) else None,
            expires=self.fmt(date(lib.today().year + 2, 12, 31), lang),
        )

    def item_rows(self, patron: circ.Patron, lang: str,
                  outcomes: dict[str, circ.RenewOutcome] | None = None) -> list[dict[str, Any]]:
        lib = self.library
        t = TEXT[lang]
        rows = []
        for n, loan in enumerate(lib.loans_of(patron.card)):
            item = lib.item_of(loan)
            title = lib.titles[item.record_id]
            others = sum(1 for h in lib.holds.values()
                         if h.record_id == item.record_id and h.card != patron.card
                         and h.status is HoldStatus.WAITING)
            outcome = (outcomes or {}).get(item.item_id)
            result = None
            if outcome is not None and outcome.ok:
                result = {"ok": True, "text": t["renewed_ok"],
                          "due": f'{t["now_due"]} {self.fmt(outcome.new_due, lang)}'}
            elif outcome is not None:
                text = {circ.RENEW_REQUESTED: t["on_hold"], circ.RENEW_LIMIT: t["too_many"]}.get(
                    outcome.reason, t["not_allowed"])
                result = {"ok": False, "text": text}
            fine = lib.accrued_fee(loan)
            rows.append({
                "n": n,
                "item": item.item_id,
                "digits": item.item_id[1:],
                "record": item.record_id,
                "title": f"{title.title} / {title.author}" if title.author else title.title,
                "barcode": item.barcode,
                "call": item.call_number,
                "format": t["formats"][item.material.value],
                "due": f'{t["due"]} {self.fmt(loan.due_date, lang)}',
                "holds": (f"+{others} " + (t["holds_suffix1"] if others == 1 else t["holds_suffixn"]))
                if others else None,
                "renewed": (t["renewed_1"] if loan.renewals == 1 else
                            t["renewed_n"].format(n=loan.renewals)) if loan.renewals else None,
                "fine": f'{t["fine_now"]} {money(fine, t)}' if fine else None,
                "result": result,
            })
        return rows

    async def items(self, request, session, patron, lang) -> Response:
        outcomes = None
        if request.method == "POST":
            form = await request.form()
            fields = list(form.multi_items())
            names = {k for k, _ in fields}
            chosen = [str(v) for k, v in fields if _RENEW_FIELD.match(k) and str(v).startswith("i")]
            all_ = "renewall" in names or "requestRenewAll" in names
            command = "renewall" if all_ else "renewsome"
            wants_confirm = "requestRenewSome" in names or "requestRenewAll" in names
            if not wants_confirm and command not in names:
                session.pop("pending_renew")  # "NO" on a confirmation, or nothing asked
                return self.respond("items.html", lang, session, patron=patron,
                                    rows=self.item_rows(patron, lang), failed=False,
                                    action=request.url.path)
            pending = session.get("pending_renew")
            key = ["*"] if all_ else sorted(chosen)
            if wants_confirm or (self.variant.flow == "two-step" and pending != key):
                session["pending_renew"] = key
                hidden = [(k, str(v)) for k, v in fields if _RENEW_FIELD.match(k)]
                return self.respond("confirm.html", lang, session, action=request.url.path,
                                    hidden=hidden + [("currentsortorder", "current_checkout")],
                                    command=command,
                                    prompt=TEXT[lang]["confirm_renew_all" if all_ else
                                                      "confirm_renew"])
            session.pop("pending_renew")
            mine = {self.library.item_of(l).item_id: l.loan_id
                    for l in self.library.loans_of(patron.card)}
            wanted = list(mine) if all_ else [i for i in chosen if i in mine]
            results = self.library.renew(patron.card, [mine[i] for i in wanted])
            outcomes = {r.item_id: r for r in results}
        rows = self.item_rows(patron, lang, outcomes)
        failed = any(r["result"] and not r["result"]["ok"] for r in rows)
        return self.respond("items.html", lang, session, patron=patron, rows=rows, failed=failed,
                            action=request.url.path)

    def hold_rows(self, patron: circ.Patron, lang: str) -> list[dict[str, Any]]:
        lib = self.library
        t = TEXT[lang]
        rows = []
        for n, hold in enumerate(lib.holds_of(patron.card)):
            title = lib.titles[hold.record_id]
            rec = hold.item_id or hold.record_id
            suffix = f"{rec}x{n:02d}"
            if hold.status is HoldStatus.READY:
                status = "" if self.variant.blank_ready else t["ready"].format(
                    date=self.fmt(lib.pickup_by(hold), lang))
            elif hold.status is HoldStatus.IN_TRANSIT:
                status = t["in_transit"]
            else:
                status = t["queue"].format(pos=lib.queue_position(hold), len=lib.queue_length(hold))
            pickup = lib.pickup_location(hold.pickup)
            rows.append({
                "n": n,
                "suffix": suffix,
                "record": hold.record_id,
                "title": f"{title.title} / {title.author}" if title.author else title.title,
                "status": status,
                "cancellable": hold.status is not HoldStatus.READY,
                "changeable": hold.status is HoldStatus.WAITING,
                "ready": hold.status is HoldStatus.READY,
                "in_transit": hold.status is HoldStatus.IN_TRANSIT,
                "pickup_code": hold.pickup,
                "pickup_name": pickup.name if pickup else hold.pickup,
                "expires": self.fmt(hold.expires, lang, long=True),
            })
        return rows

    def pickups(self) -> list[dict[str, str]]:
        return [{"value": (p.code + "+++++")[:5], "code": p.code, "name": p.name}
                for p in self.library.pickup_locations]

    async def holds(self, request, session, patron, lang) -> Response:
        if request.method == "POST":
            form = await request.form()
            fields = list(form.multi_items())
            names = {k for k, _ in fields}
            all_ = "cancelall" in names or "requestCancelAll" in names
            command = "cancelall" if all_ else "updateholdssome"
            wants_confirm = "requestUpdateHoldsSome" in names or "requestCancelAll" in names
            if wants_confirm or command in names:
                cancel = sorted(_HOLD_FIELD.match(k).group(1) for k, v in fields
                                if _HOLD_FIELD.match(k) and str(v).lower() in ("on", "yes", "true"))
                key = ["*"] if all_ else cancel
                if wants_confirm or (self.variant.flow == "two-step"
                                     and session.get("pending_holds") != key):
                    session["pending_holds"] = key
                    hidden = [(k, str(v)) for k, v in fields
                              if _HOLD_FIELD.match(k) or _LOC_FIELD.match(k) or "freeze" in k]
                    return self.respond(
                        "confirm.html", lang, session, action=request.url.path,
                        hidden=hidden + [("currentsortorder", "current_pickup")], command=command,
                        prompt=TEXT[lang]["confirm_cancel_all" if all_ else "confirm_holds"])
                session.pop("pending_holds")
                self.apply_holds(patron, fields, all_)
            else:
                session.pop("pending_holds")  # "NO" on a confirmation
        return self.respond("holds.html", lang, session, patron=patron,
                            rows=self.hold_rows(patron, lang), pickups=self.pickups(),
                            action=request.url.path)

    def apply_holds(self, patron: circ.Patron, fields: list[tuple[str, Any]], all_: bool) -> None:
        lib = self.library
        mine = lib.holds_of(patron.card)
        by_rec = {(h.item_id or h.record_id): h for h in mine}
        if all_:
            lib.cancel_holds(patron.card, [h.hold_id for h in mine])
            return
        cancel = []
        for k, v in fields:
            m = _HOLD_FIELD.match(k)
            if m and str(v).lower() in ("on", "yes", "true") and m.group(1) in by_rec:
                cancel.append(by_rec[m.group(1)].hold_id)
            m = _LOC_FIELD.match(k)
            if m and m.group(1) in by_rec:
                hold = by_rec[m.group(1)]
                code = str(v).strip().rstrip("+").strip()
                if hold.status is HoldStatus.WAITING and code != hold.pickup and \
                        lib.pickup_location(code) is not None:
                    hold.pickup = code
                    lib.changed()
        if cancel:
            lib.cancel_holds(patron.card, cancel)

    async def overdues(self, request, session, patron, lang) -> Response:
        lib = self.library
        t = TEXT[lang]
        kinds = {FeeType.OVERDUE: t["overdue"], FeeType.REPLACEMENT: t["replacement"],
                 FeeType.NOTICE: t["notice"]}
        fees = []
        for fee in lib.fees_of(patron.card):
            fees.append({
                "title": fee.title or fee.description or "",
                "kind": kinds.get(fee.fee_type, fee.description or ""),
                "amount": money(fee.amount_cents, t),
                "checked_out": self.fmt(fee.checkout_date, lang, long=True),
                "due": self.fmt(fee.due_date, lang, long=True),
            })
        return self.respond("overdues.html", lang, session, patron=patron, fees=fees,
                            total=money(lib.balance_cents(patron.card), t))

    # -- catalogue: record and request pages -----------------------------------

    def record_lang(self, rest: str) -> tuple[str, str]:
        m = re.match(r"^([bij]\d+)(?:~S\w+)?(?:\*([a-z]{3}))?", rest)
        return (m.group(1) if m else ""), self.lang_of(m.group(2) if m else None)

    async def record(self, request: Request) -> Response:
        record_id, lang = self.record_lang(request.path_params["rest"])
        title = self.library.titles.get(record_id)
        if title is None:
            return Response("Not found", status_code=404)
        items = []
        for item in self.library.items_of(record_id):
            loan = self.library.item_on_loan(item.item_id)
            loc = self.library.pickup_location(item.location)
            items.append({"location": loc.name if loc else item.location, "call": item.call_number,
                          "status": f'{TEXT[lang]["due"]} {self.fmt(loan.due_date, lang)}'
                          if loan else TEXT[lang]["available"]})
        link = (f"/search~S{self.scope}*{lang}?/.{record_id}/.{record_id}/1%2C1%2C1%2CB/"
                f"request~{record_id}")
        return self.respond("record.html", lang, None, title=title, items=items, link=link)

    async def search(self, request: Request) -> Response:
        m = re.search(r"request~([bij]\d+)", request.url.query or "")
        lm = re.match(r"^(?:~S\w+)?(?:\*([a-z]{3}))?", request.path_params["rest"])
        lang = self.lang_of(lm.group(1) if lm else None)
        if not m:
            return Response("Not found", status_code=404)
        record_id = m.group(1)
        session = self.sessions.load(request)
        patron = self.patron_of(session)
        if patron is None:
            return self.respond("login.html", lang, session, message=None)
        title = self.library.titles.get(record_id)
        if title is None:
            return Response("Not found", status_code=404)
        t = TEXT[lang]
        if request.method == "POST":
            form = await request.form()
            code = str(form.get("locx00", "")).strip().rstrip("+").strip()
            outcome = self.library.place_hold(patron.card, record_id, code)
            if outcome.ok:
                return self.respond("request.html", lang, session, title=title, refused=None,
                                    ok=t["request_ok"].format(title=title.title),
                                    pickup=code, pickups=None)
            return self.respond("request.html", lang, session, title=title,
                                refused=t["request_denied"], ok=None, pickups=None)
        reason = self.library.hold_check(patron.card, record_id)
        if reason:
            return self.respond("request.html", lang, session, title=title,
                                refused=t["request_denied"], ok=None, pickups=None)
        return self.respond("request.html", lang, session, title=title, refused=None, ok=None,
                            pickups=self.pickups(), home=patron.home_location,
                            action=f"{request.url.path}?{request.url.query}")


def routes(ctx) -> list[Route]:
    return WebPACFace(ctx).routes()


__all__ = ["routes", "parse_variant", "webpac_variant", "Variant", "TEXT", "money"]

