"""The Finna (NDL-VuFind2, finna2 theme) face of the demo library.

Follows /work/shared/reference/finna.md: routes, body classes, ids, names,
``alert-*`` flashes, one-time CSRF tokens, the ``PHPSESSID`` cookie, 200
"forwards" where VuFind forwards, 302 where it redirects, languages fi / sv /
en-gb (``se`` accepted, falls back to fi).

Where the reference is silent, the sandbox does what VuFind most likely does:

* Each view has one login target (its ``login_target``), so the login form
  carries a hidden ``target`` plus the library name in ``div > strong``.
  A successful login regenerates the session id (a new ``PHPSESSID``).
* Driver behaviour (``DRIVERS``, from the drivers in NDL-VuFind2
  module/VuFind/src/VuFind/ILS/Driver and module/Finna/src/Finna/ILS/Driver)
  comes from the view (heili KohaRestSuomi, tuni Alma, helmet SierraRest)
  unless ``Options.finna_driver`` names one:
  - "sierra": every loan is "renewable" (refusals show after submitting),
    ``renew`` without ``renewLimit`` ("Uusittu: N"), queue position
    "N / M", the ILS pages loans (no "renew all" with more than one page).
  - "koha": renewable per loan; ``renew`` and ``renewLimit``
    ("Uusimiskertoja jäljellä: N"), both null for the permanent blocks
    (too_many, on_reserve, onsite) whose reason shows as ``message``;
    ``materialType``; position is the bare priority.
  - "alma": renewable per loan, no renewal counts at all; a hold first in
    its queue is "In Process" and shows ``hold_in_process`` where the queue
    position stands.
  VuFind pages loans for koha and alma (50 a page; loans on other pages add
  hidden ``renewAllIDS[]``). With no renewable loan on the page there is no
  renewal form and every ``td.checkbox-col`` is empty; otherwise a
  non-renewable loan's cell holds ``span.no-checkbox``. Quick loans
  (short loans) are due at a time of day: ``<span class="due-time">``.
* ``renew_details`` is ``<checkout id>|<item id>``; hold ``cancel_details``
  is the hold id. A loan is "due" (``renew_item_due``) when due today or
  tomorrow.
* The holds-cancel confirmation page is ``template-dir-default
  template-name-confirm`` with a form that posts the same IDs with
  ``confirm=1``.
* The hold link is title level: ``/Record/<id>/Hold?id=..&item_id=..
  &holdtype=hold&level=title&hashKey=<hmac>#tabnav``. Up-front refusals
  (borrowing block, not reservable, duplicate, limit) redirect to
  ``/Record/<id>#top`` with an error flash; an invalid pickup location or
  date re-renders the form.
* Fines run without fine selection on every view, because the sandbox's
  rule is "whole balance only"; the amount confirmed must equal the amount
  shown on the terms page (else ``online_payment_fines_changed``). The terms
  page keeps the fines page's body classes. As myresearch/fines.phtml: the
  heading "Maksut (N)" sits in the first ``div.fines-info-area``, the totals
  in the second, the not-payable reason in a later one. A payment started
  within the last 15 minutes shows the ``online_payment_in_progress_warning``
  (``div.alert-danger``) and the pay button stays; paying again abandons the
  earlier transaction. The e-mail rule (Heili) is reported with
  ``online_payment_email_address_required``.
* Hold forms (``Options.finna_hold_form``): "plain" (pickup select),
  "terms" (``gatheredDetails[acceptTerms]``; without it the form comes back
  with ``must_accept_terms``) and "request-groups" (``select#requestGroupId``
  and an empty ``select#pickUpLocation`` that /AJAX/JSON?method=
  getRequestGroupPickupLocations&id=..&requestGroupId=.. fills with
  ``{"data": {"locations": [{"locationID", "locationDisplay"}]}}``).
* Login: Auth/ChoiceAuth tabs, library card (MultiILS) and Finna account
  (Database) in ``Options.finna_login_first`` order. ``refuse_login_once``
  answers one login with ``authentication_error_technical``.
* The payment provider lives on the same server: ``pay-confirm`` answers
  302 to ``/PaymentProvider/checkout?checkout-stamp=<payment id>&...``, a
  page with Pay and Cancel buttons that answer 302 to
  ``/MyResearch/Fines?finna_payment_id=<md5>&checkout-status=ok|fail&...
  &signature=<hmac>``, which registers (or cancels) the payment. The same
  query sent to ``/AJAX/onlinePaymentNotify`` (Paytrail's server-to-server
  notify) registers it without a session; a later return then just reports
  "online_payment_successful".
* ``/v1/record`` with an unknown id answers ``resultCount: 0``.

Markup variants (``Options.finna_variant``):

* ``"2024"``: bootstrap 3 finna2 as in the Oct-2024 repository
  (``tr.sr-only.myresearch-row``, ``#online_payment_total_due[data-raw]``,
  ``label label-info``, ``hidden-xs``, ``data-toggle``).
* ``"bs5"`` (alias ``"2025"``): the bootstrap 5 markup live on
  heili.finna.fi in 2026: ``visually-hidden``, ``d-none d-sm-table-cell``,
  ``badge``, ``btn-secondary``, ``data-bs-toggle``, and the fines totals as
  classes (``.online-payment-total-due.js-payment-total-due[data-raw]``,
  ``.js-minimum-payment``) instead of ids. Names, row ids and ``alert-*``
  classes stay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from libcli.model import HoldStatus, Material

from . import circulation as circ
from .app import FaceContext, Session
from .finna_i18n import LANGUAGES, translate

COOKIE = "PHPSESSID"
CSRF_KEEP = 5
CSRF_TTL = 300
PAGE_SIZE = 50
NS_ORDER = ("error", "warning", "info", "success", "default")
NS_CLASS = {"error": "danger", "warning": "warning", "info": "info", "success": "success",
            "default": "default"}


@dataclass(frozen=True)
class DriverConf:
    name: str
    ils_pages: bool  # the ILS pages loans (SierraRest); otherwise VuFind does
    all_renewable: bool  # the driver marks every loan renewable (SierraRest)
    renew_counts: str  # "limit": renew + renewLimit (Koha); "count": renew only; "none"
    position: str  # "queue": "N / M" (Sierra); "priority": N; "alma": N or hold_in_process


DRIVERS = {
    "koha": DriverConf("KohaRestSuomi", False, False, "limit", "priority"),
    "alma": DriverConf("Alma", False, False, "none", "alma"),
    "sierra": DriverConf("SierraRest", True, True, "count", "queue"),
}
VIEWS = {"heili": ("Heili-kirjastot", "koha"), "tuni": ("Tampereen yliopiston kirjasto", "alma"),
         "helmet": ("Helmet-kirjastot", "sierra")}
# KohaRest::$permanentRenewalBlocks: renew and renewLimit are nulled for these.
KOHA_PERMANENT = {circ.RENEW_LIMIT: "too_many", circ.RENEW_NO: "too_many",
                  circ.RENEW_REQUESTED: "on_reserve"}
# The demo's request groups: an id, a name and which pickup locations (None: all).
REQUEST_GROUPS = (("1", "Kaikki kirjastot", None), ("2", "Lähikirjastot", 2))


@dataclass(frozen=True)
class Markup:
    """Class names that differ between the bootstrap 3 and bootstrap 5 finna2 pages."""

    bs5: bool

    @property
    def sr(self) -> str:
        return "visually-hidden" if self.bs5 else "sr-only"

    @property
    def hidden_xs(self) -> str:
        return "d-none d-sm-table-cell" if self.bs5 else "hidden-xs"

    @property
    def badge(self) -> str:
        return "badge" if self.bs5 else "label label-info"

    @property
    def btn_default(self) -> str:
        return "btn-secondary" if self.bs5 else "btn-default"

    @property
    def toggle(self) -> str:
        return "data-bs-toggle" if self.bs5 else "data-toggle"

    @property
    def pull_left(self) -> str:
        return "float-start" if self.bs5 else "pull-left flip"


MARKUPS = {"2024": Markup(False), "bs5": Markup(True), "2025": Markup(True)}


def money(cents: int) -> str:
    """``1 234,50 €`` with U+00A0, as ICU's fi_FI currency format."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{sign}{grouped},{part:02d}\u00a0€"


