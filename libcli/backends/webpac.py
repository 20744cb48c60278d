"""III WebPAC Pro (Millennium / Sierra) backend: ESTER's "Minu ESTER".

A translator between the patron pages (shared/reference/webpac.md) and the
model. It knows nothing of the CLI, config or keyring: it gets an
`httpx.AsyncClient` whose cookie jar is the saved session, a `pin()` callable
it calls only when it has to log in, and a `session` dict in which it keeps
the patron record path (`/patroninfo~S8*est/1234567`) between runs.

Requests per operation (with a live session; a login adds 2 for the classic
form, 4 for CAS):

- loans, holds, fees: 1 GET each
- renew selected: 1 POST (+1 for a two-step site's confirmation)
- renew all: 1 GET (the loans before) + 1 POST (+1 confirmation)
- cancel holds: 1 GET (fresh cancel fields) + 1 POST (+1 confirmation)
  + 1 GET to verify
- place hold: 1 GET of the record (+ the request page where one is linked)

Dates are read in the order the registry row gives (`date_order`: ESTER
day-first, NYPL and Waterloo month-first, Montréal year-first). A login
form that asks for the patron's name (Waterloo's name + card + PIN, or name +
card without a PIN) is refused as not supported: libcli keeps no name.

Posts are never repeated after an unclear outcome (a dropped connection, a
5xx, a page that is not the account page): the backend re-reads the account
and reports what actually happened. The PIN is used in the login post only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import quote, urljoin

from libcli import http
from libcli.backends import webpac_pages as pages
from libcli.backends.base import Backend
from libcli.errors import LoginRefused, NotSupported, PageNotUnderstood, Unreachable
from libcli.model import (
    Balance, CancelResult, Fee, FeeType, Hold, HoldStatus, Loan, Material, Money,
    PickupLocation, PlaceHoldResult, RenewResult, SearchResult,
)
from libcli.policy import due_status, estimated_late_fee, predicted_renewal

log = logging.getLogger("libcli.backends.webpac")

_LANGS = {"et": "est", "est": "est", "ee": "est", "en": "eng", "eng": "eng"}

# Site failure texts (English and the demo library's Estonian) → plain reasons.
_RENEW_REASONS = (
    (re.compile(r"ON HOLD|BRONEERITUD|JÄRJEKORD", re.I), "reserved by another patron"),
    (re.compile(r"TOO MANY RENEWALS|RENEWAL LIMIT|LIIGA PALJU PIKENDUSI|PIKENDUSTE PIIR", re.I),
     "renewal limit reached"),
    (re.compile(r"TOO SOON|LIIGA VARA", re.I), "too soon to renew"),
    (re.compile(r"NOT ALLOWED|POLE LUBATUD|EI OLE LUBATUD|EI SAA PIKENDADA", re.I),
     "renewal not allowed"),
)

_MATERIALS = (
    (re.compile(r"bound magazine|köidetud ajakiri|koidetud ajakiri|aastakäik", re.I),
     Material.BOUND_MAGAZINE),
    (re.compile(r"magazine|periodical|ajakiri", re.I), Material.MAGAZINE),
    (re.compile(r"newspaper|ajaleht", re.I), Material.NEWSPAPER),
    (re.compile(r"audio|video|\bdvd\b|\bcd\b|blu-?ray|helisalvestis|videosalvestis|"
                r"audiovisuaal|heliraamat|film", re.I), Material.AUDIOVISUAL),
)

_FEE_TYPES = (
    (re.compile(r"overdue|viivis|hilinemis", re.I), FeeType.OVERDUE),
    (re.compile(r"replacement|lost|asendus|kaotatud|hüvitis", re.I), FeeType.REPLACEMENT),
    (re.compile(r"notice|meeldetuletus|teavitus", re.I), FeeType.NOTICE),
    (re.compile(r"hold|broneering|reserv", re.I), FeeType.UNCOLLECTED_HOLD),
)


def material_from(text: str | None) -> Material:
    if text:
        for pattern, material in _MATERIALS:
            if pattern.search(text):
                return material
    return Material.BOOK


def fee_type_from(text: str) -> FeeType:
    for pattern, kind in _FEE_TYPES:
        if pattern.search(text):
            return kind
    return FeeType.OTHER


def renew_reason(site_text: str) -> str:
    for pattern, reason in _RENEW_REASONS:
        if pattern.search(site_text):
            return f"{reason} ({site_text})"
    return site_text


_MOJIBAKE = re.compile("[\u00c2-\u00c5][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6\u02dc]"
                       "|\u00e2[\u0080-\u00bf\u201a\u20ac]")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as ISO-8859-1/cp1252 (a page whose header names the
    wrong charset): "TÃ„HTAEG" → "TÄHTAEG". Left alone unless the whole page
    re-decodes as strict UTF-8, which Latin-1 Estonian text never does."""
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


