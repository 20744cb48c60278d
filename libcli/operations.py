"""The account service's whole operations: read, renew, cancel, place, pay.

Each runs over an open :class:`libcli.account.Run` and returns a report;
nothing here prints or knows the command line. What needs a person (a
confirmation, a pickup place, a browser) comes in as a function, so the
same operation serves a terminal, a script and the demo library.

Every write follows one rule (:func:`_write_each`): one writer per account
across processes, and an account another process wrote to since it was read
is read again under the lock, so nothing is renewed, cancelled or paid twice.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import date
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generic, Iterable, TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from libcli.account import CardResult, with_status
from libcli.snapshot import save_snapshot, snapshot_loans
from libcli.errors import LibcliError, Refused, UsageError
from libcli.i18n import N_, _
from libcli.model import (Balance, CancelResult, Hold, HoldStatus, Loan, Money, PaymentStart,
                          PickupLocation, PlaceHoldResult, RenewResult)

if TYPE_CHECKING:
    from libcli.account import Run
    from libcli.model import Card
    from libcli.policy import BankTransfer
    from libcli.reminders import CardAccount

T = TypeVar("T")


class Report(Struct, Generic[T]):
    """An operation's outcome: one row per item asked about, and every card's
    read and write results (their errors, and the exit code, come from them)."""

    rows: list[T] = field(default_factory=list)
    results: list[CardResult] = field(default_factory=list)
    partial: bool = False  # some items were not done (exit 3)

    @property
    def failed(self) -> list[CardResult]:
        return [r for r in self.results if not r.ok]


# The messages of resolve_ids by kind ("loan", "hold"): whole sentences, as
# the kind's word changes form in Finnish and Swedish.
KINDS = {
    "loan": (N_("no loan with ID '{prefix}'"), N_("'{prefix}' matches several loans: {listed}")),
    "hold": (N_("no hold with ID '{prefix}'"), N_("'{prefix}' matches several holds: {listed}")),
}


def resolve_ids(items: list[Any], wanted: Iterable[str], kind: str,
                failed_cards: list[str]) -> list[Any]:
    """Match ID prefixes (as in git) against items; unknown or ambiguous is an error."""
    from libcli.text import clean

    chosen, problems = [], []
    for prefix in dict.fromkeys(w.strip().lower() for w in wanted):
        matches = [i for i in items if i.id.startswith(prefix)]
        if len(matches) == 1:
            if matches[0] not in chosen:
                chosen.append(matches[0])
        elif not matches:
            problems.append(_(KINDS[kind][0]).format(prefix=prefix))
        else:
            listed = ", ".join(f"{m.id} ({m.card}: {clean(m.title)[:30]})" for m in matches)
            problems.append(_(KINDS[kind][1]).format(prefix=prefix, listed=listed))
    if problems:
        hint = _("see the IDs with: libcli {kind}s").format(kind=kind)
        if failed_cards:
            hint += " " + _("(cards that could not be read: {cards})").format(
                cards=", ".join(failed_cards))
        raise UsageError(problems[0] if len(problems) == 1 else
                         _("{n} IDs not found").format(n=len(problems)),
                         problems=problems if len(problems) > 1 else None, hint=hint)
    return chosen


async def _write_each(run: Run, by_card: dict[str, list[T]],
                      act: Callable[[Any, list[T], bool], Awaitable[list[Any]]]) -> list[CardResult]:
    """`act(backend, items, changed)` for each card with items, under the
    card's account lock; `changed`: another process wrote to the account
    since this run read it, so `act` reads again before it posts."""

    async def one(backend):
        async with run.exclusive(backend.card) as changed:
            return await act(backend, by_card[backend.card.name], changed)

    return await run.gather(one, cards=[c for c in run.cards if c.name in by_card])


def _by_card(items: Iterable[T]) -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = {}
    for item in items:
        grouped.setdefault(item.card, []).append(item)
    return grouped


def _values(results: list[CardResult]) -> list[Any]:
    return [x for r in results if r.ok for x in r.value]


# --- reading --------------------------------------------------------------------


async def read_loans(run: Run, today: date, *, with_debt: bool = False) -> list[CardResult]:
    """Every card's loans with due status and fee estimates from policy; the
    snapshot is updated. ``with_debt``: where a library bans renewals on debt,
    its fees are read alongside (same round trip), so that a blocked borrower
    is not offered renewals the library will refuse."""

    async def fees_or_none(backend):
        try:
            return await backend.fees()
        except LibcliError:
            return None  # the loans still count; the library decides renewals

    async def read(backend):
        ban = backend.policy.borrowing_ban
        if with_debt and (ban.debt_over_cents is not None or ban.debt_at_least_cents is not None
                          or ban.old_debt_after_new_year):
            return await asyncio.gather(backend.loans(), fees_or_none(backend))
        return await backend.loans(), None

    results = await run.gather(read)
    for r in results:
        if r.ok:
            loans, balance = r.value
            r.value = with_status(loans, run.backends[r.card.name].consortium, today, balance)
            save_snapshot(r.card, loans=r.value, today=today)
    return results


class SavedLoans(Struct):
    """The loans the cards' snapshots hold (no network), the day each card's
    was saved, the cards without saved loans, and warnings for cards whose
    snapshot is damaged."""

    loans: list[Loan] = field(default_factory=list)
    fetched: dict[str, date] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def saved_loans(cards: list[Card], today: date) -> SavedLoans:
    from libcli.errors import ConfigError
    from libcli.policy import get_consortium
    from libcli.snapshot import fetched_on

    saved = SavedLoans()
    for card in cards:
        try:
            items = snapshot_loans(card)
        except ConfigError as exc:  # that card's problem; the others' loans still show
            saved.warnings.append(exc.message)
            continue
        if items is None:
            saved.missing.append(card.name)
            continue
        if (day := fetched_on(card.name)) is not None:
            saved.fetched[card.name] = day
        # A saved fee estimate is of the day it was read; the rules give today's.
        items = [replace(l, estimated_fee=None) for l in items]
        saved.loans += with_status(items, get_consortium(card.library), today)
    return saved


async def read_holds(run: Run, today: date) -> list[CardResult]:
    results = await run.gather(lambda b: b.holds())
    for r in results:
        if r.ok:
            save_snapshot(r.card, holds=r.value, today=today)
    return results


async def read_accounts(run: Run, today: date) -> tuple[list[CardResult], list[CardAccount]]:
    """Every card's loans, holds and fees, all cards and pages at once."""
    from libcli.account import whole_account
    from libcli.reminders import CardAccount

    results = await run.gather(whole_account)
    accounts = []
    for r in results:
        if r.ok:
            loans, holds, balance = r.value
            consortium = run.backends[r.card.name].consortium
            loans = with_status(loans, consortium, today, balance)
            save_snapshot(r.card, loans=loans, holds=holds, today=today)
            accounts.append(CardAccount(r.card.name, consortium, loans, holds, balance))
    return results, accounts


