"""The Finna (VuFind) backend: heili, tuni, helmet.

Finna has no patron API, so this module uses a view the way a browser does:
a login form with a one-time CSRF token, a session cookie (kept by the
caller in the client's jar), pages to read and forms to post. Parsing lives
in :mod:`libcli.backends.finna_pages`; this module is the flow.

Requests (``self.requests`` counts every HTTP exchange, redirects included),
with a live session; a cold start adds 2 (see below):

- loans, holds, fees: 1 each (loans: +1 per further page of 50; a page
  claiming more than MAX_LOANS loans or MAX_LOAN_PAGES pages is refused);
- renew: 1 after the loans were read in this run (one post, with the renew
  form that read found, whose answer is the re-read list with a result in
  each row), else 2 (the loans page first); on a paged account each page's
  post goes out with the others', to the page the loan is on, and when a
  renewed loan moves to another page in the due-date order, the pages are
  read together once more;
- cancel holds: 1 after the holds were read in this run (one post whose
  answer is the re-read list), else 2 (the list first: showing it puts the
  IDs in the session's whitelist);
- pickup locations: 2 (holdings tab, hold form; with request groups +1
  round trip, one AJAX call per group, together); place a hold: 4 (holdings
  tab, hold form, post, the redirect to the record page with the flash);
- start a payment: 3 (fines page, ``pay`` → terms, ``pay-confirm`` → 302);
- search: 1 (the JSON API).

Cold: the protected page itself answers with the login form and a fresh
CSRF token (1), the login post (2) redirects to the follow-up page (3), so
a cold read is 3 requests and never needs a separate GET of the form. A
"technical error" refusal (authentication_error_technical: stale CSRF token,
or the ILS did not answer) is retried once with the fresh form from the
refusal page, and if refused again is Unreachable (exit 5, the library's
error); any other refusal is LoginRefused (exit 4). The
PIN callable is called only right before a login post.

Keys: a loan's key is ``<record id>|<item id>`` (the item id is the part of
the renew token ``<checkout id>|<item id>`` that names the physical copy; the
checkout id may change when the ILS re-issues the loan); without a renew
token, ``<record id>|<barcode>``, else the record id. A hold's key is its
record id (a patron holds a title once), so it stays the same while the hold
moves from waiting to in transit to ready.

Safety of posts that change an account. ``libcli.http`` never retries a
post. If a renew, cancel, hold or payment post lands on the login page (the
session expired between our read and our post), the library did not act on
it: we log in once, re-read the account, and report what it shows, but we
never send the post again on our own:

- renew: loans whose due date moved are reported renewed, the others "not
  renewed: the session expired before the library took the renewal; try
  again" (re-posting could use up a renewal the patron did not ask for twice
  if the first post had in fact gone through);
- cancel: holds gone from the re-read list are reported cancelled, the rest
  not cancelled, with the same advice;
- place a hold: the holds list is re-read; present → placed, else not;
- payment: refused with "nothing was charged; run it again".
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from libcli import http
from libcli.backends import finna_pages as pages
from libcli.backends.base import Backend
from libcli.backends.shared import ANSWER_LOST, choose_pickup
from libcli.errors import (
    LibcliError, LoginRefused, PageNotUnderstood, Refused, TermsNotAccepted, Unreachable,
    UnsafeAddress, UsageError,
)
from libcli.model import (
    Balance, CancelResult, Fee, Hold, HoldStatus, Loan, Money, PaymentStart,
    PickupLocation, PlaceHoldResult, RenewResult, SearchResult,
)
from libcli.policy import due_status, estimated_late_fee, predicted_renewal
from libcli.payment import check_payment_url  # the one payment-address check (WHATWG parsing)

log = logging.getLogger("libcli.finna")

LOANS_URL = "MyResearch/CheckedOut"
HOLDS_URL = "Holds/List"
FINES_URL = "MyResearch/Fines"
LOGIN_URL = "MyResearch/UserLogin"
SEARCH_URL = "api/v1/search"
SEARCH_FIELDS = ("id", "title", "nonPresenterAuthors", "year", "formats")
LANGUAGES = ("fi", "sv", "en-gb", "se")

# The label of a loan without a renew checkbox ("cannot renew"), in fi, sv, en.
CANNOT_RENEW = frozenset({"ei voi uusia", "kan inte förnya", "cannot renew"})

SESSION_EXPIRED = "the session expired before the library took the renewal; try again"

# A loans page's header count and page links decide how many pages are read;
# a page claiming millions (issue #18.6) must not make libcli fetch without
# bound. Finna pages loans by 50 (checkedout.phtml's paginator) and Helmet
# lends at most 100 items, so 40 pages / 2000 loans is far above any real card.
MAX_LOAN_PAGES = 40
MAX_LOANS = 2000

class FinnaBackend(Backend):
    name = "finna"
    # A started transaction blocks a new one until it is this old
    # (FinnaOnlinePaymentControllerTrait: getStartedTransactionForPatron with
    # `transactionMaxDuration`, default 15 minutes).
    payment_open_minutes = 15

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._language_sent = False
        # The loans pages this run read, with their renew forms, so that a
        # renewal right after the read posts without reading again. Finna's
        # checkedout.phtml (l. 60-62, 155) has one form per page, without an
        # action (it posts to the page it is on), a csrf hidden field and a
        # renewSelectedIDS[] checkbox per renewable row: the page's URL, its
        # CSRF token and each row's value are all a post needs. Kept with the
        # login generation they were read under: a login since then is a new
        # session, whose token and whitelist that read never saw.
        self._loans_read: tuple[int, list[tuple[str, pages.LoansPage]],
                                list[pages.RawLoan]] | None = None
        # Likewise the holds list this run read: its rows' selectedIDS[] values
        # (holds/list.phtml l. 116), which reading it put in the session's whitelist.
        self._holds_read: tuple[int, list[pages.RawHold]] | None = None

    # -- HTTP ----------------------------------------------------------------

    async def _fetch(self, method: str, url: str, *, data: Any = None, params: Any = None,
                     follow: bool = True) -> http.Page:
        if method == "GET" and self.language and not self._language_sent:
            # Sent once: the site keeps the choice in its `language` cookie.
            params = list(params or []) + [("lng", finna_language(self.language))]
            self._language_sent = True
        # Lists of pairs go out in order with repeated names, as a browser
        # posts a form (libcli.http encodes them).
        try:
            return await self.site.send(method, url, data=data, params=params, follow=follow)
        except httpx.InvalidURL:
            # httpx builds the next request from a Location header even when
            # not following it; an address like "javascript:…" fails there.
            raise UnsafeAddress(f"the library answered {method} {urlsplit(url).path} with an "
                                "address libcli will not use") from None

    @staticmethod
    def _tree(page: http.Page, what: str):
        if page.status >= 400:
            raise PageNotUnderstood(what, f"the library answered HTTP {page.status}")
        if not page.text.strip():
            raise PageNotUnderstood(what, "the library sent an empty page")
        return pages.tree_of(page.text)

    # -- login -----------------------------------------------------------------

    async def identify(self) -> None:
        # Every VuFind page names its template in the body's classes
        # (themes/finna2/templates/layout/layout.phtml: template-dir-…
        # template-name-…); the login page is one any Finna view serves.
        page = await self._fetch("GET", LOGIN_URL)
        tree = self._tree(page, pages.LOGIN_PAGE)
        if pages.template_name(tree) is None:
            raise PageNotUnderstood(pages.LOGIN_PAGE, "the VuFind body classes (template-name-…): "
                                    "the address does not look like a Finna view")

    async def login(self) -> None:
        page = await self._fetch("GET", LOGIN_URL)
        tree = self._tree(page, pages.LOGIN_PAGE)
        if not pages.is_login_page(tree):
            return  # already logged in: UserLogin redirected home
        await self._login_with(tree, page)

    async def _login_with(self, tree, page: http.Page, *, follow: bool = True) -> http.Page:
        """Post the login form found on ``page``; return the page it leads to
        (with ``follow=False``: the post's own redirect answer on success).

        A "technical error" refusal (authentication_error_technical: a
        refused CSRF token or an ILS that did not answer, VuFind/Auth/
        Manager.php l. 753, 773) is not about the PIN: the refusal page
        carries a fresh form, which is posted once more; refused again, it
        is the library's error (Unreachable, exit 5), in the site's words.
        Any other refusal is final (LoginRefused, exit 4).
        """
        for attempt in range(2):
            form = pages.parse_login_form(tree)
            target = self.consortium.login_target
            if target and form.targets and target not in form.targets:
                raise LoginRefused(
                    f"{self.consortium.name}: the login form does not offer the library "
                    f"'{target}' (it offers: {', '.join(form.targets)})")
            data = form.with_target(target if form.targets else None)
            if target and not form.targets:
                data.append(("target", target))
            data.append((form.username, self.card.number))
            data.append((form.password, self._pin()))
            action = urljoin(page.url, form.action or "/MyResearch/Home")
            result = await self._fetch("POST", action, data=data, follow=follow)
            del data
            if not follow and 300 <= result.status < 400 and result.headers.get("location"):
                target = urljoin(result.url, result.headers["location"])
                if not http.same_site(target, result.url):
                    raise UnsafeAddress(
                        f"the library redirected the login to another host "
                        f"({urlsplit(target).hostname}); libcli does not follow it")
                return result  # logged in: the new session cookie is in the jar
            rtree = self._tree(result, pages.LOGIN_PAGE)
            if pages.is_login_page(rtree):
                reason = pages.login_refusal(rtree)
                if reason and pages.TECHNICAL_LOGIN_ERROR.search(reason):
                    if attempt == 0:
                        tree, page = rtree, result
                        continue
                    raise Unreachable(f"{self.consortium.name} could not log card "
                                      f"{self.card.name} in (a library error, not the PIN): "
                                      f"{reason}")
                raise LoginRefused(
                    f"{self.consortium.name} refused the login for card {self.card.name}"
                    + (f": {reason}" if reason else ""))
            if pages.is_catalog_login_page(rtree):
                reason = pages.login_refusal(rtree)
                raise LoginRefused(
                    f"{self.consortium.name} accepted the login but not the library card "
                    f"{self.card.name}" + (f": {reason}" if reason else ""))
            return result
        raise AssertionError("unreachable")

    async def _account(self, url: str, what: str, is_page, *, fetched: http.Page | None = None,
                       generation: int | None = None) -> tuple[http.Page, Any]:
        """GET an account page, logging in once if the session has expired.

        Concurrent reads of one card (``status`` reads loans, holds and fees
        at once) share one login. With no session cookie at all, the first
        read goes alone and logs in with the form its page carries while the
        others wait for its session (three logins at once would each get a
        new session and spoil each other's CSRF tokens). A read that meets the
        login page after another read has logged in reads again instead.
        ``fetched`` is the page already fetched by the caller, ``generation``
        the ``login_generation`` read before that request was sent.
        """
        if fetched is None and (not len(self.client.cookies) or self.site.lock.locked()):
            async with self.site.lock:
                if not len(self.client.cookies):
                    page = await self._fetch("GET", url)
                    tree = self._tree(page, what)
                    if not pages.is_login_page(tree):
                        return await self._account_read(url, what, is_page, page, None,
                                                        locked=True)
                    # Log in without following the post's redirect: the other
                    # reads of this card and this one's own page then go out
                    # together once the lock is released (3 round trips cold).
                    await self._login_with(tree, page, follow=False)
                    self.site.logged_in()
        return await self._account_read(url, what, is_page, fetched, generation, locked=False)

    async def _account_read(self, url: str, what: str, is_page, fetched: http.Page | None,
                            generation: int | None, *, locked: bool) -> tuple[http.Page, Any]:
        if generation is None or fetched is None:
            generation = self.site.generation
        page = fetched if fetched is not None else await self._fetch("GET", url)
        tree = self._tree(page, what)
        if fetched is not None and pages.is_login_page(tree):
            # Sent alongside other requests that may have replaced the session
            # cookie (and the page to return to after the login): ask again,
            # so that the form and its follow-up belong to the session in the jar.
            page = await self._fetch("GET", url)
            tree = self._tree(page, what)
        if pages.is_login_page(tree):
            fresh: tuple[http.Page, Any] | None = None
            if locked:
                fresh = await self._login_for(what, is_page, tree, page)
            else:
                async with self.site.lock:
                    if generation == self.site.generation:
                        fresh = await self._login_for(what, is_page, tree, page)
            if fresh is None:  # logged in (by this read or another): read again
                page = await self._fetch("GET", url)
                tree = self._tree(page, what)
                if pages.is_login_page(tree):
                    raise LoginRefused(
                        f"{self.consortium.name} logged card {self.card.name} in but keeps "
                        "showing the login page")
            else:
                page, tree = fresh
        if pages.is_catalog_login_page(tree):
            raise LoginRefused(f"{self.consortium.name} does not accept library card "
                               f"{self.card.name} (it asks for the card again)")
        return page, tree

    async def _login_for(self, what: str, is_page, tree, page: http.Page
                         ) -> tuple[http.Page, Any] | None:
        """Log in with the form on ``page`` (the login lock held).

        The login post's redirect is not followed: the caller reads its page
        again once the lock is released, together with the other reads that
        waited for this login (an expired session costs three round trips:
        the reads, the post, the reads again). Returns the account page only
        where the post answered with it directly.
        """
        result = await self._login_with(tree, page, follow=False)
        self.site.logged_in()
        if 300 <= result.status < 400:
            return None
        rtree = self._tree(result, what)
        return (result, rtree) if is_page(rtree) else None

    # -- loans ------------------------------------------------------------------

    async def _loan_pages(self) -> tuple[list[tuple[str, pages.LoansPage]], list[pages.RawLoan]]:
        # Every page at once: with a session, the pages the last run saw
        # (session["loan_pages"]) go out together with the first, so a warm
        # read of a paged account is one round trip; pages the first one
        # reveals beyond those follow in one more, all together.
        known = self.session.get("loan_pages")
        spare: dict[int, http.Page | None] = {}
        if (isinstance(known, int) and 1 < known <= MAX_LOAN_PAGES and len(self.client.cookies)
                and not self.site.lock.locked()
                and not (self.language and not self._language_sent)):
            generation = self.site.generation
            first_page, *extra = await asyncio.gather(
                self._fetch("GET", LOANS_URL),
                *(self._spare_loans_page(n) for n in range(2, known + 1)))
            spare = dict(enumerate(extra, start=2))
            page, tree = await self._account(LOANS_URL, pages.LOANS_PAGE, pages.is_loans_page,
                                             fetched=first_page, generation=generation)
        else:
            page, tree = await self._account(LOANS_URL, pages.LOANS_PAGE, pages.is_loans_page)
        first = pages.parse_loans(tree)
        out = [(page.url, first)]
        raws = list(first.loans)
        last = 1
        if first.total and first.total > len(raws):
            last = max(first.last_page, -(-first.total // max(len(first.loans), 1)))
            if first.total > MAX_LOANS or last > MAX_LOAN_PAGES:
                raise PageNotUnderstood(
                    pages.LOANS_PAGE, f"the page claims {first.total} loans over {last} pages; "
                    f"libcli reads at most {MAX_LOANS} loans over {MAX_LOAN_PAGES} pages")

            async def get(n: int):
                p = spare.get(n)
                if p is not None and p.status < 400 and p.text.strip():
                    t = pages.tree_of(p.text)
                    if pages.is_loans_page(t) and not pages.is_login_page(t):
                        return p, t  # fetched with the first page and still good
                p = await self._fetch("GET", LOANS_URL, params=[("page", str(n))])
                return p, self._tree(p, pages.LOANS_PAGE)

            for p, t in await asyncio.gather(*(get(n) for n in range(2, last + 1))):
                lp = pages.parse_loans(t)
                out.append((p.url, lp))
                raws.extend(lp.loans)
            if len(raws) != first.total:
                raise PageNotUnderstood(pages.LOANS_PAGE, f"the header says {first.total} items "
                                        f"but {len(raws)} rows were read over {last} pages")
            pages._set_ordinals(raws)
        self.session["loan_pages"] = last
        return out, raws

    async def _spare_loans_page(self, n: int) -> http.Page | None:
        try:
            return await self._fetch("GET", LOANS_URL, params=[("page", str(n))])
        except LibcliError:
            return None  # fetched again, in order, if the first page says it exists

    def _to_loan(self, raw: pages.RawLoan) -> Loan:
        policy = self.policy
        limit = raw.renewals_limit
        used = raw.renewals_used
        if limit is None:
            limit = policy.renewal_limit_for(raw.material)
        if used is None:
            if raw.renewals_remaining is not None and limit is not None:
                used = max(limit - raw.renewals_remaining, 0)
            elif raw.renewals_remaining is not None:
                # The site says only how many are left: show that as the limit.
                used, limit = 0, raw.renewals_remaining
            # else: the page prints no count (Alma; KohaRest's permanent
            # blocks): unknown, shown as such, never guessed.
        renewable = raw.renew_token is not None
        reason = None
        only_left_known = raw.renewals_remaining is not None and raw.renewals_limit is None
        site_limit_reached = (raw.renewals_remaining == 0 or (
            raw.renewals_limit is not None and raw.renewals_used is not None
            and raw.renewals_used >= raw.renewals_limit))
        if site_limit_reached:
            renewable = False
            # With only "0 left" known, the material's own limit may differ
            # from the policy's (a quick loan has none): say no more than that.
            reason = ("no renewals left" if only_left_known
                      else f"renewal limit reached ({used}/{limit})")
        if not renewable and reason is None:
            ok, predicted = predicted_renewal(policy, raw.material, used, raw.reserved)
            if raw.reserved:
                reason = "reserved by another patron"
            elif raw.site_reason and raw.site_reason.strip(" .").casefold() not in CANNOT_RENEW:
                # The site's own words, and the rules' guess why.
                reason = raw.site_reason + (f" ({predicted})" if predicted and not
                                            only_left_known else "")
            else:
                # The bare "cannot renew" label says nothing of why; with
                # renewals left, a reservation by someone else is the usual cause.
                reason = predicted or "not renewable online (probably reserved)"
        return Loan(
            card=self.card.name, account=self.card.key, key=raw.key, title=raw.title,
            due_date=raw.due_date,
            author=raw.author, record_id=raw.record_id, barcode=raw.barcode,
            material=raw.material, renewals_used=used, renewals_limit=limit,
            renewable=renewable, not_renewable_reason=None if renewable else reason,
            reserved_by_others=raw.reserved,
            status=due_status(policy, raw.due_date, self.today),
            estimated_fee=estimated_late_fee(policy, raw.material, raw.due_date, self.today),
            due_time=raw.due_time,
        )

    def _serves(self, generation: int, rows: list, asked: list) -> bool:
        """This run's read serves a post: read under the current login, and
        listing every loan or hold asked for."""
        return (generation == self.site.generation
                and {a.key for a in asked} <= {r.key for r in rows})

    async def loans(self) -> list[Loan]:
        page_list, raws = await self._loan_pages()
        self._loans_read = (self.site.generation, page_list, raws)
        return [self._to_loan(r) for r in raws]

    # -- renewing -----------------------------------------------------------------

    def _read_back(self, tree, group, requested, results, unclear: str, moved: list) -> None:
        """After a renew post of unclear outcome: a loan whose due date moved
        was renewed; the others are reported with `unclear`, never re-posted.
        A loan gone from the page goes to `moved`, to be looked for on all."""
        after = {r.key: r for r in pages.parse_loans(tree).loans}
        for i, raw in group:
            now = after.get(raw.key)
            if now is None:
                moved.append((i, raw, unclear))
            elif now.due_date > raw.due_date:
                results[i] = self._result(requested[i], True, due=now.due_date)
            else:
                results[i] = self._result(requested[i], False, message=unclear)

    async def _look_for_moved(self, moved: list, requested: list, results: list) -> None:
        """Loans a renewal's answer page no longer lists: renewing moves a loan
        later in the due-date order, often onto another page. Every page is
        read again (together: one round trip) and the due dates compared."""
        try:
            _, raws = await self._loan_pages()
        except LibcliError as exc:
            for i, _raw, _ in moved:
                results[i] = self._result(requested[i], False, message=(
                    f"the renewal was sent but the loan could not be read again ({exc}); "
                    f"libcli loans shows whether it was renewed"))
            return
        now = {r.key: r for r in raws}
        for i, raw, otherwise in moved:
            loan = now.get(raw.key)
            if loan is None:
                results[i] = self._result(requested[i], False, message=(
                    "the loan is no longer listed (returned?); check your loans"))
            elif loan.due_date > raw.due_date:
                results[i] = self._result(requested[i], True, due=loan.due_date)
            else:
                results[i] = self._result(requested[i], False, message=otherwise)

    def _result(self, loan: Loan | pages.RawLoan, renewed: bool, *, due: date | None = None,
                message: str | None = None) -> RenewResult:
        loan_id = loan.id if isinstance(loan, Loan) else self._to_loan(loan).id
        return RenewResult(loan_id=loan_id, title=loan.title, renewed=renewed,
                           new_due_date=due, message=message, card=self.card.name)

    async def renew(self, loans: list[Loan]) -> list[RenewResult]:
        # The renew forms this run read, when they list every loan asked for
        # (the service reads before it writes); else the pages, once. Either
        # way they are spent by the posts: a second renewal reads again.
        kept, self._loans_read = self._loans_read, None
        if kept is not None and self._serves(kept[0], kept[2], loans):
            _, page_list, raws = kept
        else:
            page_list, raws = await self._loan_pages()
        current = {r.key: r for r in raws}
        page_of = {r.key: url for url, lp in page_list for r in lp.loans}
        csrf_of = {url: lp.csrf for url, lp in page_list}
        requested = list(loans)
        results: list[RenewResult | None] = [None] * len(requested)
        to_post: dict[str, list[tuple[int, pages.RawLoan]]] = {}
        for i, loan in enumerate(requested):
            raw = current.get(loan.key)
            if raw is None:
                results[i] = self._result(loan, False, message="this loan is no longer on "
                                          "the card (returned?)")
                continue
            if raw.renew_token is None:
                results[i] = self._result(loan, False, message=(
                    self._to_loan(raw).not_renewable_reason
                    or "the library does not allow renewing it online"))
                continue
            to_post.setdefault(page_of[raw.key], []).append((i, raw))

        # One post per page, all at once: each answer is its own page again,
        # with a result in each renewed row (one round trip for any number of pages).
        groups = list(to_post.items())
        moved: list[tuple[int, pages.RawLoan, str]] = []
        outcomes = await asyncio.gather(
            *(self._post_renewals(url, group, csrf_of.get(url), requested, results, moved)
              for url, group in groups),
            return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        for o in failed:
            if not isinstance(o, LibcliError):
                raise o
        if failed and len(failed) == len(outcomes):
            raise failed[0]
        # Some pages' posts were answered: report those, and say of the others
        # that their outcome is not known (the posts went out; never re-post).
        for (_, group), o in zip(groups, outcomes):
            if isinstance(o, LibcliError):
                for i, _raw in group:
                    results[i] = self._result(requested[i], False, message=(
                        f"the outcome is not known ({o}); libcli loans shows whether it "
                        "was renewed"))
        if moved:
            await self._look_for_moved(moved, requested, results)
        return [r for r in results if r is not None]

    async def _post_renewals(self, url: str, group: list[tuple[int, pages.RawLoan]],
                             csrf: str | None, requested: list, results: list,
                             moved: list) -> None:
        """Renew the loans of one loans page, posting its form once; fill
        `results`, and `moved` with the loans its answer no longer lists."""
        data: list[tuple[str, str]] = []
        if csrf:
            data.append(("csrf", csrf))
        data.append(("renewSelected", "1"))
        data += [("renewSelectedIDS[]", raw.renew_token) for _, raw in group]
        generation = self.site.generation
        try:
            page = await self._fetch("POST", url, data=data)
        except Unreachable:
            # The post may or may not have reached the library: read the
            # account again and report what it shows; never post again.
            _, tree = await self._account(url, pages.LOANS_PAGE, pages.is_loans_page)
            self._read_back(tree, group, requested, results, ANSWER_LOST, moved)
            return
        tree = self._tree(page, pages.LOANS_PAGE)
        if pages.is_login_page(tree):
            # The library did not act on the post. Log in (once, however many
            # pages' posts met the login page), re-read, report.
            async with self.site.lock:
                if generation == self.site.generation:
                    page = await self._login_with(tree, page)
                    self.site.logged_in()
                    tree = self._tree(page, pages.LOANS_PAGE)
                else:
                    tree = None
            if tree is None or not pages.is_loans_page(tree) or page.url != url:
                page = await self._fetch("GET", url)
                tree = self._tree(page, pages.LOANS_PAGE)
            self._read_back(tree, group, requested, results, SESSION_EXPIRED, moved)
            return
        answer = pages.parse_loans(tree)
        after = {r.key: r for r in answer.loans}
        errors = [f.text for f in answer.flashes if f.level == "danger"]
        for i, raw in group:
            result = self._row_result(requested[i], raw, after.get(raw.key),
                                      answer.other_page_failures, errors)
            if result is None:
                moved.append((i, raw, "the library gave no answer for this loan"))
            else:
                results[i] = result

    def _row_result(self, loan, before: pages.RawLoan, after: pages.RawLoan | None,
                    other_failures: list[str], errors: list[str]) -> RenewResult | None:
        """The result the answer page shows for a loan; None when the page no
        longer lists it and names no failure for it (it moved: look it up)."""
        if after is None:
            for text in other_failures:
                if text.startswith(before.title):
                    reason = pages._after_label(text, pages._RENEW_FAIL)
                    return self._result(loan, False, message=reason)
            return None
        if after.result is not None:
            if after.result.renewed:
                return self._result(loan, True, due=after.due_date)
            return self._result(loan, False, message=after.result.message or "the library gave no reason")
        if after.due_date > before.due_date:
            return self._result(loan, True, due=after.due_date)
        why = "; ".join(errors) if errors else "the library gave no answer for this loan"
        return self._result(loan, False, message=why)

    # -- holds -----------------------------------------------------------------------

    def _to_hold(self, raw: pages.RawHold) -> Hold:
        return Hold(
            card=self.card.name, account=self.card.key, key=raw.key, title=raw.title,
            status=HoldStatus(raw.status),
            author=raw.author, record_id=raw.record_id, queue_position=raw.queue_position,
            queue_length=raw.queue_length, pickup_location=raw.pickup_location,
            pickup_by=raw.pickup_by, created=raw.created, expires=raw.expires,
            cancellable=raw.cancel_token is not None,
        )

    async def holds(self) -> list[Hold]:
        _, tree = await self._account(HOLDS_URL, pages.HOLDS_PAGE, pages.is_holds_page)
        raws = pages.parse_holds(tree).holds
        self._holds_read = (self.site.generation, raws)
        return [self._to_hold(r) for r in raws]

    def _cancel_result(self, hold, cancelled: bool, message: str | None = None) -> CancelResult:
        hid = hold.id if isinstance(hold, Hold) else self._to_hold(hold).id
        return CancelResult(hold_id=hid, title=hold.title, cancelled=cancelled, message=message,
                            card=self.card.name)

    async def cancel_holds(self, holds: list[Hold]) -> list[CancelResult]:
        # The IDs must have been shown in this session: the list this run read,
        # else the list first. A post spends it (a second cancel reads again).
        kept, self._holds_read = self._holds_read, None
        if kept is not None and self._serves(kept[0], kept[1], holds):
            read = kept[1]
        else:
            _, tree = await self._account(HOLDS_URL, pages.HOLDS_PAGE, pages.is_holds_page)
            read = pages.parse_holds(tree).holds
        current = {r.key: r for r in read}
        results: list[CancelResult | None] = [None] * len(holds)
        posting: list[tuple[int, pages.RawHold]] = []
        for i, hold in enumerate(holds):
            raw = current.get(hold.key)
            if raw is None:
                results[i] = self._cancel_result(hold, False, "the hold is no longer on the "
                                                 "card (collected or expired?)")
            elif raw.cancel_token is None:
                if raw.status == "ready":
                    msg = ("the hold is ready for pickup and cannot be cancelled "
                           "online; contact the pickup library"
                           + (f" ({raw.pickup_location})" if raw.pickup_location else ""))
                elif raw.status == "in_transit":
                    msg = ("the item is already on its way to the pickup "
                           "library; contact the library to cancel it")
                else:
                    msg = "the library does not allow cancelling this hold online"
                results[i] = self._cancel_result(hold, False, msg)
            else:
                posting.append((i, raw))
        if posting:
            data = [("cancelSelected", "1"), ("confirm", "1")]
            data += [("selectedIDS[]", raw.cancel_token) for _, raw in posting]
            lost = False
            try:
                page = await self._fetch("POST", HOLDS_URL, data=data)
            except Unreachable:
                lost = True  # unclear outcome: the list read below tells
                page, tree = await self._account(HOLDS_URL, pages.HOLDS_PAGE, pages.is_holds_page)
            else:
                tree = self._tree(page, pages.HOLDS_PAGE)
            expired = pages.is_login_page(tree)
            if expired:
                page = await self._login_with(tree, page)
                tree = self._tree(page, pages.HOLDS_PAGE)
            flash = pages.flashes(tree)
            if not pages.is_holds_page(tree) or pages.is_login_page(tree):
                page, tree = await self._account(HOLDS_URL, pages.HOLDS_PAGE, pages.is_holds_page)
            after = {r.key: r for r in pages.parse_holds(tree).holds}
            errors = [f.text for f in flash if f.level == "danger"]
            for i, raw in posting:
                now = after.get(raw.key)
                if now is None:
                    results[i] = self._cancel_result(holds[i], True, "cancelled")
                elif lost:
                    results[i] = self._cancel_result(holds[i], False, ANSWER_LOST)
                elif expired:
                    results[i] = self._cancel_result(
                        holds[i], False, "the session expired before the library "
                        "took the request; try again")
                elif now.error:
                    results[i] = self._cancel_result(holds[i], False, now.error)
                else:
                    why = "; ".join(errors) if errors else "the hold is still on the list"
                    results[i] = self._cancel_result(holds[i], False, why)
        return [r for r in results if r is not None]

    # -- search ----------------------------------------------------------------------

    async def search(self, query: str, *, limit: int = 20) -> list[SearchResult]:
        """Finna's public search API, limited to the consortium's building.

        For the registry's own site that is the API host it names
        (``https://api.finna.fi/v1/search``), asked by a client of its own with
        no cookies: the patron's session never leaves the library's host. A
        card with its own address (the demo library) searches that site's
        ``/api/v1/search``, which VuFind also routes; same parameters, same
        envelope.
        """
        limit = max(0, min(int(limit), 100))
        params: list[tuple[str, str]] = [("lookfor", query), ("type", "AllFields")]
        if self.consortium.building:
            params.append(("filter[]", f'building:"{self.consortium.building}"'))
        params += [("field[]", f) for f in SEARCH_FIELDS]
        params.append(("limit", str(limit)))
        if self.language:
            params.append(("lng", finna_language(self.language)))
        api = self.consortium.search_api
        if api and http.same_site(str(self.client.base_url), self.consortium.url):
            async with http.make_client(api) as anonymous:
                page = await http.request(anonymous, "GET", api, params=params)
        else:
            page = await http.request(self.client, "GET", SEARCH_URL, params=params)
        self.site.requests += 1 + len(page.history)
        try:
            data = json.loads(page.text)
        except ValueError:
            if page.status >= 400:
                raise LibcliError(f"the library's search answered HTTP {page.status}") from None
            raise PageNotUnderstood(pages.SEARCH_API, "a JSON answer") from None
        return pages.parse_search(data)

    # -- placing a hold ----------------------------------------------------------------

    async def _hold_form(self, record_id: str) -> tuple[http.Page, pages.HoldForm]:
        rec = quote(record_id, safe="")
        href = None
        for attempt in range(2):
            tab = await self._fetch("POST", f"Record/{rec}/AjaxTab", data={"tab": "holdings"})
            text = tab.text if tab.status < 400 else ""
            href = pages.find_hold_link(text) if text else None
            if href is not None:
                break
            if attempt == 0 and text and pages.needs_login_for_hold(text):
                await self.login()  # anonymous users get a login link, not the hold link
                continue
            rec_page = await self._fetch("GET", f"Record/{rec}")
            if rec_page.status == 404:
                raise UsageError(f"{self.consortium.name} has no record '{record_id}'")
            self._tree(rec_page, pages.RECORD_PAGE)
            href = pages.find_hold_link(rec_page.text)
            if href is not None:
                break
            blocked = pages.hold_link_blocked(text) or pages.hold_link_blocked(rec_page.text)
            if blocked:
                raise Refused(f"{self.consortium.name} will not take a hold: {blocked}")
            if attempt == 0 and pages.needs_login_for_hold(rec_page.text):
                await self.login()
                continue
            raise Refused(f"{self.consortium.name} offers no hold for record '{record_id}'")
        page = await self._fetch("GET", href)
        tree = self._tree(page, pages.HOLD_FORM_PAGE)
        if pages.is_login_page(tree):
            page = await self._login_with(tree, page)
            tree = self._tree(page, pages.HOLD_FORM_PAGE)
            if tree.css_first("form[name=placeHold]") is None:
                page = await self._fetch("GET", href)
                tree = self._tree(page, pages.HOLD_FORM_PAGE)
        if urlsplit(page.url).path.rstrip("/").endswith(f"/Record/{rec}") and page.history:
            raise Refused(f"{self.consortium.name} refused the hold request: "
                          + ("; ".join(pages.error_messages(tree)) or "the hold link was not valid"))
        form = pages.parse_hold_form(tree)
        if form.request_groups:
            await self._group_locations(record_id, form)
        return page, form

    async def _group_locations(self, record_id: str, form: pages.HoldForm) -> None:
        """Fill the form's pickup locations from its request groups, as
        themes/bootstrap3/js/hold.js does: GET /AJAX/JSON?method=
        getRequestGroupPickupLocations&id=…&requestGroupId=… for each group
        the form offers (the calls go out together), so that a pickup
        location can be chosen by name whatever its group; posting it sends
        its group. ``form.location_groups`` maps a location to its group."""
        groups = [gid for gid, _ in form.request_groups]

        async def one(gid: str) -> list[PickupLocation]:
            answer = await self._fetch("GET", "AJAX/JSON", params=[
                ("method", "getRequestGroupPickupLocations"), ("id", record_id),
                ("requestGroupId", gid)])
            try:
                data = json.loads(answer.text)
            except ValueError:
                data = None
            if answer.status >= 400 or data is None:
                raise PageNotUnderstood(pages.HOLD_FORM_PAGE, "the request group's pickup "
                                        f"locations (HTTP {answer.status})")
            return pages.parse_request_group_locations(data)

        found = await asyncio.gather(*(one(gid) for gid in groups))
        seen = {p.code for p in form.locations}
        for gid, locations in zip(groups, found):
            for loc in locations:
                if loc.code not in seen:
                    seen.add(loc.code)
                    form.locations.append(loc)
                    form.location_groups[loc.code] = gid

    async def pickup_locations(self, record_id: str) -> list[PickupLocation]:
        _, form = await self._hold_form(record_id)
        return form.locations

    async def place_hold(self, record_id: str, pickup: str | None, *,
                         accept_terms: bool = False) -> PlaceHoldResult:
        """Place a hold; the library's refusals come back as ``placed=False``.

        Where the form asks for accepted terms (record/hold.phtml l. 158-163)
        and ``accept_terms`` is not given, nothing is posted: TermsNotAccepted
        carries the terms for the patron to read (the library would answer
        must_accept_terms, Finna/Controller/RecordController.php l. 388-401).
        """
        try:
            page, form = await self._hold_form(record_id)
        except Refused as exc:
            return PlaceHoldResult(record_id, False, exc.message, None, self.card.name)
        if form.terms_field and not accept_terms:
            terms = form.terms or "(the library shows no text for them)"
            raise TermsNotAccepted(f"{self.consortium.name} places this hold only with its "
                                   f"terms accepted: {terms}", terms)
        chosen = choose_pickup(form.locations, pickup or self.card.pickup)
        data = list(form.fields)
        if chosen is not None and form.location_field:
            data = [(k, v) for k, v in data if k != form.location_field]
            data.append((form.location_field, chosen.code))
        group = form.location_groups.get(chosen.code) if chosen is not None else None
        if group and form.request_group_field:
            data = [(k, v) for k, v in data if k != form.request_group_field]
            data.append((form.request_group_field, group))
        if form.terms_field and accept_terms:
            data.append((form.terms_field, "on"))
        action = urljoin(page.url, form.action or page.url)
        name = chosen.name if chosen else None
        try:
            result = await self._fetch("POST", action, data=data)
        except Unreachable:
            # Unclear outcome: the holds list says whether the library took it.
            placed = any(h.record_id == record_id for h in await self.holds())
            return PlaceHoldResult(
                record_id, placed,
                "placed (the library's answer was lost; the hold is on the account)" if placed
                else "the library's answer was lost and the hold is not on the account; "
                "try again", name, self.card.name)
        tree = self._tree(result, pages.HOLD_FORM_PAGE)
        if pages.is_login_page(tree):
            await self._login_with(tree, result)
            holds = await self.holds()
            placed = any(h.record_id == record_id for h in holds)
            return PlaceHoldResult(record_id, placed, "placed" if placed else
                                   "the session expired before the library took the "
                                   "request; try again", name, self.card.name)
        flash = pages.flashes(tree)
        errors = [f.text for f in flash if f.level == "danger"]
        if result.history and not errors:
            ok = [f.text for f in flash if f.level == "success"]
            warn = [f.text for f in flash if f.level == "warning"]
            return PlaceHoldResult(record_id, True, "; ".join(ok + warn) or "placed", name,
                                   self.card.name)
        if not errors:
            errors = pages.parse_hold_form(tree).errors if tree.css_first(
                "form[name=placeHold]") is not None else []
        return PlaceHoldResult(record_id, False, "; ".join(errors) or
                               "the library did not confirm the hold", name, self.card.name)

    # -- fees and payment ------------------------------------------------------------------

    def _to_balance(self, fp: pages.FinesPage) -> Balance:
        currency = self.policy.currency
        items = tuple(
            Fee(amount=Money(i["cents"], currency), fee_type=i["type"], title=i["title"],
                description=i["description"], created=i["created"],
                payable_online=i["payable_online"])
            for i in fp.items)
        return Balance(
            card=self.card.name, items=items, total=Money(fp.total_cents, currency),
            online_payment_offered=fp.online_payment_offered,
            minimum_online=Money(fp.minimum_cents, currency) if fp.minimum_cents is not None else None,
            site_reason=fp.reason, payment_in_progress=fp.payment_in_progress,
            payment_registered=fp.payment_registered,
            email_on_file=False if fp.reason and pages.EMAIL_REQUIRED.search(fp.reason) else None,
        )

    async def fees(self) -> Balance:
        _, tree = await self._account(FINES_URL, pages.FINES_PAGE, pages.is_fines_page)
        return self._to_balance(pages.parse_fines(tree))

    async def start_payment(self, balance: Balance) -> PaymentStart:
        page, tree = await self._account(FINES_URL, pages.FINES_PAGE, pages.is_fines_page)
        fp = pages.parse_fines(tree)
        if fp.payment_in_progress:
            raise Refused(f"{self.consortium.name}: a payment is already in progress for card "
                          f"{self.card.name}; wait for it to finish (about 15 minutes) before "
                          "starting another")
        now = Money(fp.total_cents, self.policy.currency)
        if now != balance.total:
            raise Refused(f"{self.consortium.name}: the amount changed since it was shown "
                          f"(was {balance.total}, now {now}); check the fees again")
        if not fp.online_payment_offered:
            raise Refused(f"{self.consortium.name} does not offer online payment now"
                          + (f": {fp.reason}" if fp.reason else ""))
        action = urljoin(page.url, fp.pay_action or "/MyResearch/Fines")
        terms_page = await self._fetch("POST", action, data=fp.pay_fields)
        ttree = self._tree(terms_page, pages.PAYMENT_PAGE)
        if pages.is_login_page(ttree):
            await self._login_with(ttree, terms_page)
            raise Refused("the session expired before the payment started; nothing was charged; "
                          "run the payment again")
        if pages.is_fines_page(ttree) and ttree.css_first("form#paytrail-form") is None:
            errors = pages.error_messages(ttree)
            raise Refused(f"{self.consortium.name} did not start the payment"
                          + (f": {'; '.join(errors)}" if errors else ""))
        terms = pages.parse_payment_terms(ttree)
        if terms.amount_cents is None and (terms.amounts_shown or not terms.transaction):
            # Issue #18.2: several different amounts shown, or a page with no
            # amount that is not Finna's terms form either, is no answer.
            seen = ("shows no amount" if terms.amounts_shown == 0
                    else f"shows {terms.amounts_shown} different amounts")
            raise Refused(f"{self.consortium.name}: the payment page {seen}, so libcli "
                          "cannot confirm what would be charged; nothing was charged")
        # The real terms templates (Helpers/OnlinePayment/terms-*.phtml) show no
        # amount: the amount is the fines page's, which Finna stored for this
        # transaction when `pay` was posted (FinnaOnlinePaymentControllerTrait::
        # storeFines) and checks again at `pay-confirm` (online_payment_fines_changed);
        # it was compared with what the patron was shown just above.
        if terms.amount_cents is not None and terms.amount_cents != balance.total.cents:
            raise Refused(f"{self.consortium.name}: the amount changed since it was shown "
                          f"(was {balance.total}, the payment page says "
                          f"{Money(terms.amount_cents, self.policy.currency)}); nothing was "
                          "charged; check the fees again")
        confirm_url = urljoin(terms_page.url, terms.action or terms_page.url)
        answer = await self._fetch("POST", confirm_url, data=terms.fields, follow=False)
        location = answer.headers.get("location") if answer.status in (301, 302, 303, 307, 308) else None
        if not location:
            atree = pages.tree_of(answer.text)
            if pages.is_login_page(atree):
                await self._login_with(atree, answer)
                raise Refused("the session expired before the payment started; nothing was "
                              "charged; run the payment again")
            errors = pages.error_messages(atree)
            raise Refused(f"{self.consortium.name} did not start the payment"
                          + (f": {'; '.join(errors)}" if errors else ""))
        url = urljoin(confirm_url, location)
        if http.same_site(url, str(self.client.base_url)) and "/MyResearch/Fines" in urlsplit(url).path:
            back = await self._fetch("GET", url)
            errors = pages.error_messages(self._tree(back, pages.FINES_PAGE))
            raise Refused(f"{self.consortium.name} did not start the payment"
                          + (f": {'; '.join(errors)}" if errors else ""))
        check_payment_url(url)
        return PaymentStart(card=self.card.name, url=url, amount=now)


def finna_language(code: str) -> str:
    """fi / sv / en-gb / se as Finna names them ("en" and "en_GB" mean en-gb)."""
    lang = code.strip().lower().replace("_", "-")
    lang = {"en": "en-gb", "en-us": "en-gb", "fi-fi": "fi", "sv-fi": "sv", "sv-se": "sv"}.get(lang, lang)
    if lang not in LANGUAGES:
        raise UsageError(f"Finna speaks {', '.join(LANGUAGES)}; not '{code}'")
    return lang