class WebPACBackend(Backend):
    name = "webpac"

    # "Your record is in use by system": bounded, short waits for reads.
    busy_retries = 3
    busy_wait = 0.25

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._refused: LoginRefused | None = None
        # What the account pages' forms want posted, by loan or hold key, as
        # this run read them: a loan row's renew checkbox name, a hold row's
        # cancel checkbox name (the row index in them moves as items come and go).
        self._renew_marks: dict[str, str] = {}
        self._cancel_names: dict[str, str] = {}

    # -- plumbing ----------------------------------------------------------

    @property
    def lang(self) -> str:
        return _LANGS.get((self.language or "est").lower(), "est")

    @property
    def scope(self) -> str:
        return self.consortium.scope or "1"

    @property
    def dates(self) -> str:
        """How the site orders a date's parts (the registry's `date_order`)."""
        return self.consortium.date_order

    def login_path(self) -> str:
        return f"/patroninfo~S{self.scope}*{self.lang}"

    async def _request(self, method: str, url: str, *, data: Any = None,
                       follow: bool = True) -> http.Page:
        page = await self.site.send(method, url, data=data, follow=follow)
        page.text = repair_mojibake(page.text)
        return page

    def _account_url(self, function: str) -> str:
        return f"{self.session['patron_path']}/{function}"

    async def _ensure_login(self) -> None:
        """Log in when no record path is saved; concurrent reads of one card
        (loans, holds and fees at once) share a single login."""
        if not self.session.get("patron_path"):
            await self.relogin(self.login_generation)

    async def identify(self) -> None:
        # WebPAC's patron login (/patroninfo) asks for the barcode in a field
        # named `code` on every capture (reference/webpac.md §2).
        page = await self._request("GET", self.login_path())
        if page.status >= 400 or pages.parse(page.text).css_first("input[name=code]") is None:
            raise PageNotUnderstood("login", "a patron login form with a field named code at "
                                    f"{self.login_path()}: the address does not look like WebPAC")

    async def login(self) -> None:
        if self._refused is not None:
            # Never repeat a refused login within a run: libraries lock cards.
            raise self._refused
        await self._login()

    async def _login(self) -> None:
        for attempt in range(self.busy_retries + 1):
            page = await self._request("GET", self.login_path())
            found = self._path_in([*page.history, page.url])
            if found and not pages.is_login_page(page.text):
                self.session["patron_path"] = found  # the saved session is still good
                return
            if pages.record_in_use(page.text) and attempt < self.busy_retries:
                await asyncio.sleep(self.busy_wait * (attempt + 1))
                continue
            form = pages.login_form(page.text)
            if form is None:
                raise PageNotUnderstood("login", "the login form (fields code and pin)")
            if form.asks_name or not form.asks_pin:
                raise NotSupported(
                    f"{self.consortium.name} asks for the patron's name"
                    + (" together with" if form.asks_pin else " instead of a PIN, with")
                    + " the card number at login; libcli logs in with the card number and "
                    "PIN only, so it cannot log in to this library")
            if await self._post_login(page, form):
                return
            await asyncio.sleep(self.busy_wait * (attempt + 1))
        raise Unreachable(f"{self.consortium.name}: the patron record is in use by the system; "
                          "try again in a minute")

    async def _post_login(self, page: http.Page, form: pages.LoginForm) -> bool:
        """Post the form; True when logged in, False when the record is busy."""
        action = urljoin(page.url, form.action) if form.action else page.url
        data = dict(form.fields)
        data["code"] = self.card.number
        data["pin"] = self._pin()
        try:
            answer = await self._request("POST", action, data=data, follow=False)
        finally:
            data.clear()  # the PIN lives only for the post
        for _ in range(http.MAX_REDIRECTS):
            location = answer.headers.get("location")
            if not (300 <= answer.status < 400 and location):
                break
            target = urljoin(answer.url, location)
            found = self._path_in([target])
            if found:
                self.session["patron_path"] = found
                return True
            answer = await self._request("GET", target, follow=False)
        found = self._path_in([answer.url])
        if found and not pages.is_login_page(answer.text):
            self.session["patron_path"] = found
            return True
        if pages.record_in_use(answer.text):
            return False
        if pages.is_login_page(answer.text):
            message = pages.login_error(answer.text)
            self.session.pop("patron_path", None)
            self._refused = LoginRefused(
                f"{self.consortium.name} refused the login for card {self.card.name}"
                + (f": {message}" if message else ""),
                hint="check the card number and PIN (libcli card check)",
            )
            raise self._refused
        raise PageNotUnderstood("login", "the patron record link after logging in")

    @staticmethod
    def _path_in(urls: list[str]) -> str | None:
        for url in reversed(urls):
            found = pages.patron_path(url)
            if found:
                return found[0]
        return None

    async def _read(self, function: str, page_name: str) -> http.Page:
        """GET an account page: re-login once on a lost session, wait out a
        busy record a bounded number of times."""
        await self._ensure_login()
        relogged = False
        busy = 0
        while True:
            generation = self.login_generation
            page = await self._request("GET", self._account_url(function))
            if pages.is_login_page(page.text):
                if relogged:
                    raise PageNotUnderstood(
                        page_name, "the account page (the site asked to log in again "
                        "right after a successful login)")
                await self.relogin(generation)
                relogged = True
                continue
            if pages.record_in_use(page.text):
                if busy >= self.busy_retries:
                    raise Unreachable(
                        f"{self.consortium.name}: the patron record is in use by the system; "
                        "try again in a minute")
                busy += 1
                await asyncio.sleep(self.busy_wait * busy)
                continue
            return page

    # -- loans -------------------------------------------------------------

    def _loan(self, row: pages.ItemRow) -> Loan:
        material = material_from(row.material_text)
        reserved = row.holds > 0
        renewable, reason = predicted_renewal(self.policy, material, row.renewals, reserved)
        return Loan(
            card=self.card.name, account=self.card.key,
            key=row.item,
            title=row.title,
            due_date=row.due,
            author=row.author,
            record_id=row.record_id,
            barcode=row.barcode,
            call_number=row.call_number,
            material=material,
            renewals_used=row.renewals,
            renewals_limit=self.policy.renewal_limit_for(material),
            renewable=renewable,
            not_renewable_reason=reason,
            reserved_by_others=reserved,
            status=due_status(self.policy, row.due, self.today),
            estimated_fee=estimated_late_fee(self.policy, material, row.due, self.today),
        )

    async def loans(self) -> list[Loan]:
        page = await self._read("items", "items")
        rows = pages.parse_items(page.text, self.dates).rows
        self._renew_marks = {row.item: row.mark_name for row in rows}
        return [self._loan(row) for row in rows]

    # -- renewing ----------------------------------------------------------

    async def renew(self, loans: list[Loan]) -> list[RenewResult]:
        if not loans:
            return []
        await self._ensure_login()
        data: dict[str, str] = {"currentsortorder": "current_checkout", "renewsome": "YES"}
        if not {loan.key for loan in loans} <= self._renew_marks.keys():
            await self.loans()  # not read in this run: the checkbox names come with the page
        # Spent by the post: its answer page numbers the rows anew.
        marks, self._renew_marks = self._renew_marks, {}
        for loan in loans:
            if loan.key in marks:  # a loan no longer listed is reported so by the answer
                data[marks[loan.key]] = loan.key
        return await self._renew_post(data, loans)

    async def _renew_post(self, data: dict[str, str], loans: list[Loan]) -> list[RenewResult]:
        url = self._account_url("items")
        relogged = False
        while True:
            generation = self.login_generation
            try:
                page = await self._request("POST", url, data=data)
            except Unreachable as exc:
                log.debug("renew post unclear: %s", exc)
                return await self._renew_verify(loans, "the library did not answer the renewal")
            if pages.is_login_page(page.text) and not relogged:
                # The session had expired: the post was not carried out.
                await self.relogin(generation)
                relogged = True
                url = self._account_url("items")
                continue
            break
        if pages.record_in_use(page.text):
            return [self._renew_result(l, False, message="the patron record is in use by the "
                                       "system; nothing was renewed, try again in a minute")
                    for l in loans]
        confirm = pages.confirmation(page.text, ("renewsome", "renewall"))
        if confirm is not None:
            action = urljoin(page.url, confirm.action) if confirm.action else page.url
            try:
                page = await self._request("POST", action, data=confirm.fields)
            except Unreachable:
                return await self._renew_verify(loans, "the library did not answer the renewal")
        reason = pages.cannot_renew_reason(page.text)
        if reason:
            return [self._renew_result(l, False, message=reason) for l in loans]
        try:
            parsed = pages.parse_items(page.text, self.dates)
        except PageNotUnderstood:
            return await self._renew_verify(loans, "the library's answer was not understood")
        return self._renew_results(parsed, loans)

    def _renew_result(self, loan: Loan, renewed: bool, *, new_due=None,
                      message: str | None = None) -> RenewResult:
        return RenewResult(loan_id=loan.id, title=loan.title, renewed=renewed,
                           new_due_date=new_due, message=message, card=self.card.name)

    def _renew_results(self, parsed: pages.ItemsPage, loans: list[Loan]) -> list[RenewResult]:
        rows = {r.item: r for r in parsed.rows}
        results = []
        for loan in loans:
            row = rows.get(loan.key)
            if row is None:
                results.append(self._renew_result(
                    loan, False, message="no longer on the loans list (returned?)"))
            elif row.outcome is not None and row.outcome.renewed:
                results.append(self._renew_result(
                    loan, True, new_due=row.outcome.new_due or row.due))
            elif row.outcome is not None:
                results.append(self._renew_result(
                    loan, False, message=renew_reason(row.outcome.message)))
            elif row.due > loan.due_date:
                results.append(self._renew_result(loan, True, new_due=row.due))
            else:
                # Montréal reveals "Not all renewals were successful" by script
                # and may mark no row: the page's own notice is the reason.
                results.append(self._renew_result(
                    loan, False, message=parsed.fail_message
                    or "the library showed no renewal result for this item"))
        return results

    async def _renew_verify(self, loans: list[Loan], why: str) -> list[RenewResult]:
        """After an unclear answer: read the loans again and compare due dates."""
        parsed = pages.parse_items((await self._read("items", "items")).text, self.dates)
        rows = {r.item: r for r in parsed.rows}
        results = []
        for loan in loans:
            row = rows.get(loan.key)
            if row is not None and row.due > loan.due_date:
                results.append(self._renew_result(loan, True, new_due=row.due))
            elif row is None:
                results.append(self._renew_result(
                    loan, False, message=f"{why}; the item is no longer on the loans list"))
            else:
                results.append(self._renew_result(
                    loan, False, message=f"{why}; the due date is unchanged"))
        return results

    # -- holds -------------------------------------------------------------

    def _hold(self, row: pages.HoldRow) -> Hold:
        status = {"waiting": HoldStatus.WAITING, "in_transit": HoldStatus.IN_TRANSIT,
                  "ready": HoldStatus.READY}[row.status]
        return Hold(
            card=self.card.name, account=self.card.key,
            key=row.key,
            title=row.title,
            status=status,
            author=row.author,
            record_id=row.record_id,
            queue_position=row.queue_position,
            queue_length=row.queue_length,
            pickup_location=row.pickup_location,
            pickup_by=row.pickup_by,
            expires=row.expires,
            cancellable=row.cancel_name is not None and status is not HoldStatus.READY,
        )

    async def holds(self) -> list[Hold]:
        page = await self._read("holds", "holds")
        rows = pages.parse_holds(page.text, self.dates).rows
        self._cancel_names = {row.key: row.cancel_name for row in rows if row.cancel_name}
        return [self._hold(row) for row in rows]

    def _cancel_result(self, hold: Hold, cancelled: bool, message: str | None = None):
        return CancelResult(hold_id=hold.id, title=hold.title, cancelled=cancelled,
                            message=message, card=self.card.name)

    async def cancel_holds(self, holds: list[Hold]) -> list[CancelResult]:
        if not holds:
            return []
        results: dict[int, CancelResult] = {}
        # Fresh cancel fields: the row index in them moves as holds come and go.
        current = {h.key: h for h in await self.holds()}
        data: dict[str, str] = {"currentsortorder": "current_pickup", "updateholdssome": "YES"}
        wanted = []
        for i, hold in enumerate(holds):
            now = current.get(hold.key)
            if now is None:
                results[i] = self._cancel_result(hold, False, "not on the holds list any more")
            elif now.status is HoldStatus.READY:
                results[i] = self._cancel_result(
                    hold, False, "ready for pickup: a hold that is ready cannot be cancelled "
                    "online; contact the library")
            elif now.key not in self._cancel_names:
                results[i] = self._cancel_result(
                    hold, False, "the library offers no way to cancel this hold online")
            else:
                data[self._cancel_names[now.key]] = "on"
                wanted.append(i)
        if wanted:
            note = await self._cancel_post(data)
            after = {h.key for h in await self.holds()}
            for i in wanted:
                hold = holds[i]
                if hold.key in after:
                    results[i] = self._cancel_result(
                        hold, False, note or "the library kept the hold")
                else:
                    results[i] = self._cancel_result(hold, True)
        return [results[i] for i in range(len(holds))]

    async def _cancel_post(self, data: dict[str, str]) -> str | None:
        """Post the cancel (and a confirmation where asked); the caller verifies."""
        for attempt in range(2):
            generation = self.login_generation
            try:
                page = await self._request("POST", self._account_url("holds"), data=data)
            except Unreachable:
                return "the library did not answer the cancel request"
            if pages.is_login_page(page.text) and attempt == 0:
                # The session had expired: the post was not carried out.
                await self.relogin(generation)
                continue
            break
        if pages.record_in_use(page.text):
            return "the patron record is in use by the system; try again in a minute"
        if pages.is_login_page(page.text):
            return "the library asked to log in again; try again"
        confirm = pages.confirmation(page.text, ("updateholdssome", "cancelall"))
        if confirm is not None:
            action = urljoin(page.url, confirm.action) if confirm.action else page.url
            try:
                await self._request("POST", action, data=confirm.fields)
            except Unreachable:
                return "the library did not answer the cancel confirmation"
        return None

    # -- placing holds -----------------------------------------------------

    def _hold_refused(self, why: str) -> NotSupported:
        text = self.policy.hold_instructions or (
            f"{self.consortium.name} does not take holds online; ask the library")
        return NotSupported(f"{why}. {text}")

    async def _request_page(self, record_id: str) -> tuple[http.Page, pages.RequestForm]:
        await self._ensure_login()
        rec = record_id if record_id.startswith("b") else f"b{record_id.lstrip('.')}"
        page = await self._request("GET", f"/record={rec}~S{self.scope}*{self.lang}")
        link = pages.request_link(page.text)
        if not link:
            raise self._hold_refused("ESTER offers no request link for this title")
        target = urljoin(page.url, link)
        generation = self.login_generation
        page = await self._request("GET", target)
        if pages.is_login_page(page.text):
            # The saved session had expired: log in again, once.
            await self.relogin(generation)
            page = await self._request("GET", target)
            if pages.is_login_page(page.text):
                raise self._hold_refused("ESTER asked for a login again on the request page")
        form = pages.request_form(page.text)
        if form is None:
            _, words = pages.request_result(page.text)
            raise self._hold_refused(f"ESTER refused the request: {words[:200]}"
                                     if words else "ESTER refused the request")
        return page, form

    async def search(self, query: str, *, limit: int = 20) -> list[SearchResult]:
        # The reference shows WebPAC's search addresses but not its result
        # markup, so libcli does not read results; it points to the search.
        url = (f"{self.consortium.url}/search~S{self.scope}*{self.lang}/"
               f"?searchtype=X&searcharg={quote(query, safe='')}")
        raise NotSupported(f"{self.consortium.name}: libcli does not search its catalogue; "
                           f"search it in a browser: {url}")

    async def pickup_locations(self, record_id: str) -> list[PickupLocation]:
        _, form = await self._request_page(record_id)
        return [PickupLocation(code=code.strip().rstrip("+").strip(), name=name, default=sel)
                for code, name, sel in form.pickups]

    async def place_hold(self, record_id: str, pickup: str | None, *,
                         accept_terms: bool = False) -> PlaceHoldResult:
        # WebPAC's request form asks for no terms: accept_terms changes nothing.
        page, form = await self._request_page(record_id)
        data = dict(form.fields)
        if form.pickup_field:
            codes = {c.strip().rstrip("+").strip(): c for c, _, _ in form.pickups}
            chosen = next((c for c, _, sel in form.pickups if sel), None)
            if pickup is not None:
                if pickup not in codes:
                    raise NotSupported(f"unknown pickup location '{pickup}'; known: "
                                       + ", ".join(sorted(codes)))
                chosen = codes[pickup]
            data[form.pickup_field] = chosen or (form.pickups[0][0] if form.pickups else "")
        data.setdefault("needby_Month", "Month")
        data.setdefault("needby_Day", "Day")
        data.setdefault("needby_Year", "Year")
        action = urljoin(page.url, form.action) if form.action else page.url
        answer = await self._request("POST", action, data=data)
        placed, words = pages.request_result(answer.text)
        if placed:
            return PlaceHoldResult(record_id=record_id, placed=True, message=words[:300],
                                   pickup_location=pickup, card=self.card.name)
        raise self._hold_refused(f"ESTER refused the request: {words[:200]}")

    # -- fees --------------------------------------------------------------

    async def fees(self) -> Balance:
        page = await self._read("overdues", "fines")
        parsed = pages.parse_fines(page.text, self.dates)
        currency = self.policy.currency
        items = tuple(
            Fee(
                amount=Money(c.cents, currency),
                fee_type=fee_type_from(c.kind),
                title=c.title,
                description=c.kind or None,
                created=pages.charge_date(c.dates),
                payable_online=False,
            )
            for c in parsed.charges
        )
        return Balance(
            card=self.card.name,
            items=items,
            total=Money(parsed.total_cents, currency),
            online_payment_offered=False,
            site_reason="no online payment: pay by bank transfer or at the library",
        )
