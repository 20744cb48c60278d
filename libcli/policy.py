"""Consortium rules as data, and the pure functions that apply them.

No I/O beyond reading the packaged registry, no clock reads: every function
takes the day it reasons about. The library's own pages stay authoritative;
these rules are for predictions (due status, estimated late fees) and for
pre-checks (may this balance be paid online?).
"""

from __future__ import annotations

import functools
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from msgspec import Struct, field

from libcli.model import DueStatus, FeeType, Material, Money

# libcli's own default where a seed states no notice period.
DEFAULT_DUE_SOON_DAYS = 3


class MaterialRule(Struct, frozen=True):
    loan_days: int | None = None
    renewal_limit: int | None = None
    reservable: bool = True


class LateFee(Struct, frozen=True):
    cents_per_day: int | None = None
    cap_cents: int | None = None
    step_after_days: int | None = None
    step_cents_per_day: int | None = None
    exempt: frozenset[Material] = frozenset()


class OnlinePayment(Struct, frozen=True):
    minimum_cents: int | None = None
    requires_email: bool = False
    whole_balance: bool = True
    blocking_fee_types: frozenset[FeeType] = frozenset()


class BorrowingBan(Struct, frozen=True):
    debt_over_cents: int | None = None
    debt_at_least_cents: int | None = None
    overdue_days: int | None = None
    old_debt_after_new_year: bool = False


class BankAccount(Struct, frozen=True):
    bank: str
    iban: str
    bic: str


class BankTransfer(Struct, frozen=True):
    recipient: str
    reference: str
    explanation: str
    accounts: tuple[BankAccount, ...]
    note: str | None = None


class Policy(Struct, frozen=True):
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS
    renewal_limit: int | None = None
    materials: dict[Material, MaterialRule] = field(default_factory=dict)
    late_fee: LateFee = LateFee()
    online_payment: OnlinePayment | None = None
    bank_transfer: BankTransfer | None = None
    borrowing_ban: BorrowingBan = BorrowingBan()
    max_holds: int | None = None
    max_loans: int | None = None
    max_audiovisual: int | None = None
    pickup_days: int | None = None
    uncollected_hold_fee_cents: int | None = None
    notice_fee_cents: int | None = None
    holds_online: bool = True
    hold_instructions: str | None = None
    fines_after_return: bool = False
    currency: str = "EUR"

    def material(self, material: Material) -> MaterialRule:
        return self.materials.get(material, MaterialRule())

    def renewal_limit_for(self, material: Material) -> int | None:
        rule = self.material(material)
        return rule.renewal_limit if rule.renewal_limit is not None else self.renewal_limit

    def loan_days_for(self, material: Material) -> int | None:
        rule = self.materials.get(material) or self.materials.get(Material.BOOK)
        return rule.loan_days if rule else None


class Consortium(Struct, frozen=True):
    id: str
    name: str
    backend: str
    url: str
    policy: Policy
    country: str = ""
    login_target: str | None = None
    building: str | None = None
    scope: str | None = None
    # Hosts a payment may redirect to (the provider's, e.g. Paytrail), each
    # matched as the host or a subdomain; the library's own host is always allowed.
    payment_hosts: tuple[str, ...] = ()
    search_api: str | None = None
    # Primo VE: the view id (`358FIN_TAMPO:VU1`) and institution code the
    # patron API is asked under (reference/primo-ve.md §2).
    view: str | None = None
    institution: str | None = None
    # The order of day, month and year in the dates a site prints: "dmy"
    # (Tallinn, Finland), "mdy" (NYPL, Waterloo), "ymd" (Montréal). A date that
    # cannot be read in this order is an error, never a guess.
    date_order: str = "dmy"

    def to_dict(self) -> dict[str, Any]:
        pay = self.policy.online_payment
        return {
            "id": self.id,
            "name": self.name,
            "backend": self.backend,
            "url": self.url,
            "online_payment": pay is not None,
            "online_payment_minimum_cents": pay.minimum_cents if pay else None,
            "due_soon_days": self.policy.due_soon_days,
            "renewal_limit": self.policy.renewal_limit,
            "max_holds": self.policy.max_holds,
        }


