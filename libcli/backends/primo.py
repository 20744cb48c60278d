"""The Ex Libris Primo VE backend (Alma): Tampere University's Andor.

Primo VE's page is an Angular application over a JSON API; this module
speaks that API the way the page does (shared/reference/primo-ve.md, §
numbers below). The JSON readers live in :mod:`libcli.backends.primo_json`;
this module is the flow. Marks: [C n] confirmed by n independent clients,
[S1] seen once, [INF] inferred (the reference's source keys in brackets).

State kept between runs in ``self.session`` (saved 0600 by the caller):
``primo`` (what the login and search need from the view's configuration),
``jwt`` and ``jwt_exp`` (the patron token and its expiry), ``loan_pages``.
A warm read is one request: no configuration, no login while the token's
``exp`` is more than :data:`EXPIRY_MARGIN` away.

Requests:

- cold: the configuration (1), the login (1), then the read;
- loans: 1 per page of :data:`BULK` (the pages the last run saw go out
  together); holds, fees: 1;
- renew: one post per loan, all at once (+1 read of the loans when an answer
  does not carry its loan or was lost); cancel: one post per hold at once
  (+1 read of the holds after a lost answer);
- pickup locations: record, physical service, holdings (one post per
  holding, together), request form: 4 round trips; placing a hold adds the
  submit (5);
- search: 1 (+1 for the configuration when not cached);
- start a payment: the configuration and the fines, together (1 round trip).

Session. The token goes in ``Authorization: Bearer <jwt>`` [C 4: OPY, LHA,
LCLI, BSB]. A token whose ``exp`` has passed is replaced by logging in
again; there is no refresh call [C 3: OMOB, LHA, SUST]. An answer of HTTP
401/403 [C 3: JAB, OMOB, LHA] or HTTP 200 with ``status: failed`` and
reply code 0002 [C 2: SUST, omnis family] means the token is no longer
good: one re-login (shared by concurrent reads through ``site.relogin``),
then the request once more. A post answered that way was refused, not
carried out, so it is sent again after the login; a post whose answer was
lost (a dropped connection, a 5xx) is never sent again: the account is read
and what it shows is reported. The PIN and the token never reach a log, an
error or the output.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from libcli import http
from libcli.backends import primo_json as pj
from libcli.backends.base import Backend
from libcli.backends.shared import ANSWER_LOST, choose_pickup
from libcli.errors import (
    LibcliError, LoginRefused, NotSupported, PageNotUnderstood, Refused, Unreachable, UsageError,
)
from libcli.model import (
    Balance, CancelResult, Hold, Loan, Money, PaymentStart, PickupLocation, PlaceHoldResult,
    RenewResult, SearchResult,
)

log = logging.getLogger("libcli.primo")

CONFIG_URL = "primaws/rest/pub/configuration/vid/{vid}"
LOGIN_URL = "primaws/suprimaLogin"
ACCOUNT = "primaws/rest/priv/myaccount/"
SEARCH_URL = "primaws/rest/pub/pnxs"
RECORD_URL = "primaws/rest/pub/pnxs/L/alma{mms}"
DELIVERY_URL = "primaws/rest/pub/delivery"
SERVICE_URL = "primaws/rest/pub/getPhysicalService/{mms}"
HOLDINGS_URL = "primaws/rest/priv/ILSServices/holdings/{service}"

# The UI's loans page size is 100 (CFG "OvP - Loans Paging"); clients ask 50
# [C 2: OPY, LCLI]. Pages are 1-based offsets (§4.2 [C 5]).
BULK = 50
MAX_PAGES = 40
# A token is 24 hours (exp - iat = 86400 [C 3]); it is replaced this long
# before its exp, so that a read never starts with one about to lapse.
EXPIRY_MARGIN = 300
# A cached configuration is fetched again at a login after this long, so a
# changed view (a new login profile, a Pay Fine link) is seen within a day.
CONFIG_MAX_AGE = 86400

NO_PAY_LINK = ("{name} offers no online payment link in Primo; pay at the library's service "
               "desk, or as the library instructs")


class PrimoBackend(Backend):
    name = "primo"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock = time.time  # tests move it
        self._refused: LoginRefused | None = None

    # -- plumbing -------------------------------------------------------------------

    @property
    def view(self) -> str:
        if not self.consortium.view:
            raise NotSupported(f"{self.consortium.name}: the registry names no Primo VE view")
        return self.consortium.view

    @property
    def institution(self) -> str:
        conf = self._cached_config()
        return (conf.institution if conf and conf.institution else None) \
            or self.consortium.institution or self.view.split(":")[0]

    def lang(self, conf: pj.ViewConfig | None = None) -> str:
        """The language asked for when the view offers it, else the view's own
        (every human-readable string follows ``lang`` [C 5])."""
        conf = conf or self._cached_config()
        offered = conf.languages if conf else []
        if self.language:
            wanted = self.language.strip().lower().replace("_", "-")
            for code in (wanted, wanted.split("-")[0]):
                if code in offered or (not offered and code in ("fi", "en", "sv")):
                    return code
        return (conf.language if conf and conf.language else None) or "fi"

    def _base(self) -> str:
        return str(self.client.base_url).rstrip("/")

    async def _send(self, method: str, url: str, *, params: Any = None,
                    json: Any = None, data: Any = None, token: str | None = None,
                    follow: bool = True) -> http.Page:
        headers = {"Accept": "application/json, text/plain, */*"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.site.send(method, url, params=params, json=json, data=data,
                                    headers=headers, follow=follow)

    @staticmethod
    def _doc(page: http.Page, what: str) -> Any:
        if page.status >= 400:
            raise PageNotUnderstood(what, f"the library answered HTTP {page.status}")
        return pj.loads(page.text, what)

    # -- the view's configuration (§2) ----------------------------------------------------

    def _cached_config(self) -> pj.ViewConfig | None:
        cached = self.session.get("primo")
        if not isinstance(cached, dict) or cached.get("view") != self.view:
            return None
        return pj.ViewConfig.from_session(cached.get("config"))

    async def _fetch_config(self) -> pj.ViewConfig:
        # No authentication [C 4: OMOB, LNOTES, TAU, DEVENV].
        page = await self._send("GET", CONFIG_URL.format(vid=self.view))
        if page.status == 404:
            raise NotSupported(f"{self.consortium.name}: {self._base()} has no Primo VE view "
                               f"{self.view}")
        return self._keep(pj.read_config(self._doc(page, pj.CONFIG)))

    def _keep(self, conf: pj.ViewConfig) -> pj.ViewConfig:
        self.session["primo"] = {"view": self.view, "fetched": int(self.clock()),
                                 "config": conf.to_session()}
        return conf

    async def _config(self, *, max_age: float | None = None) -> pj.ViewConfig:
        conf = self._cached_config()
        fetched = (self.session.get("primo") or {}).get("fetched")
        if conf is not None and (max_age is None or (
                isinstance(fetched, (int, float)) and self.clock() - fetched < max_age)):
            return conf
        return await self._fetch_config()

    async def identify(self) -> None:
        # Every Primo VE view serves its configuration without a login; its
        # authentication[] is what a Primo VE site has and others do not.
        page = await self._send("GET", CONFIG_URL.format(vid=self.view))
        if page.status >= 400:
            raise PageNotUnderstood(pj.CONFIG, f"the view {self.view} (HTTP {page.status}): the "
                                    "address does not look like Primo VE with that view")
        self._keep(pj.read_config(self._doc(page, pj.CONFIG)))

    # -- login (§3.1) ------------------------------------------------------------------------

    def _token(self) -> str | None:
        token, exp = self.session.get("jwt"), self.session.get("jwt_exp")
        if not isinstance(token, str) or not token:
            return None
        if isinstance(exp, (int, float)) and exp - EXPIRY_MARGIN <= self.clock():
            return None
        return token

    async def login(self) -> None:
        if self._refused is not None:
            raise self._refused  # never again within a run: libraries lock cards
        conf = await self._config(max_age=CONFIG_MAX_AGE)
        if conf.profile is None:
            raise NotSupported(
                f"{self.consortium.name}: the Primo VE view {self.view} offers only single "
                f"sign-on ({', '.join(conf.sso_profiles) or 'no password login'}); libcli logs "
                "in with a library card number and password, which this view does not take")
        base = self._base()
        search_page = f"{base}/discovery/search?vid={self.view}"
        # The form fields [C 4: OPY l.161–174, JAB, LCLI/LHA, UNESP]; the
        # priming GET of /discovery/search that OPY and OMOB send is left
        # out: LCLI logs in without cookies at all [S1].
        form = [("authenticationProfile", conf.profile), ("username", self.card.number),
                ("password", self._pin()), ("institution", self.institution),
                ("view", self.view), ("targetUrl", search_page)]
        try:
            page = await self.site.send(
                "POST", LOGIN_URL, data=form, params={"lang": self.lang(conf)}, follow=False,
                headers={"Origin": base, "Referer": search_page,
                         "Accept": "application/json, text/plain, */*"})
        finally:
            form.clear()  # the PIN lives only for the post
        self.session.pop("jwt", None)
        self.session.pop("jwt_exp", None)
        if page.status in (400, 401, 403):
            # HTTP 401 is the refusal [S1 OPY l.178, OMOB]; no body was captured.
            self._refused = LoginRefused(
                f"{self.consortium.name} refused the login for card {self.card.name}",
                hint="check the card number and password (libcli card check)")
            raise self._refused
        token = pj.token_from_login(self._doc(page, pj.LOGIN))
        if token is None:
            raise PageNotUnderstood(pj.LOGIN, "the token (jwtData)")
        self.session["jwt"] = token
        self.session["jwt_exp"] = pj.token_expiry(token)

    async def _valid_token(self) -> str:
        token = self._token()
        if token is None:
            # Concurrent reads that all find no token log in once.
            await self.relogin(self.site.generation)
            token = self._token()
            if token is None:
                raise LoginRefused(f"{self.consortium.name} logged card {self.card.name} in "
                                   "but gave no usable token")
        return token

    async def _priv(self, method: str, path: str, what: str, *, params: dict | None = None,
                    json: Any = None) -> Any:
        """A patron call with the token, and the one re-login a stale token
        allows; returns the envelope's data. A failed envelope other than a
        stale session is an error (Failed), never an empty account."""
        for attempt in range(2):
            token = await self._valid_token()
            params = {**(params or {}), "lang": self.lang()}
            generation = self.site.generation
            page = await self._send(method, path, params=params, json=json, token=token)
            stale = page.status in (401, 403)
            if not stale:
                try:
                    return pj.check(self._doc(page, what), what)
                except pj.Failed as exc:
                    if not exc.session_invalid:
                        raise
                    stale = True
            if attempt == 0:
                if self.session.get("jwt") == token:
                    self.session.pop("jwt", None)
                await self.relogin(generation)
        raise LoginRefused(f"{self.consortium.name} logged card {self.card.name} in but keeps "
                           f"refusing the session ({what})")

    # -- loans (§4.2) ------------------------------------------------------------------------------

    async def _loans_page(self, n: int) -> tuple[list[Loan], bool]:
        data = await self._priv("GET", ACCOUNT + "loans", pj.LOANS, params={
            "bulk": str(BULK), "offset": str(1 + (n - 1) * BULK), "type": "active"})
        return pj.read_loans(data, card=self.card.name, account=self.card.key,
                             policy=self.policy, today=self.today)

    async def loans(self) -> list[Loan]:
        # The pages the last run saw go out together: a warm read of a paged
        # account is one round trip; pages beyond follow one at a time, as
        # only the last one read says whether there is another (showmore).
        known = self.session.get("loan_pages")
        known = known if isinstance(known, int) and 1 <= known <= MAX_PAGES else 1
        pages = list(await asyncio.gather(*(self._loans_page(n) for n in range(1, known + 1))))
        last = next((i for i, (_, more) in enumerate(pages) if not more), None)
        if last is not None:
            pages = pages[:last + 1]
        while pages[-1][1]:
            if len(pages) >= MAX_PAGES:
                raise PageNotUnderstood(pj.LOANS, f"an end of the list after {MAX_PAGES} pages")
            pages.append(await self._loans_page(len(pages) + 1))
        self.session["loan_pages"] = len(pages)
        out: list[Loan] = []
        seen = set()
        for rows, _ in pages:
            for loan in rows:
                if loan.key not in seen:
                    seen.add(loan.key)
                    out.append(loan)
        return out

    # -- renewing (§4.3) ------------------------------------------------------------------------------

    def _renew_result(self, loan: Loan, renewed: bool, *, due=None,
                      message: str | None = None) -> RenewResult:
        return RenewResult(loan_id=loan.id, title=loan.title, renewed=renewed, new_due_date=due,
                           message=message, card=self.card.name)

    async def renew(self, loans: list[Loan]) -> list[RenewResult]:
        """One post per loan, all at once (``{"id": loanid}`` [C 3: OPY l.371,
        JAB, LCLI/LHA]). No client reads the answer [C 3]; where it carries
        the loan, its due date says (§4.3 [INF]); where not, or where it was
        lost, the loans are read once more and the due dates compared."""
        results: list[RenewResult | None] = [None] * len(loans)
        posting = []
        for i, loan in enumerate(loans):
            if not loan.renewable:
                results[i] = self._renew_result(loan, False, message=loan.not_renewable_reason
                                                or "the library does not allow renewing it online")
            else:
                posting.append(i)
        outcomes = await asyncio.gather(*(self._renew_one(loans[i]) for i in posting),
                                        return_exceptions=True)
        unclear: list[tuple[int, str]] = []
        for i, outcome in zip(posting, outcomes):
            if isinstance(outcome, BaseException) and not isinstance(outcome, LibcliError) \
                    or isinstance(outcome, LoginRefused):
                raise outcome
            if isinstance(outcome, Unreachable):
                unclear.append((i, ANSWER_LOST))
            elif isinstance(outcome, pj.Failed):
                results[i] = self._renew_result(loans[i], False, message=outcome.text
                                                or outcome.message)
            elif isinstance(outcome, LibcliError):
                unclear.append((i, f"the outcome is not known ({outcome}); libcli loans shows "
                                   "whether it was renewed"))
            elif outcome is None:
                unclear.append((i, "the library gave no answer for this loan"))
            else:
                results[i] = outcome
        if unclear:
            await self._compare_due_dates(loans, unclear, results)
        return [r for r in results if r is not None]

    async def _renew_one(self, loan: Loan) -> RenewResult | None:
        data = await self._priv("POST", ACCOUNT + "renew_loans", pj.RENEW,
                                json={"id": loan.key})  # the loanid
        row = pj.loans_in_answer(data).get(loan.key)
        if row is None:
            return None
        due = pj.ymd(pj.first(row.get("duedate")))
        if due is not None and due > loan.due_date:
            return self._renew_result(loan, True, due=due)
        messages = pj.renew_messages(row)
        return self._renew_result(loan, False, message="; ".join(messages)
                                  or "the library did not renew it (no reason given)")

    async def _compare_due_dates(self, loans: list[Loan], unclear: list[tuple[int, str]],
                                 results: list) -> None:
        try:
            now = {l.key: l for l in await self.loans()}
        except LibcliError as exc:
            for i, _ in unclear:
                results[i] = self._renew_result(loans[i], False, message=(
                    f"the renewal was sent but the loans could not be read again ({exc}); "
                    f"libcli loans shows whether it was renewed"))
            return
        for i, why in unclear:
            after = now.get(loans[i].key)
            if after is None:
                results[i] = self._renew_result(loans[i], False, message=(
                    "the loan is no longer listed (returned?); check your loans"))
            elif after.due_date > loans[i].due_date:
                results[i] = self._renew_result(loans[i], True, due=after.due_date)
            else:
                results[i] = self._renew_result(loans[i], False, message=why)

    # -- holds and cancelling (§4.4) -----------------------------------------------------------------

    async def holds(self) -> list[Hold]:
        data = await self._priv("GET", ACCOUNT + "requests", pj.REQUESTS)
        return pj.read_holds(data, card=self.card.name, account=self.card.key)

    def _cancel_result(self, hold: Hold, cancelled: bool, message: str | None = None):
        return CancelResult(hold_id=hold.id, title=hold.title, cancelled=cancelled,
                            message=message, card=self.card.name)

    async def cancel_holds(self, holds: list[Hold]) -> list[CancelResult]:
        results: list[CancelResult | None] = [None] * len(holds)
        posting = []
        for i, hold in enumerate(holds):
            if hold.cancellable:
                posting.append(i)
            elif hold.status.value == "ready":
                results[i] = self._cancel_result(hold, False, (
                    "the hold is ready for pickup and cannot be cancelled online; tell the "
                    "library" + (f" ({hold.pickup_location})" if hold.pickup_location else "")))
            else:
                results[i] = self._cancel_result(hold, False, "the library does not allow "
                                                 "cancelling this hold online")
        outcomes = await asyncio.gather(*(self._cancel_one(holds[i]) for i in posting),
                                        return_exceptions=True)
        lost = []
        for i, outcome in zip(posting, outcomes):
            if isinstance(outcome, BaseException) and not isinstance(outcome, LibcliError) \
                    or isinstance(outcome, LoginRefused):
                raise outcome
            if isinstance(outcome, Unreachable):
                lost.append(i)
            elif isinstance(outcome, pj.Failed):
                results[i] = self._cancel_result(holds[i], False, outcome.text or outcome.message)
            elif isinstance(outcome, LibcliError):
                results[i] = self._cancel_result(holds[i], False, outcome.message)
            elif outcome:
                results[i] = self._cancel_result(holds[i], False, outcome)
            else:
                results[i] = self._cancel_result(holds[i], True)
        if lost:
            try:
                still = {h.key for h in await self.holds()}
            except LibcliError as exc:
                still, why = None, f"the holds could not be read again ({exc})"
            for i in lost:
                if still is None:
                    results[i] = self._cancel_result(holds[i], False, f"{ANSWER_LOST}; {why}")
                elif holds[i].key in still:
                    results[i] = self._cancel_result(holds[i], False, ANSWER_LOST)
                else:
                    results[i] = self._cancel_result(holds[i], True)
        return [r for r in results if r is not None]

    async def _cancel_one(self, hold: Hold) -> str | None:
        """None when cancelled, else the library's reason. The body is the
        one captured from the UI and verified live [S1 OPY cancel_hold];
        LCLI's ``{"id"}`` and BSB's ``{"requestIds"}`` are unverified."""
        request_id = hold.key  # the requestid
        data = await self._priv("POST", ACCOUNT + "cancel_requests", pj.CANCEL,
                                json={"request_id": request_id, "request_type": "holds"})
        return pj.cancel_note(data, request_id)

    # -- fees and payment (§4.5, §9) ---------------------------------------------------------------------

    def _balance(self, data: Any, conf: pj.ViewConfig | None) -> Balance:
        currency = self.policy.currency
        items = tuple(pj.read_fines(data, currency=currency))
        offered = bool(conf and conf.pay_url)
        return Balance(
            card=self.card.name, items=items,
            total=Money(sum(f.amount.cents for f in items), currency),
            online_payment_offered=offered,
            site_reason=None if offered else NO_PAY_LINK.format(name=self.consortium.name))

    async def fees(self) -> Balance:
        # No total field was seen: the total is the sum of the open fines [C 2: OPY, LCLI].
        data = await self._priv("GET", ACCOUNT + "fines", pj.FINES)
        return self._balance(data, self._cached_config())

    async def start_payment(self, balance: Balance) -> PaymentStart:
        """The Pay Fine link the view's configuration offers (EXLPAY): the
        configuration is read fresh, the fines again, together. The link is
        opened as configured: when the library has Primo append the patron's
        token to it, the parameter's name is not documented [no evidence],
        and an address carrying the token must not be printed; the payment
        service then asks the patron to log in."""
        from libcli.payment import check_payment_url, verdict

        conf, data = await asyncio.gather(self._fetch_config(),
                                          self._priv("GET", ACCOUNT + "fines", pj.FINES))
        if not conf.pay_url:
            raise NotSupported(NO_PAY_LINK.format(name=self.consortium.name))
        now = self._balance(data, conf)
        if now.total != balance.total:
            raise Refused(f"{self.consortium.name}: the amount changed since it was shown "
                          f"(was {balance.total}, now {now.total}); check the fees again")
        check = verdict(self.consortium, now)
        if not check.payable:
            raise Refused(f"{self.consortium.name}: cannot pay online: {check.message}")
        url = check_payment_url(conf.pay_url, backend_url=self._base(), consortium=self.consortium)
        return PaymentStart(card=self.card.name, url=url, amount=now.total)

    # -- search (§6) --------------------------------------------------------------------------------------

    def _search_params(self, conf: pj.ViewConfig, query: str, limit: int) -> dict[str, str]:
        # q/vid/inst/tab/scope/lang/offset/limit [C 5: OPY l.398–408, OMOB,
        # BSB, LCLI, EZL]; qInclude present even when empty (delivery answers
        # 500 without it [S1 EZL]).
        return {"q": f"any,contains,{query}", "vid": self.view, "inst": self.institution,
                "tab": conf.tab or "LibraryCatalog", "scope": conf.scope or "MyInstitution",
                "lang": self.lang(conf), "offset": "0", "limit": str(limit), "sort": "rank",
                "skipDelivery": "Y", "getMore": "0", "pcAvailability": "false",
                "qInclude": "", "qExclude": "", "disableCache": "false"}

    async def search(self, query: str, *, limit: int = 20) -> list[SearchResult]:
        """Guest search: no token needed (BSB searches without one [S1])."""
        limit = max(1, min(int(limit), 50))  # the server's maximum is about 50 [S1 BSB]
        conf = await self._config()
        page = await self._send("GET", SEARCH_URL,
                                params=self._search_params(conf, query, limit))
        if page.status == 400:
            raise LibcliError(f"{self.consortium.name}'s search refused the query (HTTP 400)")
        return pj.read_search(self._doc(page, pj.SEARCH))

    # -- placing a hold (§5) ----------------------------------------------------------------------------

    async def _pub_json(self, method: str, url: str, what: str, **kw) -> Any:
        page = await self._send(method, url, token=self._token(), **kw)
        if page.status == 404:
            raise UsageError(f"{self.consortium.name} has no such record ({what})")
        return pj.check(self._doc(page, what), what)

    async def _hold_form(self, record_id: str) -> tuple[str, pj.RequestableItem, pj.RequestForm]:
        """The UI's chain up to the request form (§5 steps 1–4 [C 2: OPY live,
        BSB]). The physical service id and the links belong to one login
        (§8.6), so the chain is not cached."""
        mms = record_id.strip().removeprefix("alma")
        if not mms.isdigit():
            raise UsageError(f"'{record_id}' is not an Alma record id (the digits of an MMS id)")
        conf = await self._config()
        lang = self.lang(conf)
        record = await self._pub_json("GET", RECORD_URL.format(mms=mms), pj.RECORD,
                                      params={"vid": self.view, "lang": lang})
        holdings = pj.holdings_of(record)
        if not holdings:
            # The record answer without availability: ask delivery with a
            # search that finds it, as the result page does [C 2: OPY, BSB].
            params = self._search_params(conf, mms, 10)
            answer = await self._pub_json("POST", DELIVERY_URL, pj.RECORD, params=params,
                                          json=[f"alma{mms}"])
            holdings = pj.holdings_of(answer)
        if not holdings:
            raise Refused(f"{self.consortium.name} lists no physical copies of record {mms}")
        generation = self.site.generation
        try:
            found = await self._requestable_items(mms, lang, holdings)
        except pj.Failed:
            if self.site.generation == generation:
                raise
            # A re-login happened half-way (the saved token was revoked): the
            # service id belonged to the old login (§8.6), so the chain starts
            # again under the new one.
            found = await self._requestable_items(mms, lang, holdings)
        items = [i for group in found for i in group]
        if not items:
            raise Refused(f"{self.consortium.name} offers no copy of record {mms} for a hold")
        item = items[0]
        path, query = self._split_link(item.link)
        query.update({"itemid": item.item_id, "itemcategoryname": item.category,
                      "itemstatusname": item.status, "mainlocationname": item.main_location,
                      "secondarylocationname": item.sub_location, "vid": self.view})
        data = await self._priv("GET", path, pj.REQUEST_FORM, params=query)
        form = pj.read_request_form(data)
        if form is None:
            raise Refused(f"{self.consortium.name} offers no hold request for record {mms}")
        return mms, item, form

    async def _requestable_items(self, mms: str, lang: str, holdings: list) -> list:
        """Steps 2–3 of the chain: the physical service id, then each
        holding's requestable items under it."""
        await self._valid_token()  # the service id belongs to the login (§5 step 2 [S1 OPY])
        service = await self._pub_json("GET", SERVICE_URL.format(mms=mms), pj.HOLDINGS, params={
            "vid": self.view, "lang": lang, "recordOwner": self.institution,
            "sourceRecordId": mms, "resource_type": "book", "isRapido": "false"})
        service_id = pj.first(pj.obj(service).get("physicalServiceId"))
        if not service_id:
            raise Refused(f"{self.consortium.name} offers no request for record {mms}")

        async def items_of(holding: dict) -> list[pj.RequestableItem]:
            # One holding per post, with its holKey: otherwise no items come
            # back (§8.7 [S1 OPY and OMOB bisection; BSB sends it too]).
            main = pj.first(holding.get("mainLocation")) or ""
            body = {"filters": {"noItem": 10, "sublibrary": main, "collection": "",
                                "callnumber": "", "holid": pj.first(holding.get("holdId")) or "",
                                "sublibs": main, "ilsRecordList": [
                                    {"institution": self.institution, "recordId": mms}],
                                "vid": self.view, "filterCall": True},
                    "locations": [holding], "hideResourceSharing": False}
            data = await self._priv("POST", HOLDINGS_URL.format(service=service_id),
                                    pj.HOLDINGS, params={"record-institution": self.institution},
                                    json=body)
            return pj.requestable_items(data)

        return await asyncio.gather(*(items_of(h) for h in holdings))

    def _split_link(self, link: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(link)
        if parts.scheme and not http.same_site(link, self._base()):
            raise Refused(f"{self.consortium.name} sent a request link to another host")
        return parts.path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))

    async def pickup_locations(self, record_id: str) -> list[PickupLocation]:
        _, _, form = await self._hold_form(record_id)
        return form.locations

    async def place_hold(self, record_id: str, pickup: str | None, *,
                         accept_terms: bool = False) -> PlaceHoldResult:
        # Primo VE's request form asks no terms (reference §5); the flag has
        # nothing to accept here.
        """Submit the request form (§5 step 5: the body captured from the UI
        [S1 OPY]; success is ``status: ok`` with no request id [S1 OPY])."""
        try:
            mms, item, form = await self._hold_form(record_id)
        except Refused as exc:
            return PlaceHoldResult(record_id, False, exc.message, None, self.card.name)
        chosen = choose_pickup(form.locations, pickup or self.card.pickup)
        name = chosen.name if chosen else None
        body: dict[str, Any] = {"requestType": form.request_type, "itemId": item.item_id,
                                "group_id": mms}
        if form.material_type:
            body["materialType"] = form.material_type
        if chosen is not None:
            body.update({"pickupLocation": chosen.code, "pickupLibraryId": chosen.code,
                         "pickupType": form.kinds.get(chosen.code, "LIBRARY")})
        path, query = self._split_link(item.link)
        try:
            await self._priv("POST", path, pj.SUBMIT, params=query, json=body)
        except pj.Failed as exc:
            return PlaceHoldResult(record_id, False, exc.text or exc.message, name,
                                   self.card.name)
        except Unreachable:
            # Unclear outcome: a new hold shows in the list only after a few
            # seconds (§8.8 [S1 OPY]), so "not there" is not "not placed".
            placed = any(h.record_id == mms for h in await self.holds())
            return PlaceHoldResult(
                record_id, placed,
                "placed (the library's answer was lost; the hold is on the account)" if placed
                else ANSWER_LOST, name, self.card.name)
        return PlaceHoldResult(record_id, True, "placed", name, self.card.name)
