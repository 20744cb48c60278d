"""What needs a patron's attention: the digest `libcli remind` prints for cron.

Pure functions over accounts; nothing here fetches or prints.
"""

from __future__ import annotations

from datetime import date

from msgspec import Struct, field

from libcli.demo import typed
from libcli.i18n import _, day, ngettext, relative
from libcli.model import Balance, DueStatus, Hold, HoldStatus, Loan, Money
from libcli.policy import Consortium, borrowing_block, debt_from_earlier_year
from libcli.text import clean as _clean


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


def _action(loan: Loan) -> str:
    if loan.renewable:
        return typed(_("renew with: libcli renew {id}").format(id=loan.id))
    return _("return it: {reason}").format(
        reason=loan.not_renewable_reason or _("it cannot be renewed"))


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
        out.append(_("Overdue:"))
        for loan, action in digest.overdue:
            late = (today - loan.due_date).days
            fee = ""
            if loan.estimated_fee is not None and loan.estimated_fee.cents:
                fee = _(", estimated fee {amount}").format(amount=loan.estimated_fee)
            out.append("  " + _("{title} ({card}) was due {date}, {late}{fee}; {action}").format(
                title=clean(loan.title), card=clean(loan.card), date=day(loan.due_date),
                late=ngettext("{n} day late", "{n} days late", late).format(n=late), fee=fee,
                action=clean(action)))
    if digest.due:
        out.append(_("Due soon:"))
        for loan, action in digest.due:
            out.append("  " + _("{title} ({card}) due {date} ({when}); {action}").format(
                title=clean(loan.title), card=clean(loan.card), date=day(loan.due_date),
                when=relative(loan.due_date, today), action=clean(action)))
    if digest.ready:
        out.append(_("Ready for pickup:"))
        for hold in digest.ready:
            where = _(" at {place}").format(place=clean(hold.pickup_location)) \
                if hold.pickup_location else ""
            by = _(", pick up by {date}").format(date=day(hold.pickup_by)) if hold.pickup_by else ""
            out.append(f"  {clean(hold.title)} ({clean(hold.card)}){where}{by}")
    if digest.fees:
        out.append(_("Fees:"))
        for card, total, warnings in digest.fees:
            out.append("  " + typed(_("{card}: {total}; {warnings}; pay with: libcli pay --card {card}")
                                    .format(card=clean(card), total=total,
                                            warnings=clean("; ".join(warnings)))))
    return "\n".join(out)