def fdate(d: date | None) -> str:
    return f"{d.day}.{d.month}.{d.year}" if d else ""


def parse_fdate(text: str) -> date | None:
    m = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*", text or "")
    if not m:
        return None
    try:
        return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None


def alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


class Page:
    """One request's state: session, language, flashes, the page's CSRF token."""

    def __init__(self, face: "FinnaFace", request: Request, session: Session, form: Any):
        self.face = face
        self.request = request
        self.session = session
        self.form = form
        self.lang = face.detect_language(request, form)
        self.flashes: list[tuple[str, str]] = []
        self._csrf: str | None = None

    # strings
    def t(self, key: str, **tokens: Any) -> str:
        return translate(key, self.lang, **tokens)

    def flash(self, ns: str, key: str, *, html: bool = False, **tokens: Any) -> None:
        from markupsafe import escape

        text = self.t(key, **tokens)
        self.flashes.append((ns, text if html else str(escape(text))))

    def take_flashes(self) -> list[dict[str, str]]:
        pending = [tuple(f) for f in self.session.pop("flash", [])] + self.flashes
        self.flashes = []
        seen, out = set(), []
        for ns in NS_ORDER:
            for fns, html in pending:
                if fns == ns and (ns, html) not in seen:
                    seen.add((ns, html))
                    out.append({"cls": NS_CLASS[ns], "html": html})
        return out

    def keep_flashes(self) -> None:
        """Carry this request's flashes over a redirect."""
        self.session["flash"] = list(self.session.get("flash", [])) + [list(f) for f in self.flashes]
        self.flashes = []

    # CSRF
    def csrf(self) -> str:
        if self._csrf is None:
            tokens = self.face.csrf_tokens(self.session)
            self._csrf = f"{secrets.token_hex(16)}-{secrets.token_hex(16)}"
            tokens.append(self._csrf)
            del tokens[:-CSRF_KEEP]
            self.session["csrf_at"] = time.monotonic()
        return self._csrf

    @property
    def user(self) -> circ.Patron | None:
        card = self.session.get("card")
        return self.face.lib.patrons.get(card) if card else None

    @property
    def url(self) -> str:
        q = self.request.url.query
        return self.request.url.path + (f"?{q}" if q else "")


