"""The demo library's circulation model: patrons, titles, items, loans, holds,
fees and payments, with the consortium's rules applied. No web code.

Every rule reads the view's numbers from the registry as data
(``rules.sites()[view].rules``, the demo's own reading of consortia.toml);
nothing here repeats a number from the seeds, and nothing calls the client's
policy code (libcli.policy): the demo library decides as a library would.
Where the rules are silent the sandbox makes a documented assumption:

* ``DEFAULT_PICKUP_DAYS`` (7): how long a ready hold waits when the rules
  state no holding time (only Tallinn states one, 2 days).
* ``PAYMENT_MAX_MINUTES`` (15): an open online payment counts as "in
  progress" this long (Finna's sample ``transactionMaxDuration``).
* Late fees are *charged* (become a fee row) when an overdue loan is renewed
  or returned, which is what TUNI states and what Sierra/Koha do; until then
  ``accrued_fee(loan)`` gives the running amount
  (``Rules.late_fee_cents``; nothing where the rules state no rate).
* A hold expires one year after it was placed.

Each refusal is a machine-readable reason code (the Finna/VuFind translation
keys where one exists, e.g. ``renew_item_requested``); faces translate them.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from libcli.model import DueStatus, FeeType, HoldStatus, Material

from .rules import Rules, sites

DEFAULT_PICKUP_DAYS = 7
PAYMENT_MAX_MINUTES = 15
HOLD_VALID_DAYS = 365

# Reason codes. Renewal:
RENEW_NO = "renew_item_no"  # material is never renewable (limit 0)
RENEW_LIMIT = "renew_item_limit"
RENEW_REQUESTED = "renew_item_requested"
RENEW_DEBT = "renew_debt"  # borrowing right lost because of debt
RENEW_DENIED = "renew_denied"  # borrowing right lost because of a long-overdue loan
RENEW_NOT_FOUND = "renew_item_not_found"
# Holds:
HOLD_NOT_FOUND = "hold_error_fail"
HOLD_NOT_RESERVABLE = "hold_error_not_reservable"
HOLD_LIMIT = "hold_error_limit"
HOLD_DUPLICATE = "hold_error_already_held"
HOLD_ON_LOAN = "hold_error_already_on_loan"
HOLD_BLOCKED = "hold_error_blocked"
HOLD_INVALID_PICKUP = "hold_invalid_pickup"
HOLD_NOT_ONLINE = "hold_error_not_online"
CANCEL_NOT_CANCELLABLE = "hold_cancel_not_cancellable"
CANCEL_NOT_FOUND = "hold_cancel_not_found"
# Payment:
PAY_NOT_SUPPORTED = "online_payment_not_supported"
PAY_MINIMUM = "online_payment_minimum_fee"
PAY_NONPAYABLE = "online_payment_fines_contain_nonpayable_fees"
PAY_EMAIL = "online_payment_email_address_required"
PAY_IN_PROGRESS = "online_payment_in_progress"
PAY_CHANGED = "online_payment_fines_changed"


class Clock:
    """The library's idea of today. Real date unless a test sets it.

    A set clock stands at noon of the given day, so advancing by hours or
    minutes (payment timeouts) stays on that day until it passes midnight.
    """

    def __init__(self, today: date | None = None):
        self._fixed = datetime.combine(today, time(12, 0)) if today else None
        self._offset = timedelta()

    def now(self) -> datetime:
        return (self._fixed or datetime.now()) + self._offset

    def today(self) -> date:
        return self.now().date()

    def set(self, day: date) -> None:
        self._fixed = datetime.combine(day, time(12, 0))
        self._offset = timedelta()

    def advance(self, days: int = 0, **kwargs: float) -> None:
        self._offset += timedelta(days=days, **kwargs)


@dataclass
class Patron:
    card: str
    pin: str
    name: str
    email: str | None = None
    language: str = "fi"
    patron_id: str = ""  # the system's own record number (WebPAC shows it in URLs)
    home_location: str | None = None  # default pickup location code
    login: bool = True  # False for background patrons who only queue for holds


@dataclass
class Title:
    record_id: str
    title: str
    author: str = ""
    year: int | None = None
    format: str = "Book"  # the Finna format facet value, e.g. Book, Sound, Video, Journal
    material: Material = Material.BOOK
    language: str = "fin"
    subjects: list[str] = field(default_factory=list)
    isbn: str | None = None


@dataclass
class Item:
    item_id: str
    record_id: str
    barcode: str
    call_number: str
    material: Material
    location: str  # branch code where it is shelved


@dataclass
class Loan:
    loan_id: str  # checkout id
    item_id: str
    card: str
    checkout_date: date
    due_date: date
    renewals: int = 0


@dataclass
class Hold:
    hold_id: str
    record_id: str
    card: str
    pickup: str
    created: date
    expires: date
    status: HoldStatus = HoldStatus.WAITING
    ready_date: date | None = None
    item_id: str | None = None
    pickup_number: str | None = None


@dataclass
class Fee:
    fee_id: str
    card: str
    fee_type: FeeType
    amount_cents: int
    created: date
    record_id: str | None = None
    title: str | None = None
    description: str = ""
    payable_online: bool = True
    paid: bool = False
    checkout_date: date | None = None
    due_date: date | None = None


@dataclass
class Payment:
    payment_id: str
    card: str
    amount_cents: int
    fee_ids: list[str]
    started: datetime
    status: str = "open"  # open | registered | cancelled | failed


@dataclass(frozen=True)
class PickupLocation:
    code: str
    name: str


@dataclass(frozen=True)
class RenewOutcome:
    loan_id: str
    item_id: str
    ok: bool
    reason: str | None = None
    new_due: date | None = None
    charged_cents: int = 0  # late fee charged by this renewal


@dataclass(frozen=True)
class HoldOutcome:
    ok: bool
    reason: str | None = None
    hold: Hold | None = None


@dataclass(frozen=True)
class CancelOutcome:
    hold_id: str
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class PaymentOutcome:
    ok: bool
    reason: str | None = None
    payment: Payment | None = None


class Library:
    """One view's circulation state and rules."""

    def __init__(
        self,
        view: str,
        *,
        clock: Clock | None = None,
        rules: Rules | None = None,
        pickup_locations: Iterable[PickupLocation] = (),
    ):
        self.view = view
        self.rules = rules or sites()[view].rules
        self.clock = clock or Clock()
        self.pickup_locations: list[PickupLocation] = list(pickup_locations)
        self.patrons: dict[str, Patron] = {}
        self.titles: dict[str, Title] = {}
        self.items: dict[str, Item] = {}
        self.loans: dict[str, Loan] = {}
        self.holds: dict[str, Hold] = {}
        self.fees: dict[str, Fee] = {}
        self.payments: dict[str, Payment] = {}
        self._ids = itertools.count(1)
        self.revision = 0  # bumped by every state change; the store saves on change
        self.saved_on: date | None = None  # the library's today when it was last saved

    # --- ids and building ------------------------------------------------

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def changed(self) -> None:
        self.revision += 1

    def add_patron(self, patron: Patron) -> Patron:
        self.patrons[patron.card] = patron
        return patron

    def add_title(self, title: Title) -> Title:
        self.titles[title.record_id] = title
        return title

    def add_item(self, item: Item) -> Item:
        self.items[item.item_id] = item
        return item

    def add_loan(self, card: str, item_id: str, *, checkout: date, due: date,
                 renewals: int = 0, loan_id: str | None = None) -> Loan:
        loan = Loan(loan_id or self.new_id(), item_id, card, checkout, due, renewals)
        self.loans[loan.loan_id] = loan
        return loan

    def add_hold(self, card: str, record_id: str, pickup: str, *, created: date,
                 status: HoldStatus = HoldStatus.WAITING, ready_date: date | None = None,
                 hold_id: str | None = None, item_id: str | None = None) -> Hold:
        hold = Hold(hold_id or self.new_id(), record_id, card, pickup, created,
                    created + timedelta(days=HOLD_VALID_DAYS), status, ready_date, item_id)
        if status is HoldStatus.READY:
            hold.pickup_number = f"{int(hold.hold_id) % 97 + 1}" if hold.hold_id.isdigit() else "1"
        self.holds[hold.hold_id] = hold
        return hold

    def add_fee(self, card: str, fee_type: FeeType, amount_cents: int, *, created: date,
                record_id: str | None = None, description: str = "",
                payable_online: bool = True, fee_id: str | None = None,
                checkout_date: date | None = None, due_date: date | None = None) -> Fee:
        if not isinstance(amount_cents, int):
            raise TypeError("fees are integer cents")
        title = self.titles[record_id].title if record_id in self.titles else None
        fee = Fee(fee_id or self.new_id(), card, fee_type, amount_cents, created, record_id,
                  title, description, payable_online, checkout_date=checkout_date,
                  due_date=due_date)
        self.fees[fee.fee_id] = fee
        return fee

    # --- reading ---------------------------------------------------------

    def authenticate(self, card: str, pin: str) -> Patron | None:
        patron = self.patrons.get(card.replace(" ", ""))
        if patron is None or not patron.login or patron.pin != pin:
            return None
        return patron

    def today(self) -> date:
        return self.clock.today()

    def pickup_location(self, code: str) -> PickupLocation | None:
        return next((p for p in self.pickup_locations if p.code == code), None)

    def pickup_days(self) -> int:
        return self.rules.pickup_days or DEFAULT_PICKUP_DAYS

    def item_of(self, loan: Loan) -> Item:
        return self.items[loan.item_id]

    def title_of(self, obj: Loan | Hold | Item | Fee) -> Title | None:
        record_id = obj.record_id if not isinstance(obj, Loan) else self.items[obj.item_id].record_id
        return self.titles.get(record_id) if record_id else None

    def loans_of(self, card: str) -> list[Loan]:
        return sorted((l for l in self.loans.values() if l.card == card),
                      key=lambda l: (l.due_date, l.loan_id))

    def holds_of(self, card: str) -> list[Hold]:
        """Available holds first (VuFind's default ``available`` sort), then by creation."""
        order = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2}
        return sorted((h for h in self.holds.values() if h.card == card),
                      key=lambda h: (order[h.status], h.created, _num(h.hold_id)))

    def fees_of(self, card: str) -> list[Fee]:
        return sorted((f for f in self.fees.values() if f.card == card and not f.paid),
                      key=lambda f: (f.created, _num(f.fee_id)))

    def balance_cents(self, card: str) -> int:
        return sum(f.amount_cents for f in self.fees_of(card))

    def due_status(self, loan: Loan) -> DueStatus:
        days = (loan.due_date - self.today()).days
        if days < 0:
            return DueStatus.OVERDUE
        return DueStatus.DUE_SOON if days <= self.rules.notice_days() else DueStatus.OK

    def accrued_fee(self, loan: Loan) -> int:
        """The late fee run up so far on a loan, in cents (0 when not late or exempt)."""
        return self.rules.late_fee_cents(self.item_of(loan).material, self.days_late(loan))

    def days_late(self, loan: Loan) -> int:
        return max(0, (self.today() - loan.due_date).days)

    def renewal_limit(self, loan: Loan) -> int | None:
        return self.rules.renewals_allowed(self.item_of(loan).material)

    def loan_period(self, material: Material) -> int:
        days = self.rules.loan_days(material)
        if days is None:
            raise ValueError(f"{self.view}: no loan period for {material}")
        return days

    # --- holds queue -----------------------------------------------------

    def queue(self, record_id: str) -> list[Hold]:
        """All holds on a title in queue order: those already served first, then oldest."""
        order = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2}
        return sorted((h for h in self.holds.values() if h.record_id == record_id),
                      key=lambda h: (order[h.status], h.created, _num(h.hold_id)))

    def queue_position(self, hold: Hold) -> int:
        return self.queue(hold.record_id).index(hold) + 1

    def queue_length(self, hold: Hold) -> int:
        return len(self.queue(hold.record_id))

    def pickup_by(self, hold: Hold) -> date | None:
        if hold.status is not HoldStatus.READY or hold.ready_date is None:
            return None
        return hold.ready_date + timedelta(days=self.pickup_days())

    def reserved_by_others(self, loan: Loan) -> bool:
        record_id = self.item_of(loan).record_id
        return any(h.card != loan.card and h.status is HoldStatus.WAITING
                   for h in self.holds.values() if h.record_id == record_id)

    def hold_cancellable(self, hold: Hold) -> bool:
        """Only holds not yet served: ready or in-transit holds are cancelled at the desk."""
        return hold.status is HoldStatus.WAITING

    # --- rules: borrowing right ------------------------------------------

    def borrowing_block(self, card: str) -> str | None:
        """Why the patron has lost the right to borrow and renew, or None."""
        ban = self.rules.ban
        debt = self.balance_cents(card)
        if ban.get("debt_over_cents") is not None and debt > ban["debt_over_cents"]:
            return RENEW_DEBT
        if ban.get("debt_at_least_cents") is not None and debt >= ban["debt_at_least_cents"]:
            return RENEW_DEBT
        if ban.get("overdue_days") is not None and any(
            self.days_late(l) > ban["overdue_days"] for l in self.loans_of(card)
        ):
            return RENEW_DENIED
        return None

    # --- rules: renewal --------------------------------------------------

    def renew_check(self, card: str, loan_id: str) -> str | None:
        """The reason a loan cannot be renewed now, or None if it can."""
        loan = self.loans.get(loan_id)
        if loan is None or loan.card != card:
            return RENEW_NOT_FOUND
        limit = self.renewal_limit(loan)
        if limit == 0:
            return RENEW_NO
        block = self.borrowing_block(card)
        if block:
            return block
        if self.reserved_by_others(loan):
            return RENEW_REQUESTED
        if limit is not None and loan.renewals >= limit:
            return RENEW_LIMIT
        return None

    def renew(self, card: str, loan_ids: Iterable[str]) -> list[RenewOutcome]:
        """Renew each loan that the rules allow; the new due date counts from today."""
        results = []
        for loan_id in loan_ids:
            reason = self.renew_check(card, loan_id)
            loan = self.loans.get(loan_id)
            if reason:
                item_id = loan.item_id if loan else ""
                results.append(RenewOutcome(loan_id, item_id, False, reason))
                continue
            charged = self._charge_late_fee(loan)
            today = self.today()
            loan.due_date = today + timedelta(days=self.loan_period(self.item_of(loan).material))
            loan.renewals += 1
            results.append(RenewOutcome(loan_id, loan.item_id, True, None, loan.due_date, charged))
        if any(r.ok for r in results):
            self.changed()
        return results

    def return_item(self, loan_id: str) -> int:
        """Check a loan in; returns the late fee charged in cents."""
        loan = self.loans.pop(loan_id)
        charged = self._charge_late_fee(loan)
        self.changed()
        return charged

    def _charge_late_fee(self, loan: Loan) -> int:
        cents = self.accrued_fee(loan)
        if cents > 0:
            item = self.item_of(loan)
            self.add_fee(loan.card, FeeType.OVERDUE, cents, created=self.today(),
                         record_id=item.record_id, description="Overdue",
                         checkout_date=loan.checkout_date, due_date=loan.due_date)
        return cents

    def checkout(self, card: str, item_id: str) -> Loan:
        """Lend an item now (used by seeding and tests), with the material's loan period."""
        item = self.items[item_id]
        today = self.today()
        loan = self.add_loan(card, item_id, checkout=today,
                             due=today + timedelta(days=self.loan_period(item.material)))
        self.changed()
        return loan

    # --- rules: holds ----------------------------------------------------

    def hold_check(self, card: str, record_id: str, pickup: str | None = None) -> str | None:
        if not self.rules.holds_online:
            return HOLD_NOT_ONLINE
        title = self.titles.get(record_id)
        if title is None or card not in self.patrons:
            return HOLD_NOT_FOUND
        if not self.rules.of(title.material).reservable:
            return HOLD_NOT_RESERVABLE
        if self.borrowing_block(card):
            return HOLD_BLOCKED
        if any(h.card == card and h.record_id == record_id for h in self.holds.values()):
            return HOLD_DUPLICATE
        if any(l.card == card and self.items[l.item_id].record_id == record_id
               for l in self.loans.values()):
            return HOLD_ON_LOAN
        limit = self.rules.max_holds
        if limit is not None and sum(1 for h in self.holds.values() if h.card == card) >= limit:
            return HOLD_LIMIT
        if pickup is not None and self.pickup_location(pickup) is None:
            return HOLD_INVALID_PICKUP
        return None

    def place_hold(self, card: str, record_id: str, pickup: str) -> HoldOutcome:
        reason = self.hold_check(card, record_id, pickup)
        if reason:
            return HoldOutcome(False, reason)
        hold = self.add_hold(card, record_id, pickup, created=self.today())
        self.changed()
        return HoldOutcome(True, None, hold)

    def cancel_holds(self, card: str, hold_ids: Iterable[str]) -> list[CancelOutcome]:
        results = []
        for hold_id in hold_ids:
            hold = self.holds.get(hold_id)
            if hold is None or hold.card != card:
                results.append(CancelOutcome(hold_id, False, CANCEL_NOT_FOUND))
            elif not self.hold_cancellable(hold):
                results.append(CancelOutcome(hold_id, False, CANCEL_NOT_CANCELLABLE))
            else:
                del self.holds[hold_id]
                results.append(CancelOutcome(hold_id, True))
        if any(r.ok for r in results):
            self.changed()
        return results

    # --- rules: online payment -------------------------------------------

    def payment_minimum_cents(self) -> int | None:
        pay = self.rules.online_payment
        return pay.minimum_cents if pay else None

    def open_payment(self, card: str) -> Payment | None:
        """A payment started within PAYMENT_MAX_MINUTES and not yet finished."""
        cutoff = self.clock.now() - timedelta(minutes=PAYMENT_MAX_MINUTES)
        for p in self.payments.values():
            if p.card == card and p.status == "open" and p.started >= cutoff:
                return p
        return None

    def payment_check(self, card: str) -> str | None:
        """Why the whole balance cannot be paid online now, or None.

        Checked in the order Finna's drivers report them: no online payment,
        non-payable fees, the minimum (an empty balance also reports it), the
        e-mail address, then an open transaction.
        """
        pay = self.rules.online_payment
        if pay is None:
            return PAY_NOT_SUPPORTED
        fees = self.fees_of(card)
        if any(f.fee_type in pay.blocking_fee_types or not f.payable_online for f in fees):
            return PAY_NONPAYABLE
        total = sum(f.amount_cents for f in fees)
        if total <= 0 or (pay.minimum_cents is not None and total < pay.minimum_cents):
            return PAY_MINIMUM
        if pay.requires_email and not self.patrons[card].email:
            return PAY_EMAIL
        if self.open_payment(card):
            return PAY_IN_PROGRESS
        return None

    def start_payment(self, card: str, expected_cents: int | None = None) -> PaymentOutcome:
        """Open a transaction for the whole balance (the only amount the views accept)."""
        reason = self.payment_check(card)
        if reason:
            return PaymentOutcome(False, reason)
        fees = self.fees_of(card)
        total = sum(f.amount_cents for f in fees)
        if expected_cents is not None and expected_cents != total:
            return PaymentOutcome(False, PAY_CHANGED)
        payment = Payment(self.new_id("P"), card, total, [f.fee_id for f in fees],
                          self.clock.now())
        self.payments[payment.payment_id] = payment
        self.changed()
        return PaymentOutcome(True, None, payment)

    def finish_payment(self, payment_id: str, paid: bool) -> PaymentOutcome:
        """The provider's verdict. A paid transaction marks its fees paid (registers it)."""
        payment = self.payments.get(payment_id)
        if payment is None:
            return PaymentOutcome(False, "online_payment_failed")
        if payment.status != "open":
            return PaymentOutcome(payment.status == "registered", None, payment)
        if not paid:
            payment.status = "cancelled"
        else:
            for fee_id in payment.fee_ids:
                if fee_id in self.fees:
                    self.fees[fee_id].paid = True
            payment.status = "registered"
        self.changed()
        return PaymentOutcome(paid, None if paid else "online_payment_canceled", payment)

    # --- search ----------------------------------------------------------

    def search(self, lookfor: str = "", field: str = "AllFields") -> list[Title]:
        """Titles whose fields contain every word (case-insensitive)."""
        words = lookfor.lower().split()
        out = []
        for t in self.titles.values():
            haystack = {
                "Title": t.title,
                "Author": t.author,
                "Subject": " ".join(t.subjects),
            }.get(field, " ".join([t.title, t.author, " ".join(t.subjects), str(t.year or ""),
                                   t.record_id, t.isbn or ""]))
            if all(w in haystack.lower() for w in words):
                out.append(t)
        return out

    def items_of(self, record_id: str) -> list[Item]:
        return [i for i in self.items.values() if i.record_id == record_id]

    def item_on_loan(self, item_id: str) -> Loan | None:
        return next((l for l in self.loans.values() if l.item_id == item_id), None)

    # --- persistence -----------------------------------------------------

    def shift_dates(self, days: int) -> None:
        """Move every date by ``days`` (the demo keeps its account fresh, see app.load_or_seed)."""
        delta = timedelta(days=days)
        for loan in self.loans.values():
            loan.checkout_date += delta
            loan.due_date += delta
        for hold in self.holds.values():
            hold.created += delta
            hold.expires += delta
            if hold.ready_date:
                hold.ready_date += delta
        for fee in self.fees.values():
            fee.created += delta
            if fee.checkout_date:
                fee.checkout_date += delta
            if fee.due_date:
                fee.due_date += delta
        for payment in self.payments.values():
            payment.started += delta
        self.changed()

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "saved_on": self.today(),
            "next_id": next(copy.copy(self._ids)),
            "pickup_locations": [asdict(p) for p in self.pickup_locations],
            "patrons": [asdict(p) for p in self.patrons.values()],
            "titles": [asdict(t) for t in self.titles.values()],
            "items": [asdict(i) for i in self.items.values()],
            "loans": [asdict(l) for l in self.loans.values()],
            "holds": [asdict(h) for h in self.holds.values()],
            "fees": [asdict(f) for f in self.fees.values()],
            "payments": [asdict(p) for p in self.payments.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, clock: Clock | None = None) -> "Library":
        lib = cls(data["view"], clock=clock,
                  pickup_locations=[PickupLocation(**p) for p in data["pickup_locations"]])
        lib._ids = itertools.count(data["next_id"])
        saved = data.get("saved_on")
        lib.saved_on = date.fromisoformat(saved) if saved else None
        for p in data["patrons"]:
            lib.add_patron(Patron(**p))
        for t in data["titles"]:
            lib.add_title(Title(**{**t, "material": Material(t["material"])}))
        for i in data["items"]:
            lib.add_item(Item(**{**i, "material": Material(i["material"])}))
        for l in data["loans"]:
            lib.loans[l["loan_id"]] = Loan(**_dates(l, "checkout_date", "due_date"))
        for h in data["holds"]:
            h = _dates(h, "created", "expires", "ready_date")
            lib.holds[h["hold_id"]] = Hold(**{**h, "status": HoldStatus(h["status"])})
        for f in data["fees"]:
            f = _dates(f, "created", "checkout_date", "due_date")
            lib.fees[f["fee_id"]] = Fee(**{**f, "fee_type": FeeType(f["fee_type"])})
        for p in data["payments"]:
            lib.payments[p["payment_id"]] = Payment(
                **{**p, "started": datetime.fromisoformat(p["started"])})
        return lib


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for ``Library.to_dict()``."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _dates(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    d = dict(d)
    for k in keys:
        if d.get(k):
            d[k] = date.fromisoformat(d[k])
    return d


def _num(value: str) -> int:
    digits = "".join(ch for ch in value if ch.isdigit())
    return int(digits) if digits else 0
