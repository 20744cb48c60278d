"""The domain model: what a library account holds, independent of any site.

Backends turn pages into these objects; the CLI renders them. All are frozen
msgspec Structs (immutable, hashable, defined in C: cheap at every start).
Money is integer cents with a currency, dates are ``date``
objects, and ``to_dict()`` gives the stable JSON shape scripts rely on
(snake_case, ISO 8601 dates, cents plus currency).
"""

from __future__ import annotations

import enum
import hashlib
from datetime import date, time
from typing import Any

from msgspec import Struct, field, structs

from libcli.i18n import pgettext

SHORT_ID_LENGTH = 7


def short_id(card: str, key: str) -> str:
    """A short, stable ID for an item on a card, like a git hash prefix.

    Derived from what the library identifies: the card's account (library,
    number and site, :attr:`Card.key`) and the backend's own identifier of
    the item. The same loan or hold gets the same ID on every run, also after
    the card is renamed, so a script can list, then pass the ID back.
    """
    return hashlib.sha1(f"{card}\0{key}".encode()).hexdigest()[:SHORT_ID_LENGTH]


class DueStatus(enum.StrEnum):
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class HoldStatus(enum.StrEnum):
    WAITING = "waiting"
    IN_TRANSIT = "in_transit"
    READY = "ready"


class Material(enum.StrEnum):
    """Material types that the consortia's rules tell apart."""

    BOOK = "book"
    QUICK_LOAN = "quick_loan"
    MAGAZINE = "magazine"
    BOUND_MAGAZINE = "bound_magazine"
    AUDIOVISUAL = "audiovisual"
    NEWSPAPER = "newspaper"
    CHILDREN = "children"  # children's and youth material

    @classmethod
    def parse(cls, value: str | None) -> "Material":
        try:
            return cls(value) if value else cls.BOOK
        except ValueError:
            return cls.BOOK


class FeeType(enum.StrEnum):
    OVERDUE = "overdue"
    UNCOLLECTED_HOLD = "uncollected_hold"
    REPLACEMENT = "replacement"
    NOTICE = "notice"
    OTHER = "other"


class Money(Struct, frozen=True, order=True):
    cents: int
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if not isinstance(self.cents, int) or isinstance(self.cents, bool):
            raise TypeError("Money is integer cents, never a float")

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.cents + other.cents, self.currency)

    def __str__(self) -> str:
        sign = "-" if self.cents < 0 else ""
        whole, part = divmod(abs(self.cents), 100)
        symbol = {"EUR": "€"}.get(self.currency, self.currency)
        # Translators: the decimal separator of amounts of money ("3,50 €").
        point = pgettext("decimal separator", ".")
        return f"{sign}{whole}{point}{part:02d} {symbol}"

    def to_dict(self) -> dict[str, Any]:
        return {"cents": self.cents, "currency": self.currency}

    @classmethod
    def zero(cls, currency: str = "EUR") -> "Money":
        return cls(0, currency)


class Card(Struct, frozen=True):
    """A library card as stored in the config file. Never holds the PIN."""

    name: str
    library: str
    number: str
    url: str | None = None
    pin_command: str | None = None
    pickup: str | None = None
    # Demo cards belong to the embedded demo library; their PINs are public
    # demo data. Nothing else may treat a PIN as non-secret.
    demo: bool = False
    default: bool = False

    @property
    def key(self) -> str:
        """The account at the library: library, number and site, not our name
        for it (item IDs derive from it and survive a rename)."""
        return f"{self.library}:{self.number}@{(self.url or '').rstrip('/')}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "library": self.library,
            "number": self.number,
            "url": self.url,
            "pin_command": self.pin_command,
            "pickup": self.pickup,
            "demo": self.demo,
            "default": self.default,
        }


class Loan(Struct, frozen=True):
    card: str
    key: str  # the backend's own stable identifier (item id, barcode)
    title: str
    due_date: date
    author: str | None = None
    record_id: str | None = None
    barcode: str | None = None
    call_number: str | None = None
    material: Material = Material.BOOK
    renewals_used: int | None = 0  # None: the library does not say
    renewals_limit: int | None = None
    renewable: bool = True
    not_renewable_reason: str | None = None
    reserved_by_others: bool = False
    renew_token: str | None = None  # what the site's renew form wants posted
    status: DueStatus = DueStatus.OK
    estimated_fee: Money | None = None
    due_time: time | None = None  # short loans due at an hour of the due date
    account: str | None = None  # the card's Card.key; the ID derives from it

    @property
    def id(self) -> str:
        return short_id(self.account or self.card, self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "record_id": self.record_id,
            "barcode": self.barcode,
            "call_number": self.call_number,
            "material": self.material.value,
            "due_date": self.due_date.isoformat(),
            "due_time": self.due_time.strftime("%H:%M") if self.due_time else None,
            "status": self.status.value,
            "renewable": self.renewable,
            "renewals_used": self.renewals_used,
            "renewals_limit": self.renewals_limit,
            "not_renewable_reason": self.not_renewable_reason,
            "reserved_by_others": self.reserved_by_others,
            "estimated_fee": self.estimated_fee.to_dict() if self.estimated_fee else None,
        }


