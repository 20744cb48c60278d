"""`libcli libraries` and `libcli doctor`: what libcli knows and where it keeps it."""

from __future__ import annotations

import click

from libcli.cli import output
from libcli.cli.options import json_option
from libcli.i18n import N_, _


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
            online = _("no (bank transfer)") if c.policy.bank_transfer else _("no")
        elif pay.minimum_cents is None:
            online = _("yes")
        else:
            online = _("yes, from {amount}").format(amount=Money(pay.minimum_cents))
        limit = c.policy.renewal_limit
        if c.source != "builtin":
            online = _("as the site states")  # no seed: the fines page says
        notice = c.policy.due_soon_days
        rows.append([c.id, c.name, c.backend, c.url, limit if limit is not None else "-",
                     notice if notice is not None else "-", online])
    output.table([N_("ID"), N_("Name"), N_("System"), N_("Address"), N_("Renewals"),
                  N_("Notice days"), N_("Online payment")],
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
    fields = [(_("keyring:"), report["keyring"]), (_("config file:"), report["config_file"]),
              (_("cache dir:"), report["cache_dir"]), (_("data dir:"), report["data_dir"])]
    width = max(len(label) for label, _value in fields)
    for label, value in fields:
        click.echo(f"{label:<{width}} {value}")
    for problem in problems:
        output.warn(problem)
    if card_rows:
        output.table([N_("Card"), N_("Library"), N_("PIN from"), N_("PIN available")],
                     [[r["name"], r["library"], r["pin_source"],
                       _("yes") if r["pin_available"] else _("NO")]
                      for r in card_rows], wrap=("PIN from",))
    else:
        click.echo(_("no cards yet"))


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
