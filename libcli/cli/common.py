"""Plumbing the account commands share: run over cards, report failures."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from libcli.cli import output
from libcli.errors import ExitCode, LibcliError, UsageError
from libcli.i18n import _


def today() -> date:
    return date.today()


def select_cards(names: tuple[str, ...]):
    from libcli.cards import CardStore

    return CardStore().select(names)


def one_card(name: str | None):
    """The named card, else the default card; a clear error otherwise."""
    from libcli.cards import CardStore

    store = CardStore()
    if name:
        return store.get(name)
    card = store.default()
    if card is None:
        raise UsageError(_("which card? add --card NAME"),
                         hint=_("or set one with: libcli card default NAME"))
    return card


def service(cards, **options):
    """The account service for these cards: the demo library's for demo cards
    (through libcli.demo, the one bridge to it), else the network's."""
    if any(c.demo for c in cards):
        if not all(c.demo for c in cards):
            raise UsageError("demo cards and your own cards cannot be used in one command",
                             hint="the demo has a home of its own: libcli demo COMMAND")
        from libcli.demo import account_service

        return account_service(**options)
    from libcli.account import AccountService

    return AccountService(**options)


def report(results) -> list[dict[str, Any]]:
    """Print each failed card on stderr; return the failures for JSON output."""
    errors = []
    for r in results:
        if r.error is not None:
            output.card_error(r.card.name, r.card.library, r.error)
            errors.append({"card": r.card.name} | output.error_json(r.error))
    return errors


def finish(results, *, partial: bool = False) -> None:
    """Exit with the first failing card's code, else 3 when partly done, else 0."""
    from libcli.account import exit_code_for

    code = exit_code_for(results)
    if code == 0 and partial:
        code = int(ExitCode.PARTIAL)
    click.get_current_context().exit(code)


def card_failed(card, exc: LibcliError) -> None:
    """A one-card command failed: stderr says why, stdout carries the error
    document under --json, and the exit code is the error's."""
    output.card_error(card.name, card.library, exc)
    if output.json_pending():
        output.emit_json(output.error_document(exc, card=card.name))
    click.get_current_context().exit(int(exc.exit_code))


def need_decision(what: str, flag: str) -> LibcliError:
    return UsageError(_("{what}, and there is no terminal to ask").format(what=what),
                      hint=_("add {flag}").format(flag=flag))
