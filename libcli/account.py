"""Runs one operation over many cards concurrently.

For each card it builds the backend with the card's saved session (cookies
and backend state, 0600 in the cache dir), runs the operation, saves the
session again, and reports the card's result or its error. One card's
failure never hides the others' results.

This is the library API the CLI calls; it knows nothing of click.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generic, TypeVar

from libcli import storage
from libcli.errors import ExitCode, LibcliError, LoginRefused
from libcli.i18n import _

if TYPE_CHECKING:  # imported where used
    from libcli.model import Card, Hold, Loan
    from libcli.policy import Consortium


class _Log:
    """logging.getLogger("libcli.account"), imported on first use."""

    def __getattr__(self, name: str):
        import logging

        return getattr(logging.getLogger("libcli.account"), name)


log = _Log()
T = TypeVar("T")

# Told of each card before its operation starts (done False) and when it ends
# (done True): libcli.cli.progress shows a waiting line from it on a terminal.
# A context variable, so that the command's runner sets it for every Run.
card_progress: ContextVar[Callable[[Card, bool], None] | None] = ContextVar(
    "card_progress", default=None)
# How long a write waits for another process's write to the same account
# (a renewal of thirty loans over three pages takes a few seconds).
LOCK_WAIT_SECONDS = 30.0
SESSION_VERSION = 1


class CardResult(Generic[T]):
    """One card's outcome: its value or its error. A plain class: this module
    loads for shell completion too, which needs no model."""

    __slots__ = ("card", "value", "error", "requests")

    def __init__(self, card: Card, value: T | None = None, error: LibcliError | None = None,
                 requests: int = 0):
        self.card = card
        self.value = value
        self.error = error
        self.requests = requests

    def __repr__(self) -> str:
        return f"CardResult({self.card.name!r}, value={self.value!r}, error={self.error!r})"

    @property
    def ok(self) -> bool:
        return self.error is None


def exit_code_for(results: list[CardResult]) -> int:
    """The first failing card's exit code (cards in the order given), else 0."""
    for result in results:
        if result.error is not None:
            return int(result.error.exit_code)
    return int(ExitCode.OK)


# --- sessions ---------------------------------------------------


def base_url(card: Card, consortium: Consortium) -> str:
    return card.url or consortium.url


def session_path(card: Card, url: str) -> Path:
    # Keyed by library, number and address: a card pointed elsewhere never
    # reuses another site's cookies; renaming a card keeps its session.
    import hashlib

    key = hashlib.sha1(f"{card.library}\0{card.number}\0{url}".encode()).hexdigest()[:16]
    return storage.cache_dir() / "sessions" / f"{card.library}-{key}.json"


def load_session(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data = storage.read_cache(path)
    if not isinstance(data, dict) or data.get("version") != SESSION_VERSION:
        return [], {}
    cookies, state = data.get("cookies", []), data.get("state", {})
    if not _session_shape_ok(cookies, state):
        storage.warn(f"discarded the damaged cache file {path}")
        return [], {}
    from libcli.http import cookie_records

    return cookie_records(cookies), dict(state)


def _session_shape_ok(cookies: Any, state: Any) -> bool:
    """Valid JSON with the wrong inside (cookies not name/value strings, state
    not an object) is as damaged as bad JSON: the card logs in afresh."""
    return isinstance(state, dict) and isinstance(cookies, list) and all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("value"), str)
        and isinstance(c.get("domain") or "", str) and isinstance(c.get("path") or "/", str)
        for c in cookies)


def save_session(path: Path, cookies, state: dict[str, Any],
                 unchanged_from: dict[str, Any] | None = None) -> None:
    """Save cookies and state; not written again when equal to `unchanged_from`
    (what was loaded): a warm run that reused its session writes nothing."""
    from libcli.http import cookie_records

    # Capped as the client's jar caps them while receiving (and without the
    # expired): a session file never grows from run to run.
    jar = cookie_records(getattr(cookies, "jar", cookies))
    data = {"version": SESSION_VERSION, "cookies": jar, "state": state}
    if unchanged_from is not None and _same_json(data, unchanged_from):
        return
    storage.write_cache(path, data)  # a cache that cannot be written is a warning