class FeesReport(Struct):
    """One card's fees, what the rules say of paying them, and the warnings
    on the right to borrow."""

    card: Card
    balance: Balance
    payable_online: bool
    reason: str | None
    reason_text: str | None
    minimum: Money | None
    warnings: list[str]
    bank_transfer: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card.name,
            "library": self.card.library,
            "total_cents": self.balance.total.cents,
            "currency": self.balance.total.currency,
            "payable_online": self.payable_online,
            "reason": self.reason,
            "reason_text": self.reason_text,
            "minimum_online_cents": self.minimum.cents if self.minimum else None,
            "payment_in_progress": self.balance.payment_in_progress,
            "warnings": self.warnings,
            "items": [f.to_dict() for f in self.balance.items],
        }


async def read_fees(run: Run, today: date) -> Report[FeesReport]:
    """Each card's fees; its loans too where the rules ban borrowing on
    lateness (both pages at once; the backend shares one login)."""
    from libcli.payment import verdict
    from libcli.policy import borrowing_warnings, debt_from_earlier_year

    async def read(backend):
        if backend.policy.borrowing_ban.overdue_days is None:
            return await backend.fees(), []
        return tuple(await asyncio.gather(backend.fees(), backend.loans()))

    results = await run.gather(read)
    rows = []
    for r in results:
        if r.ok:
            balance, loans = r.value
            consortium = run.backends[r.card.name].consortium
            v = verdict(consortium, balance)
            warnings = borrowing_warnings(
                consortium.policy, balance.total, today,
                days_late=[(today - l.due_date).days for l in loans],
                debt_from_earlier_year=debt_from_earlier_year(balance, today))
            rows.append(FeesReport(r.card, balance, v.payable, v.reason, v.message, v.minimum,
                                   warnings, consortium.policy.bank_transfer is not None))
    return Report(rows, results)


# --- renewing -------------------------------------------------------------------


