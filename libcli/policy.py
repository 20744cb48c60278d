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

from libcli.i18n import N_, _
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
    # The library's due-date notice period; None where its rules are unknown
    # (a Finna view from the data file, a library the user added).
    due_soon_days: int | None = None
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

    @property
    def notice_days(self) -> int:
        """The days before the due date that count as "due soon": the
        library's notice period, else libcli's own default."""
        return self.due_soon_days if self.due_soon_days is not None else DEFAULT_DUE_SOON_DAYS

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
    # The site's language for libcli's requests where the user sets none.
    language: str | None = None
    # Where the entry comes from: "builtin" (consortia.toml, rules from the
    # seeds), "finna-views" (the Finna view list; rules unknown until the
    # site states them) or "user" (`libcli library add`).
    source: str = "builtin"
    kind: str | None = None  # public, university, special, other (Finna views)

    def to_dict(self) -> dict[str, Any]:
        pay = self.policy.online_payment
        return {
            "id": self.id,
            "name": self.name,
            "backend": self.backend,
            "url": self.url,
            "source": self.source,
            "kind": self.kind,
            # None: not known before the site says so (no seed for this library).
            "online_payment": (pay is not None) if self.source == "builtin" else None,
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


DATA = Path(__file__).parent / "data"
DATE_ORDERS = ("dmy", "mdy", "ymd")
# Finna's online payments go to the provider the view configures: Paytrail on
# most views (NDL-VuFind2 module/Finna/src/Finna/OnlinePayment/Handler/
# PaytrailPaymentAPI.php); the CPU and Turku handlers' hosts are set per site,
# so a view that uses them gets its payment address refused, not guessed.
FINNA_PAYMENT_HOSTS = ("paytrail.com",)


def consortium_from(cid: str, data: dict[str, Any], *, source: str = "builtin") -> Consortium:
    """One registry entry from its table (consortia.toml, or a user's library)."""
    order = data.get("date_order", "dmy")
    if order not in DATE_ORDERS:
        raise ValueError(f"date_order of {cid} must be one of {', '.join(DATE_ORDERS)}")
    return Consortium(
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
        date_order=order,
        language=data.get("language"),
        source=source,
        kind=data.get("kind"),
        policy=_policy_from(data),
    )


def load_registry(text: str) -> dict[str, Consortium]:
    """Build consortia from registry TOML (the packaged file, or a test's)."""
    return {cid: consortium_from(cid, data) for cid, data in tomllib.loads(text).items()}


def view_id(host: str) -> str:
    """A Finna view's registry id from its address: ``vaski.finna.fi`` →
    ``vaski``, ``tritonia.finna.fi/uva`` → ``tritonia-uva``, ``finna.fi`` →
    ``finna``."""
    name, _sep, path = host.partition("/")
    label = name.removesuffix(".finna.fi").removesuffix(".fi")
    return f"{label}-{path.strip('/')}" if path.strip("/") else label


def finna_views(text: str, known_urls: set[str]) -> dict[str, Consortium]:
    """The public Finna views (data/finna-views.csv, from NDL-VuFind2's list of
    Finna sites) as registry entries, but for those consortia.toml already
    has. Their rules are not in any seed: every rule is left unknown (None)
    and the pages' own statements (renewability, counts, the online-payment
    minimum on the fines page) decide. One Finna adapter serves them all."""
    import csv
    import io

    views = {}
    for row in csv.DictReader(io.StringIO(text)):
        url = "https://" + row["host"].rstrip("/")
        if url in known_urls:
            continue
        data = {
            "name": row["name"], "backend": "finna", "url": url, "country": "FI",
            "kind": row["kind"] or None, "building": row["building_filter"] or None,
            # The ILS datasource id is the login target where it is known
            # (record ids "<datasource>.NNN"); else the login form's own.
            "login_target": row["datasource_id"] or None,
            "search_api": "https://api.finna.fi/v1/search" if row["building_filter"] else None,
            "payment_hosts": list(FINNA_PAYMENT_HOSTS),
            "online_payment": {"whole_balance": True},
        }
        cid = view_id(row["host"])
        views[cid] = consortium_from(cid, data, source="finna-views")
    return views


@functools.cache
def _known() -> dict[str, Consortium]:
    # A plain path: importlib.resources costs ~3 ms of imports at every start,
    # and libcli is installed as files (package data), never from a zip.
    registry = load_registry((DATA / "consortia.toml").read_text("utf-8"))
    known_urls = {c.url for c in registry.values()}
    for cid, c in finna_views((DATA / "finna-views.csv").read_text("utf-8"), known_urls).items():
        registry.setdefault(cid, c)
    return registry


@functools.cache
def _with_users(path: str, stamp: tuple[int, int] | None) -> dict[str, Consortium]:
    from libcli.libraries import user_libraries

    registry = dict(_known())
    for cid, c in user_libraries().items():
        registry.setdefault(cid, c)  # a user's entry never shadows a known one
    return registry


def consortia() -> dict[str, Consortium]:
    """Every library libcli knows: the seeded consortia, the Finna views, and
    the libraries the user added (``libcli library add``), read again when
    their file changes."""
    from libcli.libraries import libraries_path

    path = libraries_path()
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    return _with_users(str(path), stamp)


def get_consortium(cid: str) -> Consortium:
    from libcli.errors import UsageError

    try:
        return consortia()[cid]
    except KeyError:
        known = ", ".join(sorted(consortia()))
        raise UsageError(_("unknown library '{id}'; known libraries: {known}").format(
            id=cid, known=known)) from None


# --- rules ------------------------------------------------------------------


def due_status(policy: Policy, due: date, today: date) -> DueStatus:
    """A loan is overdue after its due date, due soon within the notice period."""
    days = (due - today).days
    if days < 0:
        return DueStatus.OVERDUE
    if days <= policy.notice_days:
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
        return Payability(False, "no_online_payment", _("this library takes no online payments"))
    if total.cents <= 0:
        return Payability(False, "nothing_to_pay", _("there is nothing to pay"))
    blocking = pay.blocking_fee_types.intersection(fee_types)
    if blocking:
        kinds = ", ".join(sorted(_(FEE_NAMES[t]) for t in blocking))
        return Payability(
            False, "nonpayable_fee",
            _("a {kinds} fee is among the charges; it cannot be paid online").format(kinds=kinds),
        )
    if nonpayable_items:
        return Payability(
            False, "nonpayable_fee", _("some charges cannot be paid online; contact the library")
        )
    minimum = minimum_online(policy, site_minimum)
    if minimum is not None and total.cents < minimum.cents:
        return Payability(
            False, "below_minimum",
            _("the balance {total} is below the online minimum {minimum}").format(
                total=total, minimum=minimum),
        )
    if pay.requires_email and email_on_file is False:
        return Payability(
            False, "email_required",
            _("online payment needs an e-mail address on the library account"),
        )
    return Payability(True)


# The fee types as a reason names them ("a replacement fee is among ...").
FEE_NAMES = {
    FeeType.OVERDUE: N_("overdue"),
    FeeType.UNCOLLECTED_HOLD: N_("uncollected hold"),
    FeeType.REPLACEMENT: N_("replacement"),
    FeeType.NOTICE: N_("notice"),
    FeeType.OTHER: N_("other"),
}


def minimum_online(policy: Policy, site_minimum: Money | None = None) -> Money | None:
    """The least that may be paid online: the page's own stated minimum where
    it states one (the library is authoritative), else the rules'."""
    if site_minimum is not None:
        return site_minimum
    pay = policy.online_payment
    if pay is None or pay.minimum_cents is None:
        return None
    return Money(pay.minimum_cents, policy.currency)


def debt_from_earlier_year(balance: Any, today: date) -> bool:
    """Whether an open fee dates from before this year (Heili: "after the new
    year, old debt blocks loans and renewals"); False where no fee has a date."""
    return any(f.created is not None and f.created.year < today.year and f.amount.cents > 0
               for f in getattr(balance, "items", ()) or ())


def borrowing_block(
    policy: Policy,
    *,
    debt: Money | None = None,
    days_late: Iterable[int] = (),
    debt_from_earlier_year: bool = False,
) -> str | None:
    """Why the rules take the right to borrow (and to renew) away, or None.

    ``debt`` None: the fees were not read, so only the lateness rule can say.
    Heili: "loans and renewals are blocked" when the debt exceeds 10 EUR or
    after the new year with old debt; Helmet: "renew ... unless ... borrowing
    right lost", lost when a loan is over 28 days late or the debt reaches the
    limit; TUNI: "fines exceeding 10 euros will result in suspension".
    """
    ban = policy.borrowing_ban
    if debt is not None:
        if ban.debt_over_cents is not None and debt.cents > ban.debt_over_cents:
            return _("borrowing is blocked: the debt {debt} exceeds {limit}").format(
                debt=debt, limit=Money(ban.debt_over_cents, debt.currency))
        if ban.debt_at_least_cents is not None and debt.cents >= ban.debt_at_least_cents:
            return _("borrowing is blocked: the debt {debt} reaches {limit}").format(
                debt=debt, limit=Money(ban.debt_at_least_cents, debt.currency))
        if ban.old_debt_after_new_year and debt_from_earlier_year and debt.cents > 0:
            return _("borrowing is blocked: debt from an earlier year must be paid first")
    worst = max(days_late, default=0)
    if ban.overdue_days is not None and worst > ban.overdue_days:
        return _("borrowing is blocked: a loan is {days} days late (the limit is {limit})").format(
            days=worst, limit=ban.overdue_days)
    return None


def borrowing_warnings(
    policy: Policy,
    debt: Money,
    today: date,
    *,
    days_late: Iterable[int] = (),
    debt_from_earlier_year: bool = False,
) -> list[str]:
    """Warnings that the borrowing right is lost or at risk."""
    days_late = list(days_late)
    blocked = borrowing_block(policy, debt=debt, days_late=days_late,
                              debt_from_earlier_year=debt_from_earlier_year)
    if blocked:
        return [blocked]
    ban = policy.borrowing_ban
    out: list[str] = []
    if ban.debt_over_cents is not None and debt.cents > 0 and \
            ban.debt_over_cents - debt.cents <= 200:
        out.append(_("the debt {debt} is close to {limit}, above which borrowing is blocked")
                   .format(debt=debt, limit=Money(ban.debt_over_cents, debt.currency)))
    worst = max(days_late, default=0)
    if ban.overdue_days is not None and worst > 0 and ban.overdue_days - worst <= 7:
        out.append(_("a loan is {days} days late; after {limit} days the right to borrow is lost")
                   .format(days=worst, limit=ban.overdue_days))
    return out


NEVER_RENEWED = {
    Material.BOOK: N_("books are never renewed"),
    Material.QUICK_LOAN: N_("quick loans are never renewed"),
    Material.MAGAZINE: N_("magazines are never renewed"),
    Material.BOUND_MAGAZINE: N_("bound magazines are never renewed"),
    Material.AUDIOVISUAL: N_("audiovisual material is never renewed"),
    Material.NEWSPAPER: N_("newspapers are never renewed"),
    Material.CHILDREN: N_("children's material is never renewed"),
}


def predicted_renewal(
    policy: Policy, material: Material, renewals_used: int | None, reserved_by_others: bool
) -> tuple[bool, str | None]:
    """Whether the rules allow another renewal; the library decides in the end."""
    limit = policy.renewal_limit_for(material)
    if limit == 0:
        return False, _(NEVER_RENEWED[material])
    if reserved_by_others:
        return False, _("reserved by another patron")
    if limit is not None and renewals_used is not None and renewals_used >= limit:
        return False, _("renewal limit reached ({used}/{limit})").format(used=renewals_used,
                                                                          limit=limit)
    return True, None
