"""Plumbing the account commands share: run over cards, report failures."""

from __future__ import annotations

from datetime import date
from typing import Any, Awaitable, Callable

import click

from libcli.cli import output
from libcli.errors import ExitCode, LibcliError, UsageError
from libcli.i18n import N_, _


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


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    import asyncio  # not at the top: command modules load for completion too

    return asyncio.run(coro_fn())


def report(results, *, quiet_ok: bool = True) -> list[dict[str, Any]]:
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


# The messages of resolve_ids by kind ("loan", "hold"): whole sentences, as
# the kind's word changes form in Finnish and Swedish.
KINDS = {
    "loan": (N_("no loan with ID '{prefix}'"), N_("'{prefix}' matches several loans: {listed}")),
    "hold": (N_("no hold with ID '{prefix}'"), N_("'{prefix}' matches several holds: {listed}")),
}


def resolve_ids(items: list[Any], wanted: tuple[str, ...], kind: str,
                failed_cards: list[str]) -> list[Any]:
    """Match ID prefixes (as in git) against items; unknown or ambiguous is an error."""
    chosen, problems = [], []
    for prefix in dict.fromkeys(w.strip().lower() for w in wanted):
        matches = [i for i in items if i.id.startswith(prefix)]
        if len(matches) == 1:
            if matches[0] not in chosen:
                chosen.append(matches[0])
        elif not matches:
            problems.append(_(KINDS[kind][0]).format(prefix=prefix))
        else:
            listed = ", ".join(f"{m.id} ({m.card}: {output.short(m.title, 30)})" for m in matches)
            problems.append(_(KINDS[kind][1]).format(prefix=prefix, listed=listed))
    if problems:
        hint = _("see the IDs with: libcli {kind}s").format(kind=kind)
        if failed_cards:
            hint += " " + _("(cards that could not be read: {cards})").format(
                cards=", ".join(failed_cards))
        raise UsageError(problems[0] if len(problems) == 1 else
                         _("{n} IDs not found").format(n=len(problems)),
                         problems=problems if len(problems) > 1 else None, hint=hint)
    return chosen


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