class Selection(Struct, frozen=True):
    """Which loans to renew: by ID prefixes, all, or those due within N days."""

    ids: tuple[str, ...] = ()
    all: bool = False
    due_within: int | None = None

    def check(self) -> None:
        if sum(bool(x) for x in (self.ids, self.all, self.due_within is not None)) != 1:
            raise UsageError(_("say what to renew: loan IDs, --all, or --due-within DAYS (just one)"))

    def choose(self, loans: list[Loan], today: date, failed_cards: list[str]) -> list[Loan]:
        if self.ids:
            chosen = resolve_ids(loans, self.ids, "loan", failed_cards)
        elif self.all:
            chosen = list(loans)
        else:
            chosen = [l for l in loans if (l.due_date - today).days <= self.due_within]
        return sorted(chosen, key=lambda l: (l.due_date, l.card))


class RenewPlan(Struct, frozen=True):
    """What a dry run would do with one loan, and why not (None: it would)."""

    loan: Loan
    would_renew: bool
    reason: str | None


ALREADY = N_("already renewed (by another libcli run at the same moment)")
CANNOT = N_("cannot be renewed")
NOT_ATTEMPTED = N_("not attempted: the card's library failed (see above)")


async def renew(run: Run, today: date, selection: Selection, *,
                dry_run: bool = False) -> Report[RenewResult] | Report[RenewPlan]:
    """Renew the selected loans the library lets the patron renew; one row per
    selected loan (renewed with its new due date, or why not). A dry run posts
    nothing and says what it would do."""
    selection.check()
    fetched = await read_loans(run, today, with_debt=True)
    loans = _values(fetched)
    chosen = selection.choose(loans, today, [r.card.name for r in fetched if not r.ok])
    if dry_run:
        return Report([RenewPlan(l, l.renewable, None if l.renewable else _not_renewable(l))
                       for l in chosen], fetched)
    skipped: set[str] = set()  # renewed meanwhile, no longer due within the window
    fresh: dict[str, list[Loan]] = {}

    async def post(backend, mine: list[Loan], changed: bool) -> list[RenewResult]:
        already: list[RenewResult] = []
        if changed:
            now = with_status(await backend.loans(), backend.consortium, today)
            fresh[backend.card.name] = now
            mine, already = recheck(mine, now, today, selection.due_within, skipped)
        return (await backend.renew(mine) if mine else []) + already

    posted = await _write_each(run, _by_card(l for l in chosen if l.renewable), post)
    for r in posted:
        if r.ok:
            base = fresh.get(r.card.name) or [l for l in loans if l.card == r.card.name]
            save_snapshot(r.card, loans=after_renewal(base, r.value), today=today)
    done = {res.loan_id: replace(res, card=r.card.name) for r in posted if r.ok for res in r.value}
    failed = {r.card.name for r in fetched + posted if not r.ok}
    rows = [done.get(l.id) or _not_renewed(l, failed) for l in chosen if l.id not in skipped]
    return Report(rows, fetched + posted,
                  partial=any(not x.renewed and x.message != _(ALREADY) for x in rows))


def after_renewal(loans: list[Loan], results: list[RenewResult]) -> list[Loan]:
    """The loans as the library now has them, without reading them again:
    each renewed loan has its new due date and one renewal more."""
    renewed = {x.loan_id: x for x in results if x.renewed}
    return [replace(l, due_date=renewed[l.id].new_due_date or l.due_date,
                    renewals_used=None if l.renewals_used is None else l.renewals_used + 1)
            if l.id in renewed else l for l in loans]


def _not_renewable(loan: Loan) -> str:
    return loan.not_renewable_reason or _(CANNOT)


def _not_renewed(loan: Loan, failed_cards: set[str]) -> RenewResult:
    if not loan.renewable:
        message = _not_renewable(loan)
    elif loan.card in failed_cards:
        message = _(NOT_ATTEMPTED)
    else:
        message = _("the library did not report a result")
    return RenewResult(loan.id, loan.title, False, None, message, card=loan.card)


def recheck(chosen: list[Loan], now: list[Loan], today: date, due_within: int | None,
            skipped: set[str]) -> tuple[list[Loan], list[RenewResult]]:
    """The chosen loans against the account read again under the lock: a loan
    whose due date or renewal count moved was renewed meanwhile (with
    --due-within: skipped when no longer due within it; by ID: reported as
    already renewed, not renewed a second time). Returns (to renew, results)."""
    current = {l.id: l for l in now}
    todo, done = [], []
    for loan in chosen:
        cur = current.get(loan.id)
        if cur is None:
            done.append(RenewResult(loan.id, loan.title, False, None,
                                    _("no longer on the account"), card=loan.card))
        elif cur.due_date != loan.due_date or cur.renewals_used != loan.renewals_used:
            if due_within is not None and (cur.due_date - today).days > due_within:
                skipped.add(loan.id)
            else:
                done.append(RenewResult(loan.id, loan.title, False, cur.due_date, _(ALREADY),
                                        card=loan.card))
        elif cur.renewable:
            todo.append(cur)
        else:
            done.append(RenewResult(loan.id, loan.title, False, None, _not_renewable(cur),
                                    card=loan.card))
    return todo, done