# --- the registry -----------------------------------------------------------


def _policy_from(data: dict[str, Any]) -> Policy:
    materials = {
        Material(name): MaterialRule(**rule) for name, rule in data.get("materials", {}).items()
    }
    fee = dict(data.get("late_fee", {}))
    fee["exempt"] = frozenset(Material(m) for m in fee.get("exempt", ()))
    pay = data.get("online_payment")
    if pay is not None:
        pay = dict(pay)
        pay["blocking_fee_types"] = frozenset(FeeType(t) for t in pay.get("blocking_fee_types", ()))
        pay = OnlinePayment(**pay)
    bank = data.get("bank_transfer")
    if bank is not None:
        bank = dict(bank)
        bank["accounts"] = tuple(BankAccount(**a) for a in bank["accounts"])
        bank = BankTransfer(**bank)
    scalars = {
        k: data[k]
        for k in (
            "due_soon_days", "renewal_limit", "max_holds", "max_loans", "max_audiovisual",
            "pickup_days", "uncollected_hold_fee_cents", "notice_fee_cents", "holds_online",
            "hold_instructions", "fines_after_return", "currency",
        )
        if k in data
    }
    return Policy(
        materials=materials,
        late_fee=LateFee(**fee),
        online_payment=pay,
        bank_transfer=bank,
        borrowing_ban=BorrowingBan(**data.get("borrowing_ban", {})),
        **scalars,
    )


def load_registry(text: str) -> dict[str, Consortium]:
    """Build consortia from registry TOML (the packaged file, or a test's)."""
    raw = tomllib.loads(text)
    registry = {}
    for cid, data in raw.items():
        registry[cid] = Consortium(
            id=cid,
            name=data["name"],
            backend=data["backend"],
            url=data["url"],
            country=data.get("country", ""),
            login_target=data.get("login_target"),
            building=data.get("building"),
            scope=data.get("scope"),
            payment_hosts=tuple(data.get("payment_hosts", ())),
            search_api=data.get("search_api"),
            view=data.get("view"),
            institution=data.get("institution"),
            date_order=data.get("date_order", "dmy"),
            policy=_policy_from(data),
        )
    return registry


@functools.cache
def consortia() -> dict[str, Consortium]:
    # A plain path: importlib.resources costs ~3 ms of imports at every start,
    # and libcli is installed as files (package data), never from a zip.
    text = (Path(__file__).parent / "data" / "consortia.toml").read_text("utf-8")
    return load_registry(text)


def get_consortium(cid: str) -> Consortium:
    from libcli.errors import UsageError

    try:
        return consortia()[cid]
    except KeyError:
        known = ", ".join(sorted(consortia()))
        raise UsageError(f"unknown library '{cid}'; known libraries: {known}") from None


# --- rules ------------------------------------------------------------------


def due_status(policy: Policy, due: date, today: date) -> DueStatus:
    """A loan is overdue after its due date, due soon within the notice period."""
    days = (due - today).days
    if days < 0:
        return DueStatus.OVERDUE
    if days <= policy.due_soon_days:
        return DueStatus.DUE_SOON
    return DueStatus.OK


def estimated_late_fee(
    policy: Policy, material: Material, due: date, today: date
) -> Money | None:
    """The late fee accrued so far on one loan, or None where the rules give no rate.

    Fees count every calendar day after the due date (Heili: "for all
    calendar days of the year").
    """
    late = (today - due).days
    fee = policy.late_fee
    if late <= 0:
        return Money(0, policy.currency)
    if material in fee.exempt:
        return Money(0, policy.currency)
    if fee.cents_per_day is None:
        return None
    if fee.step_after_days is not None and fee.step_cents_per_day is not None:
        first = min(late, fee.step_after_days)
        cents = first * fee.cents_per_day + (late - first) * fee.step_cents_per_day
    else:
        cents = late * fee.cents_per_day
    if fee.cap_cents is not None:
        cents = min(cents, fee.cap_cents)
    return Money(cents, policy.currency)


