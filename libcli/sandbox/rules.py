"""The demo library's circulation rules: the registry's numbers read as data.

The demo stands for the libraries' own systems, so it decides what its pages
show with its own code, never with the client's (libcli.policy): a mistake in
the client's rules would otherwise be made on both sides, and no test would
see it. What it shares is the numbers, which come from the consortia's own
rules (shared/seeds/): it reads libcli/data/consortia.toml itself, and only
the keys it applies (the file's header lists them all).

Where a rule is not stated the demo is the library that does not apply it:
no late-fee rate, no late fee; no renewal limit, renewals are not counted
against one; no loan period, a loan of that material cannot be made.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from libcli.model import FeeType, Material

REGISTRY = Path(__file__).resolve().parent.parent / "data" / "consortia.toml"

# The demo's own notice period where a view's rules state none: its pages
# mark a loan "due soon" this many days ahead.
NOTICE_DAYS = 3


@dataclass(frozen=True)
class MaterialRules:
    loan_days: int | None = None
    renewal_limit: int | None = None
    reservable: bool = True


@dataclass(frozen=True)
class OnlinePayment:
    minimum_cents: int | None = None
    requires_email: bool = False
    blocking_fee_types: frozenset[FeeType] = frozenset()


@dataclass(frozen=True)
class Rules:
    """One view's rules as its library system applies them."""

    due_soon_days: int | None = None
    renewal_limit: int | None = None
    materials: dict[Material, MaterialRules] = field(default_factory=dict)
    late_fee: dict[str, Any] = field(default_factory=dict)  # the registry's [X.late_fee]
    online_payment: OnlinePayment | None = None  # None: no online payment at all
    ban: dict[str, Any] = field(default_factory=dict)  # the registry's [X.borrowing_ban]
    max_holds: int | None = None
    pickup_days: int | None = None
    uncollected_hold_fee_cents: int | None = None
    holds_online: bool = True

    @classmethod
    def from_table(cls, t: dict[str, Any]) -> "Rules":
        pay = t.get("online_payment")
        return cls(
            due_soon_days=t.get("due_soon_days"),
            renewal_limit=t.get("renewal_limit"),
            materials={Material(name): MaterialRules(**rule)
                       for name, rule in t.get("materials", {}).items()},
            late_fee=dict(t.get("late_fee", {})),
            online_payment=None if pay is None else OnlinePayment(
                minimum_cents=pay.get("minimum_cents"),
                requires_email=bool(pay.get("requires_email", False)),
                blocking_fee_types=frozenset(FeeType(x) for x in pay.get("blocking_fee_types", ()))),
            ban=dict(t.get("borrowing_ban", {})),
            max_holds=t.get("max_holds"),
            pickup_days=t.get("pickup_days"),
            uncollected_hold_fee_cents=t.get("uncollected_hold_fee_cents"),
            holds_online=bool(t.get("holds_online", True)),
        )

    def of(self, material: Material) -> MaterialRules:
        return self.materials.get(material, MaterialRules())

    def renewals_allowed(self, material: Material) -> int | None:
        own = self.of(material).renewal_limit
        return self.renewal_limit if own is None else own

    def loan_days(self, material: Material) -> int | None:
        """The material's loan period; a material the rules do not name lends as a book."""
        rule = self.materials.get(material) or self.materials.get(Material.BOOK)
        return rule.loan_days if rule else None

    def notice_days(self) -> int:
        return NOTICE_DAYS if self.due_soon_days is None else self.due_soon_days

    def late_fee_cents(self, material: Material, days_late: int) -> int:
        """The fee a loan `days_late` days late has run up: every calendar day
        counts, at the rate (a higher one after `step_after_days` where the
        rules say so), up to the cap; exempt materials and rules without a
        rate charge nothing."""
        fee = self.late_fee
        rate = fee.get("cents_per_day")
        if days_late <= 0 or rate is None or material.value in fee.get("exempt", ()):
            return 0
        step_after, step_rate = fee.get("step_after_days"), fee.get("step_cents_per_day")
        if step_after is not None and step_rate is not None and days_late > step_after:
            cents = step_after * rate + (days_late - step_after) * step_rate
        else:
            cents = days_late * rate
        cap = fee.get("cap_cents")
        return cents if cap is None else min(cents, cap)


@dataclass(frozen=True)
class Site:
    """A view's registry entry: what its face says of itself, and its rules."""

    id: str
    name: str
    backend: str
    rules: Rules
    login_target: str | None = None
    building: str | None = None
    scope: str | None = None
    view: str | None = None  # Primo VE: the view id
    institution: str | None = None
    date_order: str = "dmy"


@functools.cache
def sites() -> dict[str, Site]:
    """Every consortium of the registry file, read by the demo for itself."""
    with REGISTRY.open("rb") as fh:
        registry = tomllib.load(fh)
    return {cid: Site(id=cid, name=t["name"], backend=t["backend"], rules=Rules.from_table(t),
                      login_target=t.get("login_target"), building=t.get("building"),
                      scope=t.get("scope"), view=t.get("view"),
                      institution=t.get("institution"), date_order=t.get("date_order", "dmy"))
            for cid, t in registry.items()}
