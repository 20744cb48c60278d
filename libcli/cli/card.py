"""`libcli card ...`: the stored cards. PINs are never arguments."""

from __future__ import annotations

import sys

import click

from libcli.cli import SuggestingGroup, output
from libcli.cli.options import _complete_cards, json_option, library_option
from libcli.errors import PinError, UsageError
from libcli.i18n import N_, _
from libcli.model import Card


PIN_TRIES = 3


def _read_pin(pin_stdin: bool) -> str:
    from libcli.cards import check_pin
    from libcli.redact import no_core_dumps

    no_core_dumps()
    if pin_stdin:
        if output.stdin_closed():
            raise UsageError(_("--pin-stdin, but standard input is closed: no PIN to read"),
                             hint=_("pipe the PIN in: printf '%s\\n' \"$PIN\" | libcli card ... --pin-stdin"))
        line = sys.stdin.readline()
        return check_pin(line)
    if not output.isatty_stdin():
        raise UsageError(
            _("no terminal to ask for the PIN"),
            hint=_("pipe it in with --pin-stdin, or use --pin-command CMD"),
        )
    for _attempt in range(PIN_TRIES):
        first = output.ask(_("PIN"), hide_input=True, default="", show_default=False)
        check_pin(first)
        second = output.ask(_("PIN again"), hide_input=True, default="", show_default=False)
        if first == second:
            return check_pin(first)
        output.info(_("The two PINs differ; type them again."))
    raise PinError(_("the two PINs differed {n} times; nothing was stored").format(n=PIN_TRIES))


@click.group(cls=SuggestingGroup)
def card():
    """Add, list, rename and remove library cards.

    \b
    Examples:
      libcli card add mine --library helmet --number 1234567
      printf '%s\\n' "$PIN" | libcli card add kid --library heili --number 7654321 --pin-stdin
      libcli card add work --library tuni --number 99887766 --pin-command 'pass show tuni'
      libcli card list
    """
    # PINs a killed `card add` or a failed removal left in the keyring for
    # cards no longer configured (libcli.cards keeps an index of its entries).
    from libcli import cards as cards_mod
    from libcli.errors import LibcliError

    try:
        cards_mod.clean_orphan_pins()
    except LibcliError as exc:
        output.warn(_("could not check the keyring for PINs of removed cards: {message}").format(
            message=exc.message))


@card.command("add")
@click.argument("name")
@library_option(required=True, help="Library id (see `libcli libraries`).")
@click.option("--number", required=True, metavar="CARD", help="The library card number.")
@click.option("--url", metavar="URL", help="Use another address for the library (e.g. a local demo library).")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of standard input.")
@click.option("--pin-command", metavar="CMD", help="A shell command whose output is the PIN (no keyring needed).")
@click.option("--pickup", metavar="LOCATION", help="Default pickup location for holds.")
@click.option("--no-check", is_flag=True,
              help="Keep the card without trying the login first (e.g. while offline).")
@json_option
def card_add(name, library, number, url, pin_stdin, pin_command, pickup, no_check, as_json):
    """Add a card. The PIN is asked for (hidden, twice) and kept in the keyring.

    \b
    Examples:
      libcli card add mine --library helmet --number 1234567
      libcli card add kid --library heili --number 7654321 --pin-stdin < pin.txt
      libcli card add work --library tuni --number 99887766 --pin-command 'pass show tuni'
      libcli card add test --library heili --number 1000001 --url http://127.0.0.1:8000
    """
    from libcli import cards as cards_mod
    from libcli.http import check_url
    from libcli.policy import get_consortium

    get_consortium(library)
    name = cards_mod.validate_name(name)
    number = number.strip()
    if not number or any(ch.isspace() for ch in number):
        raise UsageError(_("the card number must be one word, e.g. --number 1234567"))
    if url:
        check_url(url)
    if pin_stdin and pin_command:
        raise UsageError(_("use either --pin-stdin or --pin-command, not both"))
    new = Card(name=name, library=library, number=number, url=url, pin_command=pin_command,
               pickup=pickup)
    store = cards_mod.CardStore()
    if pin_command:
        checked = None if no_check else _try_login(new, None)
        stored = store.add(new)
        where = _("its PIN command")
    else:
        # Fail before asking for a PIN when there is nowhere to keep it.
        cards_mod.keyring_backend()
        pin = _read_pin(pin_stdin)
        checked = None if no_check else _try_login(new, pin)
        stored = store.add(new, store_pin=lambda c: cards_mod.store_pin(c, pin),
                           forget_pin=cards_mod.forget_pin)
        where = _("the keyring")
    login = {None: "", True: _("; the library accepted the login"),
             False: _("; the login was not tried: the library did not answer")}[checked]
    _done(as_json, stored, _("Added card '{card}' ({library}, {number}); PIN from {where}{login}.")
          .format(card=stored.name, library=library, number=number, where=where, login=login))


def _done(as_json: bool, card_: Card, message: str) -> None:
    """A card command's outcome: the card under --json, else a sentence."""
    if as_json:
        output.emit_json({"card": _card_json(card_)})
    else:
        output.info(message)


def _try_login(card: Card, pin: str | None) -> bool:
    """Log in with a card about to be added. A refused login keeps nothing
    (exit 4); an unreachable library keeps the card (True: accepted, False:
    not tried)."""
    from libcli.cli import common
    from libcli.errors import Unreachable

    service = common.service([card], **({"pin_source": lambda c: pin} if pin is not None else {}))
    [result] = service.check_logins([card])
    if result.ok:
        return True
    if isinstance(result.error, Unreachable):
        output.warn(_("could not check the login: {message}").format(message=result.error.message))
        return False
    raise result.error


