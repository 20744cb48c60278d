"""`libcli loans` and `libcli renew`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from libcli.cli import common, output
from libcli.cli.options import card_option, complete_ids, json_option
from libcli.demo import typed
from libcli.i18n import N_, _, ngettext, pgettext

if TYPE_CHECKING:  # libcli.model is imported where used: completion loads this module
    from libcli.model import Loan


def loan_rows(loans: list[Loan], today: date) -> list[list]:
    from libcli.model import DueStatus

    rows = []
    for loan in loans:
        colour = output.STATUS_COLOURS.get(loan.status)
        limit = "?" if loan.renewals_limit is None else str(loan.renewals_limit)
        note = "" if loan.renewable else (loan.not_renewable_reason or _("cannot be renewed"))
        if loan.status is DueStatus.OVERDUE:
            # None: the library's rules (the seeds) state no daily rate (Helmet, TUNI).
            fee = (_("fee unknown") if loan.estimated_fee is None
                   else _("est. fee {amount}").format(amount=loan.estimated_fee)
                   if loan.estimated_fee.cents else _("no late fee"))
            note = f"{fee}; {note}" if note else fee
        rows.append([
            loan.id, output.clean(loan.card), output.clean(loan.title), output.clean(loan.author),
            output.styled(f"{output.day(loan.due_date)} ({output.relative(loan.due_date, today)})",
                          colour),
            output.styled(status_word(loan.status), colour, bold=loan.status is DueStatus.OVERDUE),
            f"{'?' if loan.renewals_used is None else loan.renewals_used}/{limit}",
            output.clean(note),
        ])
    return rows


def status_word(status) -> str:
    return {"ok": pgettext("loan status", "ok"), "due_soon": pgettext("loan status", "due soon"),
            "overdue": pgettext("loan status", "overdue")}.get(status.value, status.value)


LOAN_HEADERS = [N_("ID"), N_("Card"), N_("Title"), N_("Author"), N_("Due"), N_("Status"),
                N_("Renewed"), N_("Note")]
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
    today = common.today()
    service = common.service(selected, today=today)
    results: list = []
    saved = None
    if offline:
        saved = service.saved_loans(selected)
        _say_saved(saved, today)
        all_loans = saved.loans
    else:
        results = service.read_loans(selected)
        all_loans = [l for r in results if r.ok for l in r.value]
    errors = common.report(results)
    shown = filter_loans(all_loans, today, due_within, overdue)
    if as_json:
        output.emit_json({"loans": [l.to_dict() for l in shown], "errors": errors,
                          "today": today.isoformat()}
                         | ({"saved_on": {c: d.isoformat() for c, d in saved.fetched.items()}}
                            if saved else {}))
    elif shown:
        output.table(LOAN_HEADERS, loan_rows(shown, today), **LOAN_FIT)
    elif not errors:
        output.info(_("No loans.") if due_within is None and not overdue else _("No loans match."))
    common.finish(results)


def _say_saved(saved, today: date) -> None:
    """On stderr: how old each card's saved loans are, and what is missing."""
    for message in saved.warnings:
        output.warn(message)
    for name in saved.missing:
        output.warn(_("card '{card}' has no saved loans yet; run `libcli loans` once online")
                    .format(card=name))
    for name, day in saved.fetched.items():
        days = (today - day).days
        age = _("today") if days == 0 else ngettext("{n} day ago", "{n} days ago", days).format(n=days)
        output.info(_("Loans of card '{card}' as saved on {date} ({age}).").format(
            card=name, date=output.day(day), age=age))


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
    from libcli.operations import Selection

    today = common.today()
    selected = common.select_cards(cards)
    report = common.service(selected, today=today).renew(
        selected, Selection(tuple(ids), all_, due_within), dry_run=dry_run)
    errors = common.report(report.results)
    if not report.rows:
        if as_json:
            output.emit_json({"dry_run": True, "plan": [], "errors": errors} if dry_run
                             else {"results": [], "errors": errors})
        else:
            output.info(_nothing(due_within))
    elif dry_run:
        render_plan(report.rows, today, as_json, errors)
    else:
        render_renewals(report.rows, as_json, errors)
    common.finish(report.results, partial=report.partial)


def render_plan(plan, today: date, as_json: bool, errors: list[dict]) -> None:
    plan = [(p, p.reason or _why(p.loan, today)) for p in plan]
    if as_json:
        output.emit_json({"dry_run": True, "errors": errors, "plan": [
            {"id": p.loan.id, "card": p.loan.card, "title": p.loan.title,
             "due_date": p.loan.due_date.isoformat(), "would_renew": p.would_renew,
             "reason": why} for p, why in plan]})
        return
    output.table([N_("ID"), N_("Card"), N_("Title"), N_("Due"), N_("Would"), N_("Why")],
                 [[p.loan.id, p.loan.card, output.clean(p.loan.title), output.day(p.loan.due_date),
                   _("renew") if p.would_renew else _("skip"), output.clean(why)]
                  for p, why in plan],
                 drop=("Due", "Card"), squeeze=("Title",), wrap=("Why",))


def render_renewals(rows, as_json: bool, errors: list[dict]) -> None:
    if as_json:
        output.emit_json({"results": [r.to_dict() for r in rows], "errors": errors})
        return
    output.table(
        [N_("ID"), N_("Card"), N_("Title"), N_("Result")],
        [[r.loan_id, r.card, output.clean(r.title),
          output.styled(_("renewed, due {date}").format(date=output.day(r.new_due_date)), "green")
          if r.renewed else output.styled(_("not renewed: {reason}").format(
              reason=output.clean(typed(r.message) or _("no reason given"))), "red")]
         for r in rows],
        drop=("Card",), squeeze=("Title",), wrap=("Result",),
    )


def _why(loan: Loan, today: date) -> str:
    days = (loan.due_date - today).days
    if days >= 0:
        return _("due {when}").format(when=output.relative(loan.due_date, today))
    return ngettext("overdue ({n} day)", "overdue ({n} days)", -days).format(n=-days)


def _nothing(due_within: int | None) -> str:
    if due_within is not None:
        return ngettext("Nothing to renew: no loans due within {n} day.",
                        "Nothing to renew: no loans due within {n} days.", due_within).format(
            n=due_within)
    return _("Nothing to renew.")
