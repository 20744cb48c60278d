"""`libcli fees` and `libcli pay`."""

from __future__ import annotations

import sys
import time

import click

from libcli.cli import common, output
from libcli.cli.options import card_option, json_option, single_card_option
from libcli.errors import LibcliError, Refused

POLL_SECONDS = 3.0


async def balance_and_risk(backend):
    """The card's fees, and the loans when the rules ban borrowing on lateness."""
    if backend.policy.borrowing_ban.overdue_days is None:
        return await backend.fees(), None
    import asyncio

    # Both pages at once; the backend shares one login between them.
    balance, loans = await asyncio.gather(backend.fees(), backend.loans())
    return balance, loans


def fees_report(card, consortium, balance, loans, today) -> dict:
    from libcli.payment import verdict
    from libcli.policy import borrowing_warnings, debt_from_earlier_year

    v = verdict(consortium, balance)
    late = [(today - l.due_date).days for l in loans or []]
    warnings = borrowing_warnings(consortium.policy, balance.total, today, days_late=late,
                                  debt_from_earlier_year=debt_from_earlier_year(balance, today))
    return {
        "card": card.name,
        "library": card.library,
        "total_cents": balance.total.cents,
        "currency": balance.total.currency,
        "payable_online": v.payable,
        "reason": v.reason,
        "reason_text": v.message,
        "minimum_online_cents": v.minimum.cents if v.minimum else None,
        "payment_in_progress": balance.payment_in_progress,
        "warnings": warnings,
        "items": [f.to_dict() for f in balance.items],
    }


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
    from libcli.account import AccountService
    from libcli.cli import progress
    from libcli.demo import command
    from libcli.model import Money

    today = common.today()
    selected = common.select_cards(cards)
    with progress.on_stderr():  # as common.run: a waiting line while libraries are slow
        results = AccountService(today=today).run(selected, balance_and_risk)
    errors = common.report(results)
    reports = []
    from libcli.policy import get_consortium

    for r in results:
        if r.ok:
            balance, loans = r.value
            reports.append((r.card, balance, fees_report(r.card, get_consortium(r.card.library),
                                                         balance, loans, today)))
    if as_json:
        output.emit_json({"fees": [rep for _, _, rep in reports], "errors": errors})
        common.finish(results)
        return
    for card, balance, rep in reports:
        total = Money(rep["total_cents"], rep["currency"])
        click.echo(output.paint(f"{card.name} ({card.library}): {total}", None, bold=True))
        if balance.items:
            output.table(
                ["Type", "Title", "Description", "Date", "Amount", "Online"],
                [[f.fee_type.value.replace("_", " "), output.clean(f.title),
                  output.clean(f.description), output.day(f.created), str(f.amount),
                  "yes" if f.payable_online else "no"] for f in balance.items],
                drop=("Description", "Date", "Type"), squeeze=("Title", "Description"),
            )
        least = str(Money(rep["minimum_online_cents"])) if rep["minimum_online_cents"] else None
        # Not when the reason already names it ("below the online minimum 0.65 €").
        minimum = f" (online minimum {least})" if least and least not in (rep["reason_text"] or "") else ""
        if rep["total_cents"] == 0:
            click.echo("  Nothing to pay.")
        elif rep["payable_online"]:
            click.echo(output.paint(f"  Can be paid online now{minimum}: {command('pay --card ' + card.name)}", "green"))
        else:
            click.echo(f"  Cannot be paid online: {output.clean(rep['reason_text'])}{minimum}")
            if get_consortium(card.library).policy.bank_transfer:
                click.echo(f"  Bank-transfer details: {command('pay --card ' + card.name)}")
        for w in rep["warnings"]:
            click.echo(output.paint(f"  Warning: {w}", "red"))
        click.echo()
    common.finish(results)


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
@json_option
def pay(card, yes, no_browser, no_wait, timeout, amount, as_json):
    """Pay a card's whole fee balance online, where the library allows it.

    Checks the library's rules first (minimum amount, fees that cannot be
    paid online, e-mail on file), asks for confirmation, opens the payment
    page, then waits until the account shows the payment registered. For a
    library without online payment it prints the bank-transfer details.

    \b
    Examples:
      libcli pay --card mine
      libcli pay --card mine --yes --no-browser --amount 4.30
      libcli pay --card tallinn-card          # bank-transfer details
    """
    from libcli.account import AccountService
    from libcli.payment import (bank_transfer_json, bank_transfer_text, check_payment_url,
                                ensure_payable, registered)
    from libcli.policy import get_consortium

    chosen = common.one_card(card)
    consortium = get_consortium(chosen.library)
    service = AccountService()

    if consortium.policy.online_payment is None:
        [res] = service.run([chosen], lambda b: b.fees())
        amount = res.value.total if res.ok else None
        if res.error:
            output.card_error(chosen.name, chosen.library, res.error)
        transfer = consortium.policy.bank_transfer
        if transfer is None:
            raise Refused(f"{consortium.name} takes no online payments; pay at the library")
        if as_json:
            output.emit_json({"card": chosen.name, "online": False,
                              "bank_transfer": bank_transfer_json(transfer, amount)})
        else:
            click.echo(bank_transfer_text(transfer, amount, consortium.name))
        return

    async def main():
        async with service.open([chosen]) as run:
            backend = run.backends.get(chosen.name)
            if backend is None:
                raise run.errors[chosen.name]
            balance = await backend.fees()
            from libcli.model import Money

            expected = Money(amount, balance.total.currency) if amount is not None else None
            ensure_payable(consortium, balance, expected)
            if not yes:
                if not output.isatty_stdin():
                    raise common.need_decision(f"paying {balance.total} needs confirmation", "--yes")
                if not output.confirm(f"Pay the whole balance of {balance.total} for card "
                                      f"'{chosen.name}' online?"):
                    raise click.exceptions.Abort()
            # The amount shown and confirmed is the one paid: start_payment
            # re-reads the fines page and the terms page and refuses, before
            # the payment is confirmed, if the amount is not `balance.total`.
            async with run.exclusive(chosen) as changed:  # one writer per account
                if changed:  # another libcli wrote meanwhile: the balance is read again
                    ensure_payable(consortium, await backend.fees(), balance.total)
                started = await backend.start_payment(balance)
            if started.amount != balance.total:
                raise Refused(f"the library started a payment of {started.amount}, not the "
                              f"{balance.total} confirmed; do not pay it",
                              hint=f"check with: libcli fees --card {chosen.name}")
            url = check_payment_url(started.url, backend_url=str(backend.client.base_url),
                                    consortium=consortium)
            if as_json:
                output.emit_json(started.to_dict() | {"url": url})
            else:
                click.echo(url)
            if chosen.demo:
                from libcli.demo import pay_at_provider

                output.info("Demo library: paying at the simulated payment provider.")
                await pay_at_provider(backend.client, url, chosen)
            elif not no_browser:
                import webbrowser

                if not webbrowser.open(url):
                    output.info("Open the address above in a browser to pay.")
            if no_wait:
                output.info(f"When you have paid, check with: libcli fees --card {chosen.name}")
                return None
            return await _wait_registered(backend, started.amount, timeout, registered)

    try:
        outcome = common.run(main)
    except LibcliError as exc:
        if isinstance(exc, (Refused,)):
            raise
        common.card_failed(chosen, exc)
    if outcome is True:
        output.info("Payment registered.", "green")
    elif outcome is False:
        output.info(f"The payment is not registered yet. Check later with: libcli fees --card {chosen.name}")
        click.get_current_context().exit(3)


def _cents(value: str | None) -> int | None:
    """'4.30', '4,30', '4.30 €' → 430 cents (no floats)."""
    if value is None:
        return None
    import re

    m = re.fullmatch(r"\s*(\d+)(?:[.,](\d{1,2}))?\s*(?:€|EUR)?\s*", value, re.I)
    if not m:
        raise click.BadParameter(f"'{value}' is not an amount like 4.30")
    return int(m[1]) * 100 + int((m[2] or "0").ljust(2, "0"))


async def _wait_registered(backend, amount, timeout, registered) -> bool:
    """Poll the fines page until the payment shows; a spinner on stderr."""
    import asyncio

    spinner = "|/-\\"
    tty = output.isatty(sys.stderr)
    deadline = time.monotonic() + timeout
    i = 0
    try:
        while time.monotonic() < deadline:
            balance = await backend.fees()
            if registered(amount, balance):
                if tty:
                    click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
                return True
            if tty:
                click.echo(f"\rWaiting for the payment to be registered {spinner[i % 4]} "
                           "(Ctrl-C to stop waiting)", err=True, nl=False)
            i += 1
            await asyncio.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("", err=True)
        return False
    click.echo("", err=True)
    return False
