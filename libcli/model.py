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
from typing import Any, ClassVar

import msgspec
from msgspec import Struct

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


class Record(Struct, frozen=True):
    """Base of the model's records. ``to_dict()`` is the stable JSON shape
    scripts rely on, one rule for all: every field through
    msgspec.to_builtins (ISO 8601 dates, enum values, lists, money as cents
    and currency), a nested record by its own ``to_dict()``; less the fields
    in ``_hidden`` (a backend's identifiers, the card's account), names
    changed by ``_renamed``, and what ``_computed()`` adds (IDs, cents)."""

    _hidden: ClassVar[frozenset[str]] = frozenset()
    _renamed: ClassVar[dict[str, str]] = {}

    def _computed(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        out = {self._renamed.get(name, name): _builtin(getattr(self, name))
               for name in self.__struct_fields__ if name not in self._hidden}
        return out | self._computed()


def _builtin(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_builtin(v) for v in value]
    return msgspec.to_builtins(value)


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


class Card(Record, frozen=True):
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


class Loan(Record, frozen=True):
    _hidden = frozenset({"key", "account"})

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
    status: DueStatus = DueStatus.OK
    estimated_fee: Money | None = None
    due_time: time | None = None  # short loans due at an hour of the due date
    account: str | None = None  # the card's Card.key; the ID derives from it

    @property
    def id(self) -> str:
        return short_id(self.account or self.card, self.key)

    def _computed(self) -> dict[str, Any]:
        return {"id": self.id,
                "due_time": self.due_time.strftime("%H:%M") if self.due_time else None}


class Hold(Record, frozen=True):
    _hidden = frozenset({"key", "account"})

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
    account: str | None = None  # the card's Card.key; the ID derives from it

    @property
    def id(self) -> str:
        return short_id(self.account or self.card, self.key)

    def _computed(self) -> dict[str, Any]:
        return {"id": self.id}


class Fee(Record, frozen=True):
    _hidden = frozenset({"amount"})
    _renamed = {"fee_type": "type"}

    amount: Money
    fee_type: FeeType = FeeType.OTHER
    title: str | None = None
    description: str | None = None
    created: date | None = None
    payable_online: bool = True

    def _computed(self) -> dict[str, Any]:
        return {"amount_cents": self.amount.cents, "currency": self.amount.currency}


class Balance(Record, frozen=True):
    """The fees of one card as the library states them."""

    _hidden = frozenset({"total", "minimum_online", "payment_registered", "email_on_file"})

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

    def _computed(self) -> dict[str, Any]:
        return {"total_cents": self.total.cents, "currency": self.total.currency,
                "minimum_online_cents": self.minimum_online.cents if self.minimum_online
                else None}


class RenewResult(Record, frozen=True):
    _renamed = {"loan_id": "id"}

    loan_id: str
    title: str
    renewed: bool
    new_due_date: date | None = None
    message: str | None = None
    card: str | None = None


class CancelResult(Record, frozen=True):
    _renamed = {"hold_id": "id"}

    hold_id: str
    title: str
    cancelled: bool
    message: str | None = None
    card: str | None = None


class PlaceHoldResult(Record, frozen=True):
    record_id: str
    placed: bool
    message: str | None = None
    pickup_location: str | None = None
    card: str | None = None
    hold_id: str | None = None  # the new hold as the account lists it
    title: str | None = None


class PickupLocation(Record, frozen=True):
    code: str
    name: str
    default: bool = False


class SearchResult(Record, frozen=True):
    record_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: str | None = None
    formats: tuple[str, ...] = ()


class PaymentStart(Record, frozen=True):
    """A payment the library has opened: where the patron goes to pay."""

    _hidden = frozenset({"amount"})

    card: str
    url: str
    amount: Money

    def _computed(self) -> dict[str, Any]:
        return {"amount_cents": self.amount.cents, "currency": self.amount.currency}
