"""`libcli fees` and `libcli pay`."""

from __future__ import annotations

import sys

import click

from libcli.cli import common, output
from libcli.cli.options import card_option, json_option, single_card_option
from libcli.demo import typed
from libcli.errors import LibcliError, Refused
from libcli.i18n import N_, _

SPINNER = "|/-\\"


@click.command()
@card_option
@json_option
def fees(cards, as_json):
    """Show each card's fees, the total, and whether it can be paid online now.

    Warns when the right to borrow is lost or at risk.

    \b
    Examples:
      libcli fees
      libcli fees --card kid --json | jq '.fees[0].total_cents'
    """
    selected = common.select_cards(cards)
    report = common.service(selected, today=common.today()).read_fees(selected)
    errors = common.report(report.results)
    if as_json:
        output.emit_json({"fees": [rep.to_dict() for rep in report.rows], "errors": errors})
    else:
        for rep in report.rows:
            _render_fees(rep)
    common.finish(report.results)


def _render_fees(rep) -> None:
    card, balance = rep.card, rep.balance
    click.echo(output.paint(f"{card.name} ({card.library}): {balance.total}", None, bold=True))
    if balance.items:
        from libcli.policy import FEE_NAMES

        output.table(
            [N_("Type"), N_("Title"), N_("Description"), N_("Date"), N_("Amount"), N_("Online")],
            [[_(FEE_NAMES.get(f.fee_type, f.fee_type.value)), output.clean(f.title),
              output.clean(f.description), output.day(f.created), str(f.amount),
              _("yes") if f.payable_online else _("no")] for f in balance.items],
            drop=("Description", "Date", "Type"), squeeze=("Title", "Description"),
        )
    least = str(rep.minimum) if rep.minimum else None
    # Not when the reason already names it ("below the online minimum 0.65 €").
    minimum = (_(" (online minimum {amount})").format(amount=least)
               if least and least not in (rep.reason_text or "") else "")
    if not balance.total.cents:
        click.echo("  " + _("Nothing to pay."))
    elif rep.payable_online:
        click.echo(output.paint("  " + typed(_("Can be paid online now{minimum}: libcli pay --card "
                                                 "{card}").format(minimum=minimum, card=card.name)),
                                "green"))
    else:
        click.echo("  " + _("Cannot be paid online: {reason}{minimum}").format(
            reason=output.clean(rep.reason_text), minimum=minimum))
        if rep.bank_transfer:
            click.echo("  " + typed(_("Bank-transfer details: libcli pay --card {card}").format(
                card=card.name)))
    for w in rep.warnings:
        click.echo(output.paint("  " + _("Warning: {warning}").format(warning=w), "red"))
    click.echo()


@click.command()
@single_card_option(required=False)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed in scripts).")
@click.option("--no-browser", is_flag=True, help="Print the payment address instead of opening a browser.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the payment to be registered.")
@click.option("--timeout", type=click.IntRange(10, 3600), default=900, show_default=True,
              metavar="SECONDS", help="How long to wait for the payment to be registered.")
@click.option("--amount", metavar="EUR", callback=lambda ctx, p, v: _cents(v),
              help="The balance you expect to pay (as `libcli fees` showed it, e.g. 4.30); "
                   "nothing is paid if the library's balance differs.")
@click.option("--resume", is_flag=True,
              help="Open again a payment libcli started that was stopped, and wait for it.")
@json_option
def pay(card, yes, no_browser, no_wait, timeout, amount, resume, as_json):
    """Pay a card's whole fee balance online, where the library allows it.

    Checks the library's rules first (minimum amount, fees that cannot be
    paid online, e-mail on file), asks for confirmation, opens the payment
    page, then waits until the account shows the payment registered. For a
    library without online payment it prints the bank-transfer details.
    A payment left unfinished is shown with its address and expiry, and
    --resume opens it again.

    \b
    Examples:
      libcli pay --card mine
      libcli pay --card mine --yes --no-browser --amount 4.30
      libcli pay --card mine --resume
      libcli pay --card tallinn-card          # bank-transfer details
    """
    from libcli.model import Money
    from libcli.operations import PaymentSteps

    chosen = common.one_card(card)
    steps = PaymentSteps(confirm=None if yes else _confirm(chosen.name),
                         show=lambda started, url: _show(started, url, as_json, chosen.demo),
                         open_url=None if no_browser else _browser,
                         wait_seconds=None if no_wait else timeout,
                         tick=_spinner if output.isatty(sys.stderr) else None)
    try:
        done = common.service([chosen]).pay(
            chosen, Money(amount) if amount is not None else None, steps, resume=resume)
    except Refused:
        raise
    except LibcliError as exc:
        common.card_failed(chosen, exc)
    if steps.tick is not None and done.registered is not None:
        click.echo("\r" + " " * 60 + "\r", err=True, nl=False)  # the spinner's line
    if not done.online:
        _bank_transfer(done, as_json)
    elif not done.confirmed:
        raise click.exceptions.Abort()
    elif done.registered:
        output.info(_("Payment registered."), "green")
    elif done.registered is None:
        output.info(_("When you have paid, check with: libcli fees --card {card}").format(
            card=chosen.name))
    else:
        output.info(_("The payment is not registered yet. Check later with: libcli fees --card "
                      "{card} (or finish it with: libcli pay --card {card} --resume)").format(
            card=chosen.name))
        click.get_current_context().exit(3)


def _confirm(card_name: str):
    def ask(total) -> bool:
        if not output.isatty_stdin():
            raise common.need_decision(_("paying {total} needs confirmation").format(total=total),
                                       "--yes")
        return output.confirm(_("Pay the whole balance of {total} for card '{card}' online?").format(
            total=total, card=card_name))

    return ask


def _show(started, url: str, as_json: bool, demo: bool) -> None:
    if as_json:
        output.emit_json(started.to_dict() | {"url": url})
    else:
        click.echo(url)
    if demo:
        output.info(_("Demo library: paying at the simulated payment provider."))


def _browser(url: str) -> None:
    import webbrowser

    if not webbrowser.open(url):
        output.info(_("Open the address above in a browser to pay."))


def _spinner(polls: int) -> None:
    click.echo("\r" + _("Waiting for the payment to be registered {spinner} (Ctrl-C to stop "
                        "waiting)").format(spinner=SPINNER[polls % 4]), err=True, nl=False)


def _bank_transfer(done, as_json: bool) -> None:
    from libcli.payment import bank_transfer_json, bank_transfer_text
    from libcli.policy import get_consortium

    if done.error is not None:
        output.card_error(done.card.name, done.card.library, done.error)
    if as_json:
        output.emit_json({"card": done.card.name, "online": False,
                          "bank_transfer": bank_transfer_json(done.bank_transfer, done.amount)})
    else:
        click.echo(bank_transfer_text(done.bank_transfer, done.amount,
                                      get_consortium(done.card.library).name))


def _cents(value: str | None) -> int | None:
    """'4.30', '4,30', '4.30 €' → 430 cents (no floats)."""
    if value is None:
        return None
    import re

    m = re.fullmatch(r"\s*(\d+)(?:[.,](\d{1,2}))?\s*(?:€|EUR)?\s*", value, re.I)
    if not m:
        raise click.BadParameter(_("'{value}' is not an amount like 4.30").format(value=value))
    return int(m[1]) * 100 + int((m[2] or "0").ljust(2, "0"))
