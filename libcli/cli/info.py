"""`libcli libraries` and `libcli doctor`: what libcli knows and where it keeps it."""

from __future__ import annotations

import click

from libcli.cli import output
from libcli.cli.options import json_option


@click.command()
@json_option
def libraries(as_json):
    """List the known libraries and their main rules.

    \b
    Examples:
      libcli libraries
      libcli libraries --json | jq '.libraries[] | {id, online_payment_minimum_cents}'
    """
    from libcli.model import Money
    from libcli.policy import consortia

    known = list(consortia().values())
    if as_json:
        output.emit_json({"libraries": [c.to_dict() for c in known]})
        return
    rows = []
    for c in known:
        pay = c.policy.online_payment
        if pay is None:
            online = "no (bank transfer)" if c.policy.bank_transfer else "no"
        elif pay.minimum_cents is None:
            online = "yes"
        else:
            online = f"yes, from {Money(pay.minimum_cents)}"
        limit = c.policy.renewal_limit
        if c.source != "builtin":
            online = "as the site states"  # no seed: the fines page says
        notice = c.policy.due_soon_days
        rows.append([c.id, c.name, c.backend, c.url, limit if limit is not None else "-",
                     notice if notice is not None else "-", online])
    output.table(["ID", "Name", "System", "Address", "Renewals", "Notice days", "Online payment"],
                 rows, drop=("Address", "Notice days", "Renewals", "System"),
                 squeeze=("Name", "Online payment"))


@click.command()
@json_option
def doctor(as_json):
    """Show the keyring in use, libcli's paths and each card's PIN source.

    \b
    Examples:
      libcli doctor
      libcli doctor --json
    """
    from libcli import __version__

    report = _doctor_report()
    card_rows, problems = report["cards"], report["problems"]
    if as_json:
        output.emit_json(report)
        return
    click.echo(f"libcli {__version__}")
    click.echo(f"keyring:     {report['keyring']}")
    click.echo(f"config file: {report['config_file']}")
    click.echo(f"cache dir:   {report['cache_dir']}")
    click.echo(f"data dir:    {report['data_dir']}")
    for problem in problems:
        output.warn(problem)
    if card_rows:
        output.table(["Card", "Library", "PIN from", "PIN available"],
                     [[r["name"], r["library"], r["pin_source"], "yes" if r["pin_available"] else "NO"]
                      for r in card_rows], wrap=("PIN from",))
    else:
        click.echo("no cards yet")


def _doctor_report() -> dict:
    """The keyring, libcli's folders and each card's PIN source (no network)."""
    from libcli import __version__, storage
    from libcli.cards import CardStore, config_path, keyring_backend, keyring_description
    from libcli.errors import LibcliError

    keyring_ok = True
    try:
        keyring_backend()
    except LibcliError:
        keyring_ok = False
    problems = []
    try:
        cards = CardStore().cards()
    except LibcliError as exc:
        cards, problems = [], [exc.message]
    card_rows = []
    for c in cards:
        if c.demo:
            source, ok = "demo (public PIN)", True
        elif c.pin_command:
            source, ok = f"command: {c.pin_command}", True
        else:
            source, ok = "keyring", keyring_ok and _has_keyring_pin(c)
        card_rows.append({"name": c.name, "library": c.library, "pin_source": source,
                          "pin_available": ok})
    return {
        "version": __version__,
        "keyring": keyring_description(),
        "keyring_usable": keyring_ok,
        "config_file": str(config_path()),
        "cache_dir": str(storage.cache_dir()),
        "data_dir": str(storage.data_dir()),
        "cards": card_rows,
        "problems": problems,
    }


def _has_keyring_pin(card) -> bool:
    from libcli.cards import SERVICE, keyring_backend, keyring_user

    try:
        return bool(keyring_backend().get_password(SERVICE, keyring_user(card)))
    except Exception:
        return False
