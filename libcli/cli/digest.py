"""`libcli status`, `libcli remind` and `libcli calendar`: whole-account views."""

from __future__ import annotations

import click

from libcli.cli import common, output
from libcli.cli.options import card_option, json_option
from libcli.i18n import N_, _, ngettext
from libcli.model import DueStatus, HoldStatus, Money


def fetch_accounts(cards, today):
    """Every card's loans, holds and fees, all cards and pages at once."""
    return common.service(cards, today=today).read_accounts(cards)


@click.command()
@card_option
@json_option
def status(cards, as_json):
    """One line per card: loans, due soon, overdue, holds ready, balance.

    \b
    Examples:
      libcli status
      libcli status --json
    """
    today = common.today()
    selected = common.select_cards(cards)
    results, accounts = fetch_accounts(selected, today)
    errors = common.report(results)
    rows = []
    for acc in accounts:
        count = lambda s: sum(1 for l in acc.loans if l.status is s)  # noqa: E731
        balance = acc.balance.total if acc.balance else Money(0)
        rows.append({
            "card": acc.card, "library": acc.consortium.id, "loans": len(acc.loans),
            "due_soon": count(DueStatus.DUE_SOON), "overdue": count(DueStatus.OVERDUE),
            "holds": len(acc.holds),
            "holds_ready": sum(1 for h in acc.holds if h.status is HoldStatus.READY),
            "balance_cents": balance.cents, "currency": balance.currency,
        })
    if as_json:
        output.emit_json({"cards": rows, "errors": errors, "today": today.isoformat()})
    elif rows:
        output.table(
            [N_("Card"), N_("Library"), N_("Loans"), N_("Due soon"), N_("Overdue"), N_("Holds"),
             N_("Ready"), N_("Balance")],
            [[r["card"], r["library"], r["loans"],
              output.styled(r["due_soon"], "yellow" if r["due_soon"] else None),
              output.styled(r["overdue"], "red" if r["overdue"] else None),
              r["holds"], output.styled(r["holds_ready"], "green" if r["holds_ready"] else None),
              str(Money(r["balance_cents"], r["currency"]))] for r in rows],
            drop=("Holds", "Library"),
        )
    common.finish(results)


@click.command()
@card_option
@click.option("--within", type=click.IntRange(min=0), metavar="DAYS",
              help="Loans due within DAYS days (default: each library's own notice period).")
@json_option
def remind(cards, within, as_json):
    """Print what needs attention; print nothing when nothing does (for cron).

    Loans due soon (renewable or to be returned), overdue loans with the
    estimated fee, holds ready for pickup, and balances that block borrowing.
    Cron mails whatever a job prints, so a quiet day sends no mail.

    \b
    Examples:
      libcli remind
      libcli remind --within 5
      # crontab: every morning at 7
      0 7 * * * libcli remind
    """
    from libcli.reminders import build_digest, digest_text

    today = common.today()
    selected = common.select_cards(cards)
    results, accounts = fetch_accounts(selected, today)
    errors = common.report(results)
    digest = build_digest(accounts, today, within)
    if as_json:
        output.emit_json(digest.to_dict() | {"errors": errors, "today": today.isoformat()})
    elif not digest.empty():
        click.echo(digest_text(digest, today, clean=output.clean))
    common.finish(results)


@click.command()
@card_option
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (default: standard output).")
@click.option("--alarm-days", type=click.IntRange(0, 14), default=1, show_default=True,
              help="Remind this many days before (at 09:00).")
@json_option
def calendar(cards, path, alarm_days, as_json):
    """Write an iCalendar file of due dates and pickup deadlines.

    Each loan and each ready hold is one all-day event with a stable UID, so
    importing the file again updates events instead of duplicating them.
    With --json, the events as JSON (and the file, with -o, still written).

    \b
    Examples:
      libcli calendar -o ~/library.ics
      libcli calendar --card kid > kid.ics
      libcli calendar --json | jq -r '.events[] | "\\(.date) \\(.summary)"'
    """
    from libcli.ics import build_calendar

    today = common.today()
    selected = common.select_cards(cards)
    results, accounts = fetch_accounts(selected, today)
    errors = common.report(results)
    loans = [l for a in accounts for l in a.loans]
    holds = [h for a in accounts for h in a.holds]
    data = build_calendar(loans, holds, alarm_days=alarm_days)
    if path:
        from pathlib import Path

        from libcli.storage import atomic_write

        atomic_write(Path(path), data.decode("utf-8"))
        if not as_json:
            ready = sum(1 for h in holds if h.status is HoldStatus.READY)
            output.info(_("Wrote {due_dates} and {deadlines} to {path}").format(
                due_dates=ngettext("{n} due date", "{n} due dates", len(loans)).format(n=len(loans)),
                deadlines=ngettext("{n} pickup deadline", "{n} pickup deadlines", ready).format(n=ready),
                path=path))
    if as_json:
        output.emit_json({"events": _events(data), "errors": errors, "path": path})
    elif not path:
        click.echo(data.decode("utf-8"), nl=False)
    common.finish(results)


def _events(ical: bytes) -> list[dict]:
    """The calendar's events read back from the iCalendar data, so the JSON
    says exactly what the file does."""
    from icalendar import Calendar

    return [{"uid": str(ev["uid"]), "date": ev.decoded("dtstart").isoformat(),
             "summary": str(ev["summary"]), "description": str(ev.get("description", "")),
             "location": str(ev["location"]) if "location" in ev else None}
            for ev in Calendar.from_ical(ical).walk("VEVENT")]