class Payability(Struct, frozen=True):
    payable: bool
    reason: str | None = None  # a stable code for scripts
    message: str | None = None  # what a person reads


def payability(
    policy: Policy,
    total: Money,
    fee_types: Iterable[FeeType] = (),
    *,
    email_on_file: bool | None = None,
    site_minimum: Money | None = None,
    nonpayable_items: bool = False,
) -> Payability:
    """Whether the whole balance may be paid online now, and if not, why.

    The page's own stated minimum wins over the registry's where both exist:
    the library is authoritative.
    """
    pay = policy.online_payment
    if pay is None:
        return Payability(False, "no_online_payment", "this library takes no online payments")
    if total.cents <= 0:
        return Payability(False, "nothing_to_pay", "there is nothing to pay")
    blocking = pay.blocking_fee_types.intersection(fee_types)
    if blocking:
        kinds = ", ".join(sorted(t.value.replace("_", " ") for t in blocking))
        return Payability(
            False, "nonpayable_fee",
            f"a {kinds} fee is among the charges; it cannot be paid online",
        )
    if nonpayable_items:
        return Payability(
            False, "nonpayable_fee", "some charges cannot be paid online; contact the library"
        )
    minimum = site_minimum.cents if site_minimum is not None else pay.minimum_cents
    if minimum is not None and total.cents < minimum:
        return Payability(
            False, "below_minimum",
            f"the balance {total} is below the online minimum {Money(minimum, total.currency)}",
        )
    if pay.requires_email and email_on_file is False:
        return Payability(
            False, "email_required",
            "online payment needs an e-mail address on the library account",
        )
    return Payability(True)


def minimum_online(policy: Policy, site_minimum: Money | None = None) -> Money | None:
    if site_minimum is not None:
        return site_minimum
    pay = policy.online_payment
    if pay is None or pay.minimum_cents is None:
        return None
    return Money(pay.minimum_cents, policy.currency)


def borrowing_warnings(
    policy: Policy,
    debt: Money,
    today: date,
    *,
    days_late: Iterable[int] = (),
    debt_from_earlier_year: bool = False,
) -> list[str]:
    """Warnings that the borrowing right is lost or at risk."""
    ban = policy.borrowing_ban
    out: list[str] = []
    if ban.debt_over_cents is not None:
        limit = Money(ban.debt_over_cents, debt.currency)
        if debt.cents > ban.debt_over_cents:
            out.append(f"borrowing is blocked: the debt {debt} exceeds {limit}")
        elif debt.cents > 0 and ban.debt_over_cents - debt.cents <= 200:
            out.append(f"the debt {debt} is close to {limit}, above which borrowing is blocked")
    if ban.debt_at_least_cents is not None and debt.cents >= ban.debt_at_least_cents:
        out.append(
            f"borrowing is blocked: the debt {debt} reaches "
            f"{Money(ban.debt_at_least_cents, debt.currency)}"
        )
    if ban.overdue_days is not None:
        worst = max(days_late, default=0)
        if worst > ban.overdue_days:
            out.append(
                f"borrowing is blocked: a loan is {worst} days late "
                f"(the limit is {ban.overdue_days})"
            )
        elif worst > 0 and ban.overdue_days - worst <= 7:
            out.append(
                f"a loan is {worst} days late; after {ban.overdue_days} days "
                "the right to borrow is lost"
            )
    if ban.old_debt_after_new_year and debt_from_earlier_year and debt.cents > 0:
        out.append("debt from an earlier year blocks loans and renewals until it is paid")
    return out


def predicted_renewal(
    policy: Policy, material: Material, renewals_used: int | None, reserved_by_others: bool
) -> tuple[bool, str | None]:
    """Whether the rules allow another renewal; the library decides in the end."""
    limit = policy.renewal_limit_for(material)
    if limit == 0:
        return False, f"{material.value.replace('_', ' ')}s are never renewed"
    if reserved_by_others:
        return False, "reserved by another patron"
    if limit is not None and renewals_used is not None and renewals_used >= limit:
        return False, f"renewal limit reached ({renewals_used}/{limit})"
    return True, None