# --- holds ----------------------------------------------------------------------


def _not_cancellable(hold: Hold) -> str:
    if hold.status is HoldStatus.READY:
        return _("already waiting at the library: it cannot be cancelled online; "
                 "contact the pickup library")
    return _("the library does not allow cancelling this hold online")


async def cancel_holds(run: Run, today: date, ids: Iterable[str],
                       confirm: Callable[[list[Hold]], bool] | None = None) -> Report[CancelResult]:
    """Cancel the holds with these ID prefixes; `confirm(holds)` is asked
    once, before anything is posted (False: nothing is done, no rows)."""
    fetched = await read_holds(run, today)
    chosen = resolve_ids(_values(fetched), ids, "hold", [r.card.name for r in fetched if not r.ok])
    going = [h for h in chosen if h.cancellable]
    if going and confirm is not None and not confirm(going):
        return Report([], fetched)

    async def post(backend, mine: list[Hold], changed: bool) -> list[CancelResult]:
        gone: list[CancelResult] = []
        if changed:  # holds another process cancelled meanwhile are not posted again
            now = {h.id for h in await backend.holds()}
            gone = [CancelResult(h.id, h.title, True, _("already cancelled"))
                    for h in mine if h.id not in now]
            mine = [h for h in mine if h.id in now]
        return (await backend.cancel_holds(mine) if mine else []) + gone

    posted = await _write_each(run, _by_card(going), post)
    done = {res.hold_id: res for r in posted if r.ok for res in r.value}
    rows = [replace(done.get(h.id) or CancelResult(
        h.id, h.title, False, _(NOT_ATTEMPTED) if h.cancellable else _not_cancellable(h)),
        card=h.card) for h in chosen]
    return Report(rows, fetched + posted, partial=any(not r.cancelled for r in rows))


async def place_hold(run: Run, record: str, pickup: str | None, *, accept_terms: bool = False,
                     choose_pickup: Callable[[list[PickupLocation]], str] | None = None
                     ) -> CardResult[PlaceHoldResult]:
    """Place a hold with the run's one card. Without a pickup place: the only
    one the library offers, else `choose_pickup(locations)` decides."""
    [card] = run.cards
    if pickup is None:
        [offered] = await run.gather(lambda b: b.pickup_locations(record))
        if not offered.ok:
            return offered
        locations = offered.value
        if len(locations) == 1 or choose_pickup is None:
            pickup = locations[0].code if len(locations) == 1 else None
        else:
            pickup = choose_pickup(locations)

    async def place(backend, _records, _changed):
        return [await backend.place_hold(record, pickup, accept_terms=accept_terms)]

    [result] = await _write_each(run, {card.name: [record]}, place)
    if result.ok:
        result.value = replace(result.value[0], card=card.name)
        if result.value.placed:
            result.value = await _as_listed(run.backends[card.name], record, result.value)
    return result


async def _as_listed(backend, record: str, placed: PlaceHoldResult) -> PlaceHoldResult:
    """The new hold's ID and title, from the account's hold list (read once
    more: the hold pages do not say which hold a placement made)."""
    try:
        holds = await backend.holds()
    except LibcliError:
        return placed  # the hold stands; `libcli holds` shows its ID
    save_snapshot(backend.card, holds=holds, today=backend.today)
    bare = record.rsplit(".", 1)[-1].lstrip("b")
    new = next((h for h in holds if h.record_id in (record, bare)
                or (h.record_id or "").rsplit(".", 1)[-1].lstrip("b") == bare), None)
    return replace(placed, hold_id=new.id, title=new.title) if new else placed


# --- paying ---------------------------------------------------------------------


class Payment(Struct):
    """What `pay` did: a bank transfer's details, or a payment the library
    started (its address) and whether the account shows it registered."""

    card: Card
    online: bool
    amount: Money | None = None
    bank_transfer: BankTransfer | None = None
    started: PaymentStart | None = None
    url: str | None = None
    confirmed: bool = True
    registered: bool | None = None  # None: not waited for
    error: LibcliError | None = None  # reading the balance for a bank transfer failed