class Hold(Struct, frozen=True):
    card: str
    key: str
    title: str
    status: HoldStatus
    author: str | None = None
    record_id: str | None = None
    queue_position: int | None = None
    queue_length: int | None = None
    pickup_location: str | None = None
    pickup_by: date | None = None
    created: date | None = None
    expires: date | None = None
    cancellable: bool = True
    cancel_token: str | None = None
    account: str | None = None  # the card's Card.key; the ID derives from it

    @property
    def id(self) -> str:
        return short_id(self.account or self.card, self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "record_id": self.record_id,
            "status": self.status.value,
            "queue_position": self.queue_position,
            "queue_length": self.queue_length,
            "pickup_location": self.pickup_location,
            "pickup_by": _iso(self.pickup_by),
            "created": _iso(self.created),
            "expires": _iso(self.expires),
            "cancellable": self.cancellable,
        }


class Fee(Struct, frozen=True):
    amount: Money
    fee_type: FeeType = FeeType.OTHER
    title: str | None = None
    description: str | None = None
    created: date | None = None
    payable_online: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount_cents": self.amount.cents,
            "currency": self.amount.currency,
            "type": self.fee_type.value,
            "title": self.title,
            "description": self.description,
            "created": _iso(self.created),
            "payable_online": self.payable_online,
        }


class Balance(Struct, frozen=True):
    """The fees of one card as the library states them."""

    card: str
    items: tuple[Fee, ...]
    total: Money
    # What the site itself says about online payment; policy checks add to it.
    online_payment_offered: bool = False
    minimum_online: Money | None = None
    site_reason: str | None = None
    payment_in_progress: bool = False
    payment_registered: bool = False
    email_on_file: bool | None = None  # None: the site does not say

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "total_cents": self.total.cents,
            "currency": self.total.currency,
            "items": [f.to_dict() for f in self.items],
            "online_payment_offered": self.online_payment_offered,
            "minimum_online_cents": self.minimum_online.cents if self.minimum_online else None,
            "site_reason": self.site_reason,
            "payment_in_progress": self.payment_in_progress,
        }


class RenewResult(Struct, frozen=True):
    loan_id: str
    title: str
    renewed: bool
    new_due_date: date | None = None
    message: str | None = None
    card: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "id": self.loan_id,
            "title": self.title,
            "renewed": self.renewed,
            "new_due_date": _iso(self.new_due_date),
            "message": self.message,
        }


class CancelResult(Struct, frozen=True):
    hold_id: str
    title: str
    cancelled: bool
    message: str | None = None
    card: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card,
            "id": self.hold_id,
            "title": self.title,
            "cancelled": self.cancelled,
            "message": self.message,
        }


class PlaceHoldResult(Struct, frozen=True):
    record_id: str
    placed: bool
    message: str | None = None
    pickup_location: str | None = None
    card: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return structs.asdict(self)


class PickupLocation(Struct, frozen=True):
    code: str
    name: str
    default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return structs.asdict(self)


class SearchResult(Struct, frozen=True):
    record_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: str | None = None
    formats: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "title": self.title,
            "authors": list(self.authors),
            "year": self.year,
            "formats": list(self.formats),
        }


class PaymentStart(Struct, frozen=True):
    """A payment the library has opened: where the patron goes to pay."""

    card: str
    url: str
    amount: Money

    def to_dict(self) -> dict[str, Any]:
        return {"card": self.card, "url": self.url, "amount_cents": self.amount.cents,
                "currency": self.amount.currency}


class Account(Struct, frozen=True):
    """A snapshot of one card's account: what `status` and the cache hold."""

    card: str
    loans: tuple[Loan, ...] = ()
    holds: tuple[Hold, ...] = ()
    balance: Balance | None = None
    fetched: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
