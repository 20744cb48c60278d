"""`libcli loans` and `libcli renew`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from libcli.cli import common, output
from libcli.cli.options import card_option, complete_ids, json_option
from libcli.errors import UsageError

if TYPE_CHECKING:  # libcli.model is imported where used: completion loads this module
    from libcli.model import Loan


def loan_rows(loans: list[Loan], today: date) -> list[list]:
    from libcli.model import DueStatus

    rows = []
    for loan in loans:
        colour = output.STATUS_COLOURS.get(loan.status)
        limit = "?" if loan.renewals_limit is None else str(loan.renewals_limit)
        note = "" if loan.renewable else (loan.not_renewable_reason or "cannot be renewed")
        if loan.status is DueStatus.OVERDUE and loan.estimated_fee is not None:
            fee = f"est. fee {loan.estimated_fee}" if loan.estimated_fee.cents else "no late fee"
            note = f"{fee}; {note}" if note else fee
        rows.append([
            loan.id, output.clean(loan.card), output.clean(loan.title), output.clean(loan.author),
            output.styled(f"{output.day(loan.due_date)} ({output.relative(loan.due_date, today)})",
                          colour),
            output.styled(loan.status.value.replace("_", " "), colour,
                          bold=loan.status is DueStatus.OVERDUE),
            f"{'?' if loan.renewals_used is None else loan.renewals_used}/{limit}",
            output.clean(note),
        ])
    return rows


LOAN_HEADERS = ["ID", "Card", "Title", "Author", "Due", "Status", "Renewed", "Note"]
# On a narrow terminal: the due date says late or soon (and is coloured), so
# the status goes before the card; the ID and the due date always stay.
LOAN_FIT = {"drop": ("Note", "Renewed", "Author", "Status", "Card"),
            "squeeze": ("Title", "Author", "Note")}


def filter_loans(loans: list[Loan], today: date, due_within: int | None, overdue: bool):
    from libcli.model import DueStatus

    if overdue:
        loans = [l for l in loans if l.status is DueStatus.OVERDUE]
    if due_within is not None:
        loans = [l for l in loans if (l.due_date - today).days <= due_within]
    return sorted(loans, key=lambda l: (l.due_date, l.card, l.title))


async def fetch_loans(run, today: date, *, with_debt: bool = False):
    """Every card's loans, with due status and fee estimates from policy.

    ``with_debt``: where a library bans renewals on debt (Heili, Helmet,
    TUNI), its fees are read alongside the loans (same round trip), so that
    a blocked borrower is not offered renewals the library will refuse."""
    import asyncio

    from libcli.account import save_snapshot, with_status
    from libcli.errors import LibcliError

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


def loans_from_snapshot(cards, today: date) -> tuple[list[Loan], list[str]]:
    from msgspec import structs

    from libcli.account import snapshot_loans, with_status
    from libcli.errors import ConfigError
    from libcli.policy import get_consortium

    loans, missing = [], []
    for card in cards:
        try:
            items = snapshot_loans(card)
        except ConfigError as exc:  # that card's problem; the others' loans still show
            output.warn(exc.message)
            continue
        if items is None:
            missing.append(card.name)
            continue
        # A saved fee estimate is of the day it was read; the rules give today's.
        items = [structs.replace(l, estimated_fee=None) for l in items]
        loans += with_status(items, get_consortium(card.library), today)
    return loans, missing


@click.command()
@card_option
@click.option("--due-within", type=click.IntRange(min=0), metavar="DAYS",
              help="Only loans due within DAYS days (overdue ones included).")
@click.option("--overdue", is_flag=True, help="Only overdue loans.")
@click.option("--offline", is_flag=True, help="Show the last fetched loans; no network.")
@json_option
def loans(cards, due_within, overdue, offline, as_json):
    """List the loans of every card, by due date.

    Due soon is yellow and overdue red (on a terminal, without NO_COLOR).
    Overdue loans show the late fee estimated from the library's rules.

    \b
    Examples:
      libcli loans
      libcli loans --due-within 3 --card mine
      libcli loans --json | jq -r '.loans[] | select(.status=="overdue") | .title'
    """
    show_loans(common.select_cards(cards), due_within=due_within, overdue=overdue,
               offline=offline, as_json=as_json)


def show_loans(selected, *, due_within=None, overdue=False, offline=False, as_json=False):
    """Fetch (or read from the snapshot), print, and exit with the right code."""
    from libcli.account import AccountService

    today = common.today()
    errors: list[dict] = []
    results = []
    if offline:
        all_loans, missing = loans_from_snapshot(selected, today)
        for name in missing:
            output.warn(f"card '{name}' has no saved loans yet; run `libcli loans` once online")
    else:
        async def main():
            async with AccountService(today=today).open(selected) as run:
                return await fetch_loans(run, today)

        results = common.run(main)
        errors = common.report(results)
        all_loans = [l for r in results if r.ok for l in r.value]
    shown = filter_loans(all_loans, today, due_within, overdue)
    if as_json:
        output.emit_json({"loans": [l.to_dict() for l in shown], "errors": errors,
                          "today": today.isoformat()})
    elif shown:
        output.table(LOAN_HEADERS, loan_rows(shown, today), **LOAN_FIT)
    elif not errors:
        output.info("No loans." if due_within is None and not overdue else "No loans match.")
    common.finish(results)


@click.command()
@click.argument("ids", nargs=-1, shell_complete=complete_ids("loans"))
@click.option("--all", "all_", is_flag=True, help="Renew every loan the library lets you renew.")
@click.option("--due-within", type=click.IntRange(min=0), metavar="DAYS",
              help="Renew only loans due within DAYS days (what a daily job wants).")
@click.option("--dry-run", is_flag=True, help="Say what would be renewed and why; post nothing.")
@card_option
@json_option
def renew(ids, all_, due_within, dry_run, cards, as_json):
    """Renew loans by ID (unique prefixes work), all of them, or those due soon.

    Prints one row per loan: renewed with the new due date, or not renewed
    with the library's reason. Exits 3 when some loans were not renewed.

    \b
    Examples:
      libcli renew 3fa91c2 b77
      libcli renew --due-within 2          # for a daily cron job
      libcli renew --all --card mine --dry-run
    """
    from msgspec.structs import replace

    from libcli.account import AccountService, save_snapshot, with_status

    modes = sum(bool(x) for x in (ids, all_, due_within is not None))
    if modes != 1:
        raise UsageError("say what to renew: loan IDs, --all, or --due-within DAYS (just one)")
    today = common.today()
    selected = common.select_cards(cards)
    skipped: set[str] = set()  # renewed meanwhile by another process, no longer due soon

    async def main():
        async with AccountService(today=today).open(selected) as run:
            fetched = await fetch_loans(run, today, with_debt=True)
            loans = [l for r in fetched if r.ok for l in r.value]
            failed = [r.card.name for r in fetched if not r.ok]
            if ids:
                chosen = common.resolve_ids(loans, ids, "loan", failed)
            elif all_:
                chosen = list(loans)
            else:
                chosen = [l for l in loans if (l.due_date - today).days <= due_within]
            chosen.sort(key=lambda l: (l.due_date, l.card))
            tryable = [l for l in chosen if l.renewable]
            if dry_run:
                return fetched, chosen, None
            by_card: dict[str, list[Loan]] = {}
            for loan in tryable:
                by_card.setdefault(loan.card, []).append(loan)
            cards_to_post = [c for c in selected if c.name in by_card]
            fresh: dict[str, list[Loan]] = {}

            async def post(b):
                # One writer per account across processes (cron's renew and
                # the patron's at once): under the lock, an account another
                # process wrote to since it was read is read again, and only
                # what still needs renewing is renewed.
                async with run.exclusive(b.card) as changed:
                    mine, already = by_card[b.card.name], []
                    if changed:
                        now = with_status(await b.loans(), b.consortium, today)
                        fresh[b.card.name] = now
                        mine, already = recheck(mine, now, today, due_within, skipped)
                    return (await b.renew(mine) if mine else []) + already

            posted = await run.gather(post, cards=cards_to_post)
            for r in posted:
                if r.ok:
                    renewed = {x.loan_id: x for x in r.value if x.renewed}
                    base = fresh.get(r.card.name) or [l for l in loans if l.card == r.card.name]
                    mine = [replace(l, due_date=renewed[l.id].new_due_date or l.due_date,
                                    renewals_used=None if l.renewals_used is None
                                    else l.renewals_used + 1) if l.id in renewed else l
                            for l in base]
                    save_snapshot(r.card, loans=mine, today=today)
            return fetched, chosen, posted

    fetched, chosen, posted = common.run(main)
    errors = common.report(fetched if posted is None else fetched + posted)

    if dry_run:
        plan = [{"id": l.id, "card": l.card, "title": l.title, "due_date": l.due_date.isoformat(),
                 "would_renew": l.renewable,
                 "reason": _why(l, today) if l.renewable else (l.not_renewable_reason or "cannot be renewed")}
                for l in chosen]
        if as_json:
            output.emit_json({"dry_run": True, "plan": plan, "errors": errors})
        elif plan:
            output.table(["ID", "Card", "Title", "Due", "Would", "Why"],
                         [[p["id"], p["card"], output.clean(p["title"]),
                           output.day(date.fromisoformat(p["due_date"])),
                           "renew" if p["would_renew"] else "skip", output.clean(p["reason"])]
                          for p in plan],
                         drop=("Due", "Card"), squeeze=("Title",), wrap=("Why",))
        else:
            output.info(_nothing(due_within))
        common.finish(fetched)
        return

    results_by_id = {}
    for r in posted:
        if r.ok:
            for res in r.value:
                results_by_id[res.loan_id] = replace(res, card=r.card.name)
    rows = []
    for loan in chosen:
        if loan.id in skipped:
            continue
        res = results_by_id.get(loan.id)
        if res is None:
            if not loan.renewable:
                message = loan.not_renewable_reason or "cannot be renewed"
            elif loan.card in {e["card"] for e in errors}:
                message = "not attempted: the card's library failed (see above)"
            else:
                message = "the library did not report a result"
            from libcli.model import RenewResult

            res = RenewResult(loan.id, loan.title, False, None, message, card=loan.card)
        rows.append(res)
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in rows], "errors": errors})
    elif rows:
        output.table(
            ["ID", "Card", "Title", "Result"],
            [[r.loan_id, r.card, output.clean(r.title),
              output.styled(f"renewed, due {output.day(r.new_due_date)}", "green") if r.renewed
              else output.styled(f"not renewed: {output.clean(r.message or 'no reason given')}", "red")]
             for r in rows],
            drop=("Card",), squeeze=("Title",), wrap=("Result",),
        )
    else:
        output.info(_nothing(due_within))
    common.finish(fetched + [p for p in posted],
                  partial=any(not r.renewed and r.message != ALREADY for r in rows))


ALREADY = "already renewed (by another libcli run at the same moment)"


def recheck(chosen: list[Loan], now: list[Loan], today: date, due_within: int | None,
            skipped: set[str]):
    """The chosen loans against the account read again under the lock: a loan
    whose due date or renewal count moved was renewed meanwhile (with
    --due-within: skipped when no longer due within it; by ID: reported as
    already renewed, not renewed a second time). Returns (to renew, results)."""
    from libcli.model import RenewResult

    current = {l.id: l for l in now}
    todo, done = [], []
    for loan in chosen:
        cur = current.get(loan.id)
        if cur is None:
            done.append(RenewResult(loan.id, loan.title, False, None,
                                    "no longer on the account", card=loan.card))
        elif cur.due_date != loan.due_date or cur.renewals_used != loan.renewals_used:
            if due_within is not None and (cur.due_date - today).days > due_within:
                skipped.add(loan.id)
            else:
                done.append(RenewResult(loan.id, loan.title, False, cur.due_date, ALREADY,
                                        card=loan.card))
        elif cur.renewable:
            todo.append(cur)
        else:
            done.append(RenewResult(loan.id, loan.title, False, None,
                                    cur.not_renewable_reason or "cannot be renewed",
                                    card=loan.card))
    return todo, done


def _why(loan: Loan, today: date) -> str:
    days = (loan.due_date - today).days
    return f"due {output.relative(loan.due_date, today)}" if days >= 0 else f"overdue ({-days} days)"


def _nothing(due_within: int | None) -> str:
    if due_within is not None:
        return f"Nothing to renew: no loans due within {due_within} days."
    return "Nothing to renew."
