"""What needs a patron's attention: the digest `libcli remind` prints for cron.

Pure functions over accounts; nothing here fetches or prints.
"""

from __future__ import annotations

from datetime import date

from msgspec import Struct, field

from libcli.demo import command
from libcli.model import Balance, DueStatus, Hold, HoldStatus, Loan, Money
from libcli.policy import Consortium, borrowing_block, debt_from_earlier_year
from libcli.text import clean as _clean

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CardAccount(Struct):
    card: str
    consortium: Consortium
    loans: list[Loan] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    balance: Balance | None = None


class Digest(Struct):
    due: list[tuple[Loan, str]] = field(default_factory=list)       # loan, what to do
    overdue: list[tuple[Loan, str]] = field(default_factory=list)
    ready: list[Hold] = field(default_factory=list)
    fees: list[tuple[str, Money, list[str]]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.due or self.overdue or self.ready or self.fees)

    def to_dict(self) -> dict:
        return {
            "due": [l.to_dict() | {"action": a} for l, a in self.due],
            "overdue": [l.to_dict() | {"action": a} for l, a in self.overdue],
            "ready": [h.to_dict() for h in self.ready],
            "fees": [{"card": c, "total_cents": m.cents, "currency": m.currency, "warnings": w}
                     for c, m, w in self.fees],
        }


def _day(d: date) -> str:
    return f"{WEEKDAYS[d.weekday()]} {d.isoformat()}"


def _action(loan: Loan) -> str:
    if loan.renewable:
        return f"renew with: {command('renew ' + loan.id)}"
    return f"return it: {loan.not_renewable_reason or 'it cannot be renewed'}"


def build_digest(accounts: list[CardAccount], today: date, within: int | None = None) -> Digest:
    """Loans due within `within` days (default: each library's notice period),
    overdue loans, holds ready for pickup, and balances that block borrowing."""
    digest = Digest()
    for acc in accounts:
        window = within if within is not None else acc.consortium.policy.notice_days
        for loan in acc.loans:
            days = (loan.due_date - today).days
            if loan.status is DueStatus.OVERDUE or days < 0:
                digest.overdue.append((loan, _action(loan)))
            elif days <= window:
                digest.due.append((loan, _action(loan)))
        digest.ready += [h for h in acc.holds if h.status is HoldStatus.READY]
        if acc.balance is not None:
            late = [(today - l.due_date).days for l in acc.loans]
            blocked = borrowing_block(acc.consortium.policy, debt=acc.balance.total,
                                      days_late=late, debt_from_earlier_year=
                                      debt_from_earlier_year(acc.balance, today))
            warnings = [blocked] if blocked else []
            if warnings:
                digest.fees.append((acc.card, acc.balance.total, warnings))
    digest.due.sort(key=lambda x: (x[0].due_date, x[0].card))
    digest.overdue.sort(key=lambda x: (x[0].due_date, x[0].card))
    digest.ready.sort(key=lambda h: (h.pickup_by or date.max, h.card))
    return digest


def digest_text(digest: Digest, today: date, clean=_clean) -> str:
    """Plain text, short, for a cron mail; every library's string cleaned
    (titles, places, the library's reason a loan cannot be renewed)."""
    out: list[str] = []
    if digest.overdue:
        out.append("Overdue:")
        for loan, action in digest.overdue:
            late = (today - loan.due_date).days
            fee = ""
            if loan.estimated_fee is not None and loan.estimated_fee.cents:
                fee = f", estimated fee {loan.estimated_fee}"
            out.append(f"  {clean(loan.title)} ({clean(loan.card)}) was due {_day(loan.due_date)}, "
                       f"{late} day{'s' if late != 1 else ''} late{fee}; {clean(action)}")
    if digest.due:
        out.append("Due soon:")
        for loan, action in digest.due:
            days = (loan.due_date - today).days
            when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
            out.append(f"  {clean(loan.title)} ({clean(loan.card)}) due {_day(loan.due_date)} ({when}); {clean(action)}")
    if digest.ready:
        out.append("Ready for pickup:")
        for hold in digest.ready:
            by = f", pick up by {_day(hold.pickup_by)}" if hold.pickup_by else ""
            where = f" at {clean(hold.pickup_location)}" if hold.pickup_location else ""
            out.append(f"  {clean(hold.title)} ({clean(hold.card)}){where}{by}")
    if digest.fees:
        out.append("Fees:")
        for card, total, warnings in digest.fees:
            out.append(f"  {clean(card)}: {total}; {clean('; '.join(warnings))}; pay with: {command('pay --card ' + card)}")
    return "\n".join(out)