class FinnaFace:
    def __init__(self, ctx: FaceContext):
        self.ctx = ctx
        self.lib = ctx.library
        self.view = ctx.view
        self.site_name, self.view_driver = VIEWS.get(ctx.view, (ctx.consortium.name, "koha"))
        self.target = ctx.consortium.login_target or ctx.view
        self.sessions = ctx.sessions(COOKIE)

    # --- plumbing --------------------------------------------------------

    @property
    def driver(self) -> DriverConf:
        """Read per request, so a running app can switch (``options.finna_driver``)."""
        return DRIVERS[self.ctx.options.finna_driver or self.view_driver]

    @property
    def markup(self) -> Markup:
        return MARKUPS[self.ctx.options.finna_variant]

    def detect_language(self, request: Request, form: Any) -> str:
        for candidate in ((form or {}).get("mylang"), request.query_params.get("lng"),
                          request.cookies.get("language")):
            if candidate in LANGUAGES:
                return candidate
        return self.ctx.options.language if self.ctx.options.language in LANGUAGES else "fi"

    def csrf_tokens(self, session: Session) -> list[str]:
        at = session.get("csrf_at")
        if at is not None and time.monotonic() - at > CSRF_TTL:
            session["csrf"] = []
        return session.data.setdefault("csrf", [])

    def csrf_valid(self, page: Page, token: str | None, *, consume: bool = False) -> bool:
        tokens = self.csrf_tokens(page.session)
        if self.ctx.take_csrf_refusal():
            return False
        if not token or token not in tokens:
            return False
        if consume:
            tokens.remove(token)
        return True

    def handler(self, method):
        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            session = self.sessions.load(request)
            page = Page(self, request, session, form)
            response = await method(page)
            if isinstance(response, RedirectResponse):
                page.keep_flashes()
            self.sessions.commit(page.session, response)
            response.set_cookie("language", page.lang, path="/")
            return response

        endpoint.__name__ = method.__name__
        return endpoint

    def render(self, page: Page, template: str, tdir: str, tname: str, *, status: int = 200,
               **context: Any) -> Response:
        html = self.ctx.templates.get_template(f"finna/{template}.html").render(
            p=page, t=page.t, money=money, fdate=fdate, quote=quote, alnum=alnum,
            lang=page.lang, tdir=tdir, tname=tname, user=page.user, site_name=self.site_name,
            view=self.view, m=self.markup, lib=self.lib, flashes=page.take_flashes, **context)
        return Response(html, status_code=status, media_type="text/html; charset=UTF-8")

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=302)

    def login_page(self, page: Page, *, forced: bool = False, username: str = "") -> Response:
        if forced:
            page.flash("error", "You must be logged in first")
            page.session["followup"] = page.url
        first = self.ctx.options.finna_login_first
        methods = [first] + [m for m in ("MultiILS", "Database") if m != first]
        return self.render(page, "login", "myresearch", "login", target=self.target,
                           username=username, methods=methods)

    # --- login -----------------------------------------------------------

    async def user_login(self, page: Page) -> Response:
        if page.user:
            return self.redirect("/MyResearch/Home")
        referer = page.request.headers.get("referer")
        if referer:
            parsed = urlparse(referer)
            if parsed.netloc in ("", page.request.url.netloc) and "Login" not in parsed.path:
                page.session["followup"] = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        return self.login_page(page)

    async def complete_login(self, page: Page) -> Response:
        if page.user:
            return self.redirect("/MyResearch/Home")
        return await self.user_login(page)

    async def home(self, page: Page) -> Response:
        form = page.form
        if form is not None and (form.get("processLogin") is not None or form.get("auth_method")):
            return await self.process_login(page)
        if page.user:
            return self.favorites(page)
        return self.login_page(page)

    async def process_login(self, page: Page) -> Response:
        form = page.form
        username = (form.get("username") or "").strip()
        password = form.get("password") or ""
        if not self.csrf_valid(page, form.get("csrf")):
            page.flash("error", "authentication_error_technical")
            return self.login_page(page, username=username)
        if self.ctx.options.refuse_login_once:
            self.ctx.options.refuse_login_once = False
            page.flash("error", "authentication_error_technical")
            return self.login_page(page, username=username)
        if not username or not password:
            page.flash("error", "authentication_error_blank")
            return self.login_page(page, username=username)
        if form.get("auth_method") != "MultiILS":
            page.flash("error", "authentication_error_invalid")  # no Finna accounts in the demo
            return self.login_page(page, username=username)
        target = form.get("target") or self.target
        if target != self.target:
            page.flash("error", "authentication_error_admin")
            return self.login_page(page, username=username)
        patron = self.lib.authenticate(username.replace(" ", ""), password)
        if patron is None:
            page.flash("error", "authentication_error_invalid")
            return self.login_page(page, username=username)
        page.session = self.sessions.regenerate(page.session)
        page.session["card"] = patron.card
        page.session["csrf"] = []
        followup = page.session.pop("followup", None)
        if followup:
            return self.redirect(followup)
        return self.favorites(page)

    def favorites(self, page: Page) -> Response:
        return self.render(page, "favorites", "myresearch", "mylist")

    async def logout(self, page: Page) -> Response:
        self.sessions.destroy(page.session)
        page.session = self.sessions.regenerate(page.session)
        page.session.data = {}
        return self.redirect("/")

    # --- checked out -----------------------------------------------------

    def renew_details(self, loan: circ.Loan) -> str:
        return f"{loan.loan_id}|{loan.item_id}"

    async def checked_out(self, page: Page) -> Response:
        patron = page.user
        if patron is None:
            return self.login_page(page, forced=True)
        results: dict[str, circ.RenewOutcome] = {}
        form = page.form
        if form is not None and (form.get("renewAll") or form.get("renewSelected")):
            if form.get("renewAll"):
                ids = form.getlist("renewAllIDS[]")
            elif form.get("selectAll"):
                ids = form.getlist("selectAllIDS[]")
            else:
                ids = form.getlist("renewSelectedIDS[]")
            if not ids:
                page.flash("error", "renew_empty_selection")
            else:
                loan_ids = [i.split("|", 1)[0] for i in ids]
                outcomes = self.lib.renew(patron.card, loan_ids)
                results = {o.item_id: o for o in outcomes if o.item_id}
                ok = sum(o.ok for o in outcomes)
                bad = len(outcomes) - ok
                if bad:
                    page.flash("error", "renew_error_summary", count=bad)
                if ok:
                    page.flash("success", "renew_success_summary", count=ok)
        loans = self.lib.loans_of(patron.card)
        if page.request.query_params.get("sort") == "title":
            loans.sort(key=lambda l: self.lib.title_of(l).title.lower())
        try:
            number = int(page.request.query_params.get("page", "1"))
        except ValueError:
            number = 0
        pages = max(1, -(-len(loans) // PAGE_SIZE))
        if not 1 <= number <= pages:
            return PlainTextResponse("Bad Request", status_code=400)
        shown = loans[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]
        others = [l for l in loans if l not in shown]
        rows = [self.loan_row(page, l, results.get(l.item_id)) for l in shown]
        other_failures = [
            f"{self.lib.title_of(l).title}: {page.t('renew_fail').rstrip('.')}: "
            f"{page.t(results[l.item_id].reason)}"
            for l in others if l.item_id in results and not results[l.item_id].ok]
        drv = self.driver
        # MyResearchController: the renewal form only when a loan on the page is renewable.
        renew_form = any(r["renewable"] for r in rows)
        hidden_all = [] if drv.ils_pages else [
            self.renew_details(l) for l in others
            if drv.all_renewable or self.lib.renew_check(l.card, l.loan_id) is None]
        show_renew_all = not drv.ils_pages or pages == 1
        blocks = []
        block = self.lib.borrowing_block(patron.card)
        if block:
            blocks.append(page.t(block))
        return self.render(page, "checkedout", "myresearch", "checkedout", rows=rows,
                           total=len(loans), number=number, pages=pages,
                           renew_form=renew_form, hidden_all=hidden_all,
                           show_renew_all=show_renew_all, other_failures=other_failures,
                           blocks=blocks,
                           select_all_key="select_all_on_page" if drv.ils_pages else "Select All",
                           first_shown=(number - 1) * PAGE_SIZE + 1,
                           last_shown=(number - 1) * PAGE_SIZE + len(shown))

    def loan_row(self, page: Page, loan: circ.Loan, result: circ.RenewOutcome | None) -> dict:
        lib = self.lib
        item = lib.item_of(loan)
        title = lib.title_of(loan)
        drv = self.driver
        reason = lib.renew_check(loan.card, loan.loan_id)
        renewable = drv.all_renewable or reason is None
        renew: int | None = loan.renewals
        limit = lib.renewal_limit(loan)
        message = None
        if drv.renew_counts == "none":
            renew = limit = None
        elif drv.renew_counts == "count":
            limit = None
        elif reason is not None:
            # KohaRest::getTransactions: the block's reason is the message; the
            # permanent ones null the counts.
            message = reason
            if reason in KOHA_PERMANENT:
                renew = limit = None
        days = (loan.due_date - lib.today()).days
        due_status = "overdue" if days < 0 else "due" if days <= 1 else ""
        loc = lib.pickup_location(item.location)
        return {
            "loan": loan, "item": item, "title": title, "renewable": renewable,
            "details": self.renew_details(loan), "renew": renew, "limit": limit,
            "message": message, "due_status": due_status, "result": result,
            "location": loc.name if loc else item.location,
            "material_type": title.format if title and drv.renew_counts == "limit" else None,
            "due_time": self.due_time(loan, item),
        }

    def due_time(self, loan: circ.Loan, item: circ.Item) -> str | None:
        """Short (quick) loans fall due at a time of day, as the live views print them."""
        if item.material is not Material.QUICK_LOAN:
            return None
        minutes = int(hashlib.md5(loan.loan_id.encode()).hexdigest(), 16) % 16 * 30
        return f"{10 + minutes // 60}.{minutes % 60:02d}"

    # --- holds -----------------------------------------------------------

    async def holds_redirect(self, page: Page) -> Response:
        return self.redirect("/Holds/List")

    async def holds_list(self, page: Page) -> Response:
        patron = page.user
        if patron is None:
            return self.login_page(page, forced=True)
        form = page.form
        failures: dict[str, str] = {}
        if form is not None and (form.get("cancelSelected") or form.get("cancelAll")):
            if form.get("cancelAll"):
                ids = form.getlist("cancelAllIDS[]")
            else:
                ids = form.getlist("selectedIDS[]") or form.getlist("cancelSelectedIDS[]")
            allowed = set(page.session.get("hold_ids", []))
            if not ids:
                page.flash("error", "hold_empty_selection")
            elif not set(ids) <= allowed:
                page.flash("error", "error_inconsistent_parameters")
            elif form.get("confirm") != "1":
                holds = [self.lib.holds[i] for i in ids if i in self.lib.holds]
                return self.render(page, "confirm", "default", "confirm", ids=ids,
                                   all=bool(form.get("cancelAll")), holds=holds)
            else:
                outcomes = self.lib.cancel_holds(patron.card, ids)
                ok = sum(o.ok for o in outcomes)
                failures = {o.hold_id: o.reason for o in outcomes if not o.ok}
                if ok:
                    page.flash("success", "hold_cancel_success_items", count=ok)
                if failures:
                    page.flash("error", "hold_cancel_fail_items", count=len(failures))
        holds = self.lib.holds_of(patron.card)
        rows = []
        for h in holds:
            loc = self.lib.pickup_location(h.pickup)
            cancellable = self.lib.hold_cancellable(h)
            rows.append({
                "hold": h, "title": self.lib.titles.get(h.record_id),
                "cancel_details": h.hold_id if cancellable else None,
                "pickup": loc.name if loc else h.pickup,
                "position": self.hold_position(page, h),
                "pickup_by": self.lib.pickup_by(h),
                "failure": failures.get(h.hold_id),
            })
        page.session["hold_ids"] = [r["cancel_details"] for r in rows if r["cancel_details"]]
        block = self.lib.borrowing_block(patron.card)
        return self.render(page, "holds", "holds", "list", rows=rows,
                           cancel_form=any(r["cancel_details"] for r in rows),
                           blocks=[page.t(block)] if block else [])

    def hold_position(self, page: Page, hold: circ.Hold) -> str | None:
        """What the driver puts in ``position`` for a hold still in the queue."""
        if hold.status is not HoldStatus.WAITING:
            return None
        position = self.lib.queue_position(hold)
        style = self.driver.position
        if style == "queue":  # SierraRest: priority / queue length
            return f"{position} / {self.lib.queue_length(hold)}"
        if style == "alma" and position == 1:  # Alma: request_status "In Process"
            return page.t("hold_in_process")
        return str(position)

    # --- records and placing holds ----------------------------------------

    def hold_query(self, record_id: str) -> str:
        items = self.lib.items_of(record_id)
        item_id = items[0].item_id if items else ""
        params = {"id": record_id, "item_id": item_id, "holdtype": "hold", "level": "title"}
        params["hashKey"] = self.ctx.sign(item_id, "hold", "title", record_id)
        return urlencode(params)

    def record_or_404(self, page: Page) -> circ.Title | None:
        return self.lib.titles.get(page.request.path_params["id"])

    async def record(self, page: Page) -> Response:
        title = self.record_or_404(page)
        if title is None:
            return self.render(page, "error", "error", "index", status=404,
                               message="Record does not exist.")
        tab = page.request.path_params.get("tab")
        holdings = self.holdings_context(page, title) if tab == "Holdings" else None
        return self.render(page, "record", "record", "view", title=title, holdings=holdings)

    async def ajax_tab(self, page: Page) -> Response:
        title = self.record_or_404(page)
        if title is None:
            return PlainTextResponse("Record does not exist.", status_code=404)
        tab = (page.form.get("tab") if page.form is not None else None) or "holdings"
        if tab.lower() != "holdings":
            return self.render(page, "tab_description", "RecordTab", "description", title=title)
        return self.render(page, "holdings", "RecordTab", "holdingsils",
                           **self.holdings_context(page, title))

    def holdings_context(self, page: Page, title: circ.Title) -> dict[str, Any]:
        items = []
        for item in self.lib.items_of(title.record_id):
            loan = self.lib.item_on_loan(item.item_id)
            loc = self.lib.pickup_location(item.location)
            items.append({"item": item, "loan": loan, "location": loc.name if loc else item.location})
        patron = page.user
        state = "login"
        if patron is not None:
            reason = self.lib.hold_check(patron.card, title.record_id)
            if reason == circ.HOLD_BLOCKED:
                state = "blocked"
            elif reason == circ.HOLD_NOT_RESERVABLE:
                state = "not_reservable"
            else:
                state = "link"
        return {"title": title, "items": items, "hold_state": state,
                "hold_url": f"/Record/{quote(title.record_id)}/Hold?{self.hold_query(title.record_id)}#tabnav",
                "login_url": f"/MyResearch/CompleteLogin?target={self.target}"}

    async def hold(self, page: Page) -> Response:
        title = self.record_or_404(page)
        record_url = f"/Record/{quote(page.request.path_params['id'])}"
        if title is None:
            return self.redirect(record_url)
        patron = page.user
        if patron is None:
            return self.login_page(page, forced=True)
        q = page.request.query_params
        expected = self.ctx.sign(q.get("item_id", ""), q.get("holdtype", ""), q.get("level", ""),
                                 title.record_id)
        if not hmac.compare_digest(q.get("hashKey", ""), expected):
            return self.redirect(record_url)
        up_front = self.lib.hold_check(patron.card, title.record_id)
        if up_front:
            page.flash("error", up_front)
            return self.redirect(f"{record_url}#top")
        form = page.form
        hold_form = self.ctx.options.finna_hold_form
        groups = self.request_groups() if hold_form == "request-groups" else []
        chosen = patron.home_location
        chosen_group = ""
        required_by = fdate(self.lib.today() + timedelta(days=365))
        comment = ""
        if form is not None and form.get("placeHold") is not None:
            chosen = form.get("gatheredDetails[pickUpLocation]") or ""
            chosen_group = form.get("gatheredDetails[requestGroupId]") or ""
            required_by = form.get("gatheredDetails[requiredBy]") or ""
            comment = form.get("gatheredDetails[comment]") or ""
            needed = parse_fdate(required_by) if required_by else self.lib.today()
            # Finna RecordController::holdAction: every check flashes, then all must pass.
            group = next((g for g in groups if g["id"] == chosen_group), None)
            valid_group = not groups or group is not None
            offered = group["locations"] if group else self.lib.pickup_locations
            valid_pickup = valid_group and any(loc.code == chosen for loc in offered)
            valid_date = needed is not None and needed >= self.lib.today()
            terms_ok = hold_form != "terms" or bool(form.get("gatheredDetails[acceptTerms]"))
            if not valid_group:
                page.flash("error", "hold_invalid_request_group")
            if not valid_pickup:
                page.flash("error", "hold_invalid_pickup")
            if not valid_date:
                page.flash("error", "hold_required_by_date_invalid")
            if not terms_ok:
                page.flash("error", "must_accept_terms")
            if valid_group and valid_pickup and valid_date and terms_ok:
                outcome = self.lib.place_hold(patron.card, title.record_id, chosen)
                if outcome.ok:
                    page.flash("success", "hold_place_success_html", html=True)
                    return self.redirect(f"{record_url}#top")
                page.flash("error", outcome.reason)
        return self.render(page, "hold", "record", "hold", title=title,
                           locations=self.lib.pickup_locations, chosen=chosen,
                           required_by=required_by, comment=comment,
                           request_groups=groups, chosen_group=chosen_group,
                           accept_terms=hold_form == "terms")

    def request_groups(self) -> list[dict[str, Any]]:
        locations = self.lib.pickup_locations
        return [{"id": gid, "name": name, "locations": locations[:n] if n else list(locations)}
                for gid, name, n in REQUEST_GROUPS]

    # --- fines and payment ---------------------------------------------------

    def transaction_id(self, patron: circ.Patron) -> str:
        return hashlib.md5(f"{self.view}:{patron.card}:{patron.patron_id}".encode()).hexdigest()

    def payment_by_md5(self, md5: str) -> circ.Payment | None:
        for p in self.lib.payments.values():
            if hashlib.md5(p.payment_id.encode()).hexdigest() == md5:
                return p
        return None

    async def fines(self, page: Page) -> Response:
        patron = page.user
        if patron is None:
            return self.login_page(page, forced=True)
        form = page.form
        q = page.request.query_params
        if q.get("finna_payment_id"):
            self.register_return(page, patron)
            return self.fines_page(page, patron)
        if form is not None and form.get("pay-confirm") is not None:
            return self.confirm_payment(page, patron)
        if form is not None and form.get("pay") is not None:
            reason = self.lib.payment_check(patron.card)
            if reason in (None, circ.PAY_IN_PROGRESS) and \
                    form.get("transactionId") == self.transaction_id(patron):
                amount = self.lib.balance_cents(patron.card)
                page.session["payment_amount"] = amount
                return self.render(page, "terms", "myresearch", "fines", amount=amount,
                                   transaction_id=self.transaction_id(patron),
                                   selected=form.getlist("selectedIDS[]"))
            page.flash("error", "online_payment_failed")
        return self.fines_page(page, patron)

    def fines_page(self, page: Page, patron: circ.Patron) -> Response:
        lib = self.lib
        fees = lib.fees_of(patron.card)
        pay = lib.rules.online_payment
        blocking = pay.blocking_fee_types if pay else frozenset()
        reason = lib.payment_check(patron.card)
        started = lib.open_payment(patron.card)
        # An open transaction does not disable payment (fines.phtml: startedTransaction
        # only adds the warning).
        enabled = pay is not None and reason in (None, circ.PAY_IN_PROGRESS)
        minimum = lib.payment_minimum_cents() or 0
        rows = [{"fee": f, "payable": pay is not None and f.payable_online and f.fee_type not in blocking}
                for f in fees]
        # fines.phtml leaves out the columns no fine fills.
        columns = {"checkout": any(f.checkout_date for f in fees),
                   "due": any(f.due_date for f in fees),
                   "description": any(f.description for f in fees)}
        page.session["transaction_id"] = self.transaction_id(patron)
        total = sum(f.amount_cents for f in fees)
        payable = [r for r in rows if r["payable"]]
        return self.render(page, "fines", "myresearch", "fines", rows=rows, total=total,
                           payable_total=sum(r["fee"].amount_cents for r in payable),
                           payable_count=len(payable), online_payment=pay is not None,
                           enabled=enabled, reason=None if enabled else reason,
                           started=f"{fdate(started.started.date())} {started.started:%H:%M}"
                           if started else None,
                           minimum=minimum, columns=columns,
                           transaction_id=self.transaction_id(patron),
                           blocks=[page.t(b) for b in [lib.borrowing_block(patron.card)] if b])

    def confirm_payment(self, page: Page, patron: circ.Patron) -> Response:
        form = page.form
        reason = self.lib.payment_check(patron.card)
        if reason not in (None, circ.PAY_IN_PROGRESS):
            page.flash("error", "online_payment_failed")
            return self.redirect("/MyResearch/Fines")
        if not self.csrf_valid(page, form.get("csrf"), consume=True):
            page.flash("error", "online_payment_failed")
            return self.redirect("/MyResearch/Fines")
        expected = page.session.get("payment_amount")
        if form.get("transactionId") != self.transaction_id(patron) or expected is None:
            page.flash("error", "online_payment_failed")
            return self.redirect("/MyResearch/Fines")
        earlier = self.lib.open_payment(patron.card)
        if earlier is not None:
            # The patron was warned and started anew: the demo abandons the earlier
            # transaction rather than keep two open for the same fines.
            self.lib.finish_payment(earlier.payment_id, paid=False)
        outcome = self.lib.start_payment(patron.card, expected_cents=expected)
        if not outcome.ok:
            page.flash("error", outcome.reason)
            return self.redirect("/MyResearch/Fines")
        page.session["csrf"] = []
        payment = outcome.payment
        params = {
            "checkout-stamp": payment.payment_id,
            "checkout-amount": str(payment.amount_cents),
            "checkout-reference": self.transaction_id(patron),
            "lng": page.lang,
        }
        params["signature"] = self.ctx.sign("checkout", payment.payment_id, str(payment.amount_cents))
        return self.redirect(f"/PaymentProvider/checkout?{urlencode(params)}")

    def register_return(self, page: Page, patron: circ.Patron) -> None:
        q = page.request.query_params
        payment = self.payment_by_md5(q.get("finna_payment_id", ""))
        status = q.get("checkout-status", "")
        expected = self.ctx.sign("return", q.get("finna_payment_id", ""), status)
        if payment is None or payment.card != patron.card or not hmac.compare_digest(
                q.get("signature", ""), expected):
            page.flash("error", "online_payment_failed")
            return
        if payment.status == "registered":
            page.flash("success", "online_payment_successful")
            return
        if payment.status != "open":
            page.flash("success", "online_payment_canceled")
            return
        outcome = self.lib.finish_payment(payment.payment_id, paid=status == "ok")
        if outcome.ok:
            page.session["csrf"] = []
            page.flash("success", "online_payment_successful")
        else:
            page.flash("success", "online_payment_canceled")

    async def payment_notify(self, page: Page) -> Response:
        """Paytrail's server-to-server call: registers a payment without the patron's session."""
        q = page.request.query_params
        payment = self.payment_by_md5(q.get("finna_payment_id", ""))
        status = q.get("checkout-status", "")
        expected = self.ctx.sign("return", q.get("finna_payment_id", ""), status)
        if payment is None or not hmac.compare_digest(q.get("signature", ""), expected):
            return PlainTextResponse("", status_code=400)
        if payment.status == "open":
            self.lib.finish_payment(payment.payment_id, paid=status == "ok")
        return PlainTextResponse("")

    async def provider(self, page: Page) -> Response:
        source = page.form if page.form is not None else page.request.query_params
        payment_id = source.get("checkout-stamp", "")
        payment = self.lib.payments.get(payment_id)
        signature = self.ctx.sign("checkout", payment_id,
                                  str(payment.amount_cents) if payment else "")
        if payment is None or not hmac.compare_digest(source.get("signature", ""), signature):
            return PlainTextResponse("Unknown or tampered transaction", status_code=400)
        action = page.form.get("action") if page.form is not None else None
        if action in ("pay", "cancel"):
            md5 = hashlib.md5(payment.payment_id.encode()).hexdigest()
            status = "ok" if action == "pay" else "fail"
            if action == "pay" and payment.status == "open":
                # Paytrail also notifies the library server to server
                # (/AJAX/onlinePaymentNotify), so a payment registers even
                # when the patron never comes back from the provider's page.
                self.lib.finish_payment(payment.payment_id, paid=True)
            back = {
                "finna_payment_id": md5,
                "checkout-account": "375917",
                "checkout-algorithm": "sha256",
                "checkout-amount": str(payment.amount_cents),
                "checkout-stamp": payment.payment_id,
                "checkout-reference": source.get("checkout-reference", ""),
                "checkout-transaction-id": hashlib.sha1(payment.payment_id.encode()).hexdigest()[:20],
                "checkout-status": status,
                "checkout-provider": "demo-bank",
                "signature": self.ctx.sign("return", md5, status),
            }
            return self.redirect(f"/MyResearch/Fines?{urlencode(back)}")
        return self.render(page, "provider", "paymentprovider", "checkout", payment=payment,
                           fields={k: v for k, v in source.items() if k != "action"})

    # --- AJAX ----------------------------------------------------------------

    async def ajax_json(self, page: Page) -> Response:
        method = page.request.query_params.get("method") or (page.form or {}).get("method")
        if method == "keepAlive":
            return JSONResponse({"data": True})
        if method == "getRequestGroupPickupLocations":
            return self.request_group_pickup_locations(page)
        account = {"getUserTransactions", "getUserHolds", "getUserFines"}
        if method in account:
            patron = page.user
            if patron is None:
                return JSONResponse({"data": page.t("You must be logged in first")}, status_code=401)
            if method == "getUserTransactions":
                counts = {"ok": 0, "warn": 0, "overdue": 0}
                for loan in self.lib.loans_of(patron.card):
                    days = (loan.due_date - self.lib.today()).days
                    counts["overdue" if days < 0 else "warn" if days <= 1 else "ok"] += 1
                return JSONResponse({"data": counts})
            if method == "getUserHolds":
                counts = {"available": 0, "in_transit": 0, "other": 0}
                for h in self.lib.holds_of(patron.card):
                    key = {HoldStatus.READY: "available",
                           HoldStatus.IN_TRANSIT: "in_transit"}.get(h.status, "other")
                    counts[key] += 1
                return JSONResponse({"data": counts})
            total = self.lib.balance_cents(patron.card)
            return JSONResponse({"data": {"total": total, "display": money(total)}})
        return JSONResponse({"data": f"Invalid method: {method}"}, status_code=400)

    def request_group_pickup_locations(self, page: Page) -> Response:
        """VuFind AjaxHandler GetRequestGroupPickupLocations (id and requestGroupId from the query)."""
        q = page.request.query_params
        record_id, group_id = q.get("id"), q.get("requestGroupId")
        if record_id is None or group_id is None:
            return JSONResponse({"data": "bulk_error_missing"}, status_code=400)
        if page.user is None:
            return JSONResponse({"data": page.t("You must be logged in first")}, status_code=401)
        group = next((g for g in self.request_groups() if g["id"] == group_id), None)
        locations = group["locations"] if group else []
        home = page.user.home_location
        return JSONResponse({"data": {"locations": [
            {"locationID": loc.code, "locationDisplay": loc.name, "isDefault": loc.code == home}
            for loc in locations]}})

    # --- pages for people ---------------------------------------------------

    async def index(self, page: Page) -> Response:
        from .seed import demo_patrons

        return self.render(page, "home", "search", "home", demo=demo_patrons(self.view))

    async def search_results(self, page: Page) -> Response:
        q = page.request.query_params
        results = self.lib.search(q.get("lookfor", ""), q.get("type", "AllFields"))
        return self.render(page, "results", "search", "results", results=results,
                           lookfor=q.get("lookfor", ""))

    async def css(self, page: Page) -> Response:
        html = self.ctx.templates.get_template("finna/finna.css").render()
        return Response(html, media_type="text/css")


def routes(ctx: FaceContext) -> list[Route]:
    from .finna_api import api_routes

    face = FinnaFace(ctx)
    h = face.handler
    both = ["GET", "POST"]
    return [
        Route("/", h(face.index), methods=both),
        Route("/Search/Results", h(face.search_results)),
        Route("/MyResearch/UserLogin", h(face.user_login), methods=both),
        Route("/MyResearch/CompleteLogin", h(face.complete_login), methods=both),
        Route("/MyResearch/Home", h(face.home), methods=both),
        Route("/MyResearch/Logout", h(face.logout)),
        Route("/MyResearch/CheckedOut", h(face.checked_out), methods=both),
        Route("/MyResearch/Holds", h(face.holds_redirect)),
        Route("/Holds/List", h(face.holds_list), methods=both),
        Route("/MyResearch/Fines", h(face.fines), methods=both),
        Route("/PaymentProvider/checkout", h(face.provider), methods=both),
        Route("/AJAX/JSON", h(face.ajax_json), methods=both),
        Route("/AJAX/onlinePaymentNotify", h(face.payment_notify), methods=both),
        Route("/Record/{id}/AjaxTab", h(face.ajax_tab), methods=["POST"]),
        Route("/Record/{id}/Hold", h(face.hold), methods=both),
        Route("/Record/{id}/{tab}", h(face.record)),
        Route("/Record/{id}", h(face.record)),
        Route("/themes/finna2/css/finna.css", h(face.css)),
        *api_routes(ctx),
    ]