class PaymentSteps(Struct):
    """The parts of a payment that need the person: each a function."""

    confirm: Callable[[Money], bool] | None = None  # None: confirmed (--yes)
    show: Callable[[PaymentStart, str], None] | None = None  # the address, as soon as known
    open_url: Callable[[str], Any] | None = None  # a browser (may be async); None: print only
    wait_seconds: float | None = None  # None: do not wait for the registration
    tick: Callable[[int], None] | None = None  # each poll while waiting
    poll_seconds: float = 3.0


async def pay(run: Run, expected: Money | None, steps: PaymentSteps, *,
              resume: bool = False) -> Payment:
    """Pay the run's one card's whole balance online, or give the bank-transfer
    details where the library takes no online payments.

    The amount confirmed is the one paid: the balance is read, compared with
    `expected` and the rules, confirmed, read again under the account lock if
    another libcli wrote meanwhile, and the started payment's amount and
    address are checked before anything opens. An open payment this libcli
    started is remembered (address and expiry) so it can be resumed."""
    from libcli import payment as rules

    [card] = run.cards
    [backend] = run.backends.values() if run.backends else [None]
    if backend is None:
        raise run.errors[card.name]
    consortium = backend.consortium
    if consortium.policy.online_payment is None:
        return await _bank_transfer(run, card, consortium)

    balance = await backend.fees()
    pending = rules.pending_payment(card)
    if resume:
        if pending is None:
            raise Refused(_("no payment started by libcli is open for card '{card}'").format(
                card=card.name), hint=_("start one with: libcli pay --card {card}").format(
                card=card.name))
        if rules.registered(pending.amount, balance):
            rules.forget_payment(card)
            return Payment(card, True, pending.amount, url=pending.url, registered=True)
        started = PaymentStart(card.name, pending.url, pending.amount)
        return await _open_and_wait(backend, card, started, pending.url, steps)
    if balance.payment_in_progress:
        raise rules.payment_open_error(card, pending)
    if pending is not None:
        rules.forget_payment(card)  # the library no longer shows it open
    expected_money = Money(expected.cents, balance.total.currency) if expected else None
    rules.ensure_payable(consortium, balance, expected_money)
    if steps.confirm is not None and not steps.confirm(balance.total):
        return Payment(card, True, balance.total, confirmed=False)

    async with run.exclusive(card) as changed:  # one writer per account
        if changed:  # another libcli wrote meanwhile: the balance is read again
            rules.ensure_payable(consortium, await backend.fees(), balance.total)
        # start_payment re-reads the fines and terms pages and refuses, before
        # the payment is confirmed at the library, if the amount differs.
        started = await backend.start_payment(balance)
    if started.amount != balance.total:
        raise Refused(_("the library started a payment of {started}, not the {confirmed} "
                        "confirmed; do not pay it").format(started=started.amount,
                                                          confirmed=balance.total),
                      hint=_("check with: libcli fees --card {card}").format(card=card.name))
    url = rules.check_payment_url(started.url, backend_url=str(backend.client.base_url),
                                  consortium=consortium)
    rules.remember_payment(card, url, started.amount, backend.payment_open_minutes)
    return await _open_and_wait(backend, card, started, url, steps)


async def _open_and_wait(backend, card: Card, started: PaymentStart, url: str,
                         steps: PaymentSteps) -> Payment:
    from libcli.payment import forget_payment, registered

    if steps.show is not None:
        steps.show(started, url)
    if steps.open_url is not None:
        opened = steps.open_url(url)
        if inspect.isawaitable(opened):
            await opened
    outcome = Payment(card, True, started.amount, started=started, url=url)
    if steps.wait_seconds is None:
        return outcome
    loop = asyncio.get_running_loop()
    deadline = loop.time() + steps.wait_seconds
    polls = 0
    try:
        while loop.time() < deadline:
            if registered(started.amount, await backend.fees()):
                forget_payment(card)
                outcome.registered = True
                return outcome
            if steps.tick is not None:
                steps.tick(polls)
            polls += 1
            await asyncio.sleep(steps.poll_seconds)
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass  # stopping the wait stops nothing at the library: the payment can be resumed
    outcome.registered = False
    return outcome


async def _bank_transfer(run: Run, card: Card, consortium) -> Payment:
    [result] = await run.gather(lambda b: b.fees())
    transfer = consortium.policy.bank_transfer
    if transfer is None:
        raise Refused(_("{library} takes no online payments; pay at the library").format(
            library=consortium.name))
    return Payment(card, False, result.value.total if result.ok else None,
                   bank_transfer=transfer, error=result.error)