def _same_json(a: Any, b: Any) -> bool:
    import json

    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _copy_json(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def forget_session(card: Card) -> None:
    from libcli.policy import get_consortium

    consortium = get_consortium(card.library)
    session_path(card, base_url(card, consortium)).unlink(missing_ok=True)


# --- running operations --------------------------------------------------------


class AccountService:
    """Opens every selected card's backend for one run and runs operations
    over them concurrently, on one shared connection pool.

        async with AccountService().open(cards) as run:
            loans = await run.gather(lambda b: b.loans())
            ...
            results = await run.gather(lambda b: b.renew(chosen[b.card.name]), cards=some)

    Sessions (cookies + backend state) are loaded before and saved after.
    """

    def __init__(self, *, today: date | None = None, language: str | None = None,
                 transport=None, pin_source: Callable[[Card], str] | None = None,
                 open_url: Callable[[str], Any] | None = None):
        self.today = today or date.today()
        self.language = language
        # The demo library (libcli.demo) hands in its in-process transport,
        # its public demo PINs and its simulated payment provider.
        self._transport = transport
        self._pin_source = pin_source
        self._open_url = open_url

    def open(self, cards: list[Card]) -> "Run":
        return Run(self, cards)

    def within(self, cards: list[Card], op: Callable[["Run"], Awaitable[T]]) -> T:
        """`op(run)` over the cards' open backends, to its end."""

        async def main():
            async with self.open(cards) as run:
                return await op(run)

        import asyncio

        return asyncio.run(main())

    def run(self, cards: list[Card], op: Callable[[Any], Awaitable[T]]) -> list[CardResult[T]]:
        """`op(backend)` over each card's backend at once."""
        return self.within(cards, lambda run: run.gather(op))

    # --- whole operations (libcli.operations): each returns a report ----------------

    def read_loans(self, cards: list[Card], *, with_debt: bool = False) -> list[CardResult]:
        from libcli import operations

        return self.within(cards, lambda run: operations.read_loans(run, self.today,
                                                                     with_debt=with_debt))

    def saved_loans(self, cards: list[Card]):
        from libcli import operations

        return operations.saved_loans(cards, self.today)

    def read_holds(self, cards: list[Card]) -> list[CardResult]:
        from libcli import operations

        return self.within(cards, lambda run: operations.read_holds(run, self.today))

    def read_accounts(self, cards: list[Card]):
        from libcli import operations

        return self.within(cards, lambda run: operations.read_accounts(run, self.today))

    def read_fees(self, cards: list[Card]):
        from libcli import operations

        return self.within(cards, lambda run: operations.read_fees(run, self.today))

    def renew(self, cards: list[Card], selection, *, dry_run: bool = False):
        from libcli import operations

        return self.within(cards, lambda run: operations.renew(run, self.today, selection,
                                                               dry_run=dry_run))

    def cancel_holds(self, cards: list[Card], ids, *, confirm=None):
        from libcli import operations

        return self.within(cards, lambda run: operations.cancel_holds(run, self.today, ids,
                                                                      confirm))

    def place_hold(self, card: Card, record: str, pickup: str | None, *,
                   accept_terms: bool = False, choose_pickup=None):
        from libcli import operations

        return self.within([card], lambda run: operations.place_hold(
            run, record, pickup, accept_terms=accept_terms, choose_pickup=choose_pickup))

    def pay(self, card: Card, expected, steps, *, resume: bool = False):
        from msgspec.structs import replace

        from libcli import operations

        if self._open_url is not None:  # the demo pays at its own provider
            steps = replace(steps, open_url=lambda url: self._open_url(url, card))
        return self.within([card], lambda run: operations.pay(run, expected, steps,
                                                              resume=resume))

    def check_logins(self, cards: list[Card]) -> list[CardResult[bool]]:
        """Log in with each card afresh: no saved session is reused, so a PIN
        that no longer works is found (``card add`` and ``card check``)."""

        async def fresh_login(backend) -> bool:
            backend.client.cookies.clear()
            backend.session.clear()
            await backend.relogin(None)
            return True

        return self.run(cards, fresh_login)

    def check_library(self, card: Card) -> dict[str, Any]:
        """What the card's library's pages show, checked against what libcli
        reads (``libcli library check``): a report, no account data."""
        from libcli import checkup

        async def check(run):
            if card.name in run.errors:
                raise run.errors[card.name]
            return await checkup.check(run.backends[card.name])

        return self.within([card], check)

    def _pin(self, card: Card) -> Callable[[], str]:
        if self._pin_source is not None:
            return lambda: self._pin_source(card)
        from libcli.cards import pin_for

        return lambda: pin_for(card)


class Run:
    def __init__(self, service: AccountService, cards: list[Card]):
        self.service = service
        self.cards = cards
        self.backends: dict[str, Any] = {}
        self.errors: dict[str, LibcliError] = {}
        self._clients: dict[str, Any] = {}
        self._paths: dict[str, Path] = {}
        self._loaded: dict[str, dict[str, Any]] = {}
        self._transports: list[Any] = []
        self._network = None  # one connection pool for every card of the run
        self._locks: dict[str, Any] = {}       # card name -> storage.WriteLock
        self._seen_writes: dict[str, int | None] = {}
        self._prefetch: set[str] = set()      # cards that will log in: PIN fetched off-loop
        self._pins: dict[str, str] = {}

    def _transport_for(self, card: Card):
        if self.service._transport is not None:
            return self.service._transport
        if self._network is None:
            from libcli.http import Pool

            self._network = Pool()  # httpx's transport; proxies from the environment
            self._transports.append(self._network)
        return self._network

    async def __aenter__(self) -> "Run":
        import time

        self._started = time.perf_counter()

        from libcli import http
        from libcli.backends.base import backend_class
        from libcli.policy import get_consortium

        # One deadline for every card's requests: the whole command's.
        deadline = time.monotonic() + http.COMMAND_DEADLINE

        # Temporary files a killed run left (a session's cookies among them).
        for kind in ("sessions", "snapshots"):
            storage.clean_stale_temp(storage.cache_dir() / kind)
        for card in self.cards:
            try:
                consortium = get_consortium(card.library)
                url = base_url(card, consortium)
                path = session_path(card, url)
                # The write count is noted before anything of the account is read.
                self._locks[card.name] = storage.WriteLock(path)
                self._seen_writes[card.name] = self._locks[card.name].peek()
                cookie_list, state = load_session(path)
                # No saved session at all (Primo VE keeps its token in the
                # state, not in cookies): this card will log in.
                if not cookie_list and not state and self.service._pin_source is None:
                    self._prefetch.add(card.name)
                self._loaded[card.name] = {"version": SESSION_VERSION, "cookies": cookie_list,
                                           "state": _copy_json(state)}
                client = http.make_client(url, transport=self._transport_for(card),
                                          cookies=http.cookie_jar(cookie_list), deadline=deadline)
                self.backends[card.name] = backend_class(consortium.backend)(
                    card, consortium, client=client, pin=self._pin_of(card),
                    session=state, today=self.service.today, language=self.service.language,
                )
                self._clients[card.name] = client
                self._paths[card.name] = path
            except LibcliError as exc:
                self.errors[card.name] = exc
        return self

    async def __aexit__(self, *exc_info) -> None:
        for name, client in self._clients.items():
            try:
                if isinstance(self.errors.get(name), LoginRefused):
                    self._paths[name].unlink(missing_ok=True)
                else:
                    save_session(self._paths[name], client.cookies, self.backends[name].session,
                                 unchanged_from=self._loaded.get(name))
            except OSError as exc:
                storage.warn(f"could not save the session of card {name}: {exc.strerror or exc}")
        # Clients share the transports; closing those releases every connection.
        for transport in self._transports:
            await transport.aclose()
        _write_stats(self)

    def requests(self) -> int:
        return sum(b.requests for b in self.backends.values())

    def _pin_of(self, card: Card) -> Callable[[], str]:
        source = self.service._pin(card)

        def pin() -> str:
            fetched = self._pins.pop(card.name, None)
            return fetched if fetched is not None else source()

        return pin

    async def _fetch_pin(self, card: Card) -> None:
        """A card without a session will log in: its PIN is fetched in a
        thread first (a slow PIN command or a hung keyring must not stop
        the other cards' requests). Backends ask for it synchronously."""
        if card.name in self._prefetch:
            from libcli.cards import pin_for_async

            self._prefetch.discard(card.name)
            self._pins[card.name] = await pin_for_async(card)

    def exclusive(self, card: Card):
        """Hold the card's account lock across processes for a write (renew,
        cancel, hold, pay); yields True when another process wrote to the
        account since this run read it: read again before acting."""
        import contextlib

        from libcli.errors import LibcliError

        @contextlib.asynccontextmanager
        async def hold():
            lock = self._locks.get(card.name)
            try:
                changed = await lock.acquire(self._seen_writes.get(card.name), LOCK_WAIT_SECONDS)
            except TimeoutError:
                raise LibcliError(_("another libcli is changing the account of card '{card}' "
                                    "(waited {seconds} s); nothing was done").format(
                    card=card.name, seconds=f"{LOCK_WAIT_SECONDS:g}"),
                                  hint=_("try again in a minute")) from None
            except LibcliError as exc:  # the lock file cannot be made: go on unlocked, re-read
                storage.warn(exc.message)
                yield True
                return
            try:
                yield changed
            finally:
                lock.release()
                self._seen_writes[card.name] = None  # our own write: read again next time

        return hold()

    async def gather(self, op: Callable[[Any], Awaitable[T]], cards: list[Card] | None = None
                     ) -> list[CardResult[T]]:
        """Run `op(backend)` for each card at once; errors are kept per card."""
        cards = self.cards if cards is None else cards

        async def one(card: Card) -> CardResult[T]:
            if card.name in self.errors:
                return CardResult(card, error=self.errors[card.name])
            backend = self.backends[card.name]
            before = backend.requests
            try:
                await self._fetch_pin(card)
                value = await op(backend)
            except LibcliError as exc:
                self.errors.setdefault(card.name, exc)
                log.debug("card %s: failed after %d requests: %s", card.name,
                          backend.requests - before, type(exc).__name__)
                return CardResult(card, error=exc, requests=backend.requests - before)
            except Exception as exc:  # a bug or a surprise in one card must not hide the others
                if os.environ.get("LIBCLI_RAISE_ERRORS"):
                    raise
                error = LibcliError(f"unexpected error: {type(exc).__name__}: {exc} "
                                    "(a bug in libcli; rerun with LIBCLI_RAISE_ERRORS=1 "
                                    "for the traceback)")
                self.errors.setdefault(card.name, error)
                return CardResult(card, error=error, requests=backend.requests - before)
            log.debug("card %s: done in %d requests", card.name, backend.requests - before)
            return CardResult(card, value=value, requests=backend.requests - before)

        import asyncio

        notify = card_progress.get()
        if notify is None:
            return list(await asyncio.gather(*(one(c) for c in cards)))

        async def told(card: Card) -> CardResult[T]:
            try:
                return await one(card)
            finally:
                notify(card, True)

        for card in cards:
            notify(card, False)
        return list(await asyncio.gather(*(told(c) for c in cards)))


def _write_stats(run: Run) -> None:
    """For benchmarks: with LIBCLI_STATS_FILE set, append one JSON line with
    the HTTP requests each card made in this run (no card data, no PINs)."""
    import os

    target = os.environ.get("LIBCLI_STATS_FILE")
    if not target:
        return
    import json
    import time

    line = {"requests": {name: b.requests for name, b in run.backends.items()},
            "total": run.requests(),
            "run_ms": round((time.perf_counter() - run._started) * 1000, 1)}
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except OSError as exc:
        log.warning("could not write the stats file: %s", exc)


def with_status(loans: list[Loan], consortium: Consortium, today: date,
                balance: Any = None) -> list[Loan]:
    """Fill in due status and estimated fee from policy where a backend left
    them, and take renewability away where the rules ban borrowing: from the
    loans' lateness always, from the debt when the fees were read too."""
    from msgspec import structs

    from libcli.policy import (
        borrowing_block, debt_from_earlier_year, due_status, estimated_late_fee,
    )

    blocked = borrowing_block(
        consortium.policy, debt=balance.total if balance is not None else None,
        days_late=[(today - loan.due_date).days for loan in loans],
        debt_from_earlier_year=debt_from_earlier_year(balance, today))
    out = []
    for loan in loans:
        status = due_status(consortium.policy, loan.due_date, today)
        fee = loan.estimated_fee
        if fee is None and status.value == "overdue":
            fee = estimated_late_fee(consortium.policy, loan.material, loan.due_date, today)
        changes: dict[str, Any] = {"status": status, "estimated_fee": fee}
        if blocked and loan.renewable:
            changes |= {"renewable": False, "not_renewable_reason": blocked}
        out.append(structs.replace(loan, **changes))
    return out


async def whole_account(backend) -> tuple[list[Loan], list[Hold], Any]:
    """Loans, holds and fees of one card, the three pages fetched at once."""
    import asyncio

    return tuple(await asyncio.gather(backend.loans(), backend.holds(), backend.fees()))