@card.command("pin")
@click.argument("name", shell_complete=_complete_cards)
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of standard input.")
@json_option
def card_pin(name, pin_stdin, as_json):
    """Store a new PIN for a card in the keyring.

    \b
    Example:
      libcli card pin mine
    """
    from libcli import cards as cards_mod

    card_ = cards_mod.CardStore().get(name)
    cards_mod.keyring_backend()
    cards_mod.store_pin(card_, _read_pin(pin_stdin))
    if card_.pin_command:
        cards_mod.CardStore().update(name, pin_command=None)
    _done(as_json, cards_mod.CardStore().get(name),
          _("Stored a new PIN for card '{card}'.").format(card=name))


@card.command("list")
@json_option
def card_list(as_json):
    """List the cards (never their PINs).

    \b
    Examples:
      libcli card list
      libcli card list --json | jq -r '.cards[].name'
    """
    from libcli.cards import CardStore

    cards = CardStore().cards()
    if as_json:
        output.emit_json({"cards": [_card_json(c) for c in cards]})
        return
    if not cards:
        output.info(_("No cards yet. Add one with: libcli card add NAME --library ID --number CARD"))
        return
    output.table(
        [N_("Name"), N_("Library"), N_("Number"), N_("PIN from"), N_("Default"), N_("Address")],
        [[c.name, c.library, c.number, _(_pin_source(c)), "*" if c.default else "", c.url or ""]
         for c in cards],
        drop=("Address", "PIN from"), squeeze=("Address",),
    )


def _pin_source(c: Card) -> str:
    # English in JSON; the table translates it (the catalogue has N_ marks).
    if c.demo:
        return N_("demo (public)")
    return N_("command") if c.pin_command else N_("keyring")


def _card_json(c: Card) -> dict:
    return {"name": c.name, "library": c.library, "number": c.number, "url": c.url,
            "pin_source": _pin_source(c), "default": c.default, "pickup": c.pickup,
            "demo": c.demo}


@card.command("remove")
@click.argument("name", shell_complete=_complete_cards)
@json_option
def card_remove(name, as_json):
    """Remove a card and its PIN from the keyring.

    \b
    Example:
      libcli card remove old-card
    """
    from libcli import account
    from libcli.cards import CardStore, forget_pin
    from libcli.snapshot import forget_snapshot

    removed = CardStore().remove(name, forget_pin=forget_pin)
    forget_snapshot(name)
    try:
        account.forget_session(removed)
    except Exception:  # a card of a library no longer known has no session to drop
        pass
    _done(as_json, removed, _("Removed card '{card}'.").format(card=name))


@card.command("rename")
@click.argument("name", shell_complete=_complete_cards)
@click.argument("new_name")
@json_option
def card_rename(name, new_name, as_json):
    """Rename a card (its PIN stays where it is).

    \b
    Example:
      libcli card rename mine helmet-me
    """
    from libcli.cards import CardStore
    from libcli.snapshot import rename_snapshot

    CardStore().update(name, name=new_name)
    rename_snapshot(name, new_name)
    _done(as_json, CardStore().get(new_name),
          _("Renamed card '{card}' to '{new}'.").format(card=name, new=new_name))


@card.command("default")
@click.argument("name", shell_complete=_complete_cards)
@json_option
def card_default(name, as_json):
    """Make a card the default for commands that act on one card.

    \b
    Example:
      libcli card default mine
    """
    from libcli.cards import CardStore

    CardStore().set_default(name)
    _done(as_json, CardStore().get(name), _("'{card}' is now the default card.").format(card=name))


@card.command("set")
@click.argument("name", shell_complete=_complete_cards)
@click.option("--pickup", metavar="LOCATION", help="Default pickup location for holds.")
@click.option("--url", metavar="URL", help="Another address for the library.")
@click.option("--pin-command", metavar="CMD", help="A shell command whose output is the PIN.")
@json_option
def card_set(name, pickup, url, pin_command, as_json):
    """Change a card's settings.

    \b
    Example:
      libcli card set mine --pickup Oodi
    """
    from libcli.cards import CardStore
    from libcli.http import check_url

    changes = {}
    if pickup is not None:
        changes["pickup"] = pickup
    if url is not None:
        check_url(url)
        changes["url"] = url
    if pin_command is not None:
        changes["pin_command"] = pin_command
    if not changes:
        raise UsageError(_("nothing to change; give --pickup, --url or --pin-command"))
    CardStore().update(name, **changes)
    _done(as_json, CardStore().get(name), _("Updated card '{card}'.").format(card=name))


@card.command("check")
@click.option("--card", "cards", multiple=True, metavar="NAME", shell_complete=_complete_cards,
              help="Only this card (repeatable).")
@json_option
def card_check(cards, as_json):
    """Log in afresh with each card to check its number and PIN.

    \b
    Example:
      libcli card check --card mine
    """
    from libcli.account import exit_code_for
    from libcli.cards import CardStore
    from libcli.cli import common

    selected = CardStore().select(cards)
    results = common.service(selected).check_logins(selected)
    if as_json:
        output.emit_json({"cards": [{"card": r.card.name, "ok": r.ok,
                                     "error": output.error_json(r.error) if r.error else None}
                                    for r in results]})
    else:
        for r in results:
            if r.ok:
                output.info(_("card '{card}': login ok").format(card=r.card.name))
            else:
                output.card_error(r.card.name, r.card.library, r.error)
    click.get_current_context().exit(exit_code_for(results))
