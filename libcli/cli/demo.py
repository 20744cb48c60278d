"""`libcli demo`: the built-in demo library, with no network and no keyring."""

from __future__ import annotations

import click

from libcli.cli import output
from libcli.cli.options import json_option
from libcli.i18n import _


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.option("--reset", is_flag=True, help="Start the demo library over from its first state.")
@click.option("--remove", is_flag=True, help="Delete the demo's cards and library, then stop.")
@click.option("--all", "all_", is_flag=True,
              help="Also add the demo patrons that show the payment cases (10 cards).")
@json_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [ARGS]...]")
@click.pass_context
def demo(ctx, reset, remove, all_, as_json, command):
    """Set up demo cards on the built-in demo library and show their loans.

    The demo library runs inside libcli (no network, no keyring: demo PINs
    are public demo data). It speaks the same web dialects as the real Finna,
    Primo VE and ESTER sites, through the same code. The demo keeps a home
    of its own: its cards never mix with yours, and any libcli command runs
    on them when it follows `libcli demo`. Its state is kept, so a renewal
    made now is still there next time; --reset starts over, --remove deletes
    it.

    \b
    Examples:
      libcli demo
      libcli demo renew --due-within 3 --card demo-helmet
      libcli demo fees
      libcli demo --reset
      libcli demo --remove
    """
    from libcli import demo as demo_mod

    _forget_legacy_demo_cards()
    if remove:
        gone = demo_mod.remove_demo_home()
        output.info(_("Removed the demo library and its cards.") if gone else
                    _("There was no demo library to remove."))
        return
    with demo_mod.in_demo_home():
        added, cards = _set_up(reset=reset, all_=all_)
        if command:
            code = _run_in_demo(ctx, list(command))
            ctx.exit(code or 0)
        if not as_json:
            names = ", ".join(c.name for c in cards)
            if added:
                output.info(_("Added demo cards: {cards} (demo library, public demo "
                              "PINs; your own cards are not touched).").format(cards=", ".join(added)))
            output.info(_("Demo cards: {cards}. Their loans:").format(cards=names) + "\n")
        from libcli.cli.loans import show_loans

        show_loans(cards, as_json=as_json)


def _set_up(*, reset: bool, all_: bool):
    """Add the demo cards to the demo home (the current config); return the
    names added and every demo card."""
    from libcli import account
    from libcli.cards import CardStore
    from libcli.demo import demo_cards, state_file
    from libcli.snapshot import forget_snapshot

    store = CardStore()
    if reset:
        state_file().unlink(missing_ok=True)
        for card in store.cards():
            account.forget_session(card)
            forget_snapshot(card.name)
    cards = store.cards()
    existing = {c.name for c in cards} | {c.key for c in cards}  # a renamed demo card stays
    added = []
    for card in demo_cards(all_patrons=all_):
        if card.name not in existing and card.key not in existing:
            store.add(card)
            added.append(card.name)
    return added, store.cards()


def _run_in_demo(ctx, args: list[str]) -> int:
    """Run `libcli ARGS` on the demo's cards, with the global flags given."""
    from libcli import i18n
    from libcli.cli import cli

    state = ctx.find_root().obj
    flags = [] if state is None else ["--color", state.color] + ["-v"] * state.verbose
    if i18n.chosen():
        flags += ["--lang", i18n.chosen()]
    if args and args[0] == "demo":
        raise click.UsageError(_("already in the demo: `libcli demo COMMAND`"))
    return cli.main(args=flags + args, prog_name="libcli demo", standalone_mode=False)


def _forget_legacy_demo_cards() -> None:
    """Earlier versions kept demo cards among the user's own: take them out
    (their PINs are public demo data, nothing is lost)."""
    from libcli.cards import CardStore
    from libcli.errors import LibcliError

    try:
        store = CardStore()
        legacy = [c.name for c in store.cards() if c.demo]
        for name in legacy:
            store.remove(name)
    except LibcliError:
        return
    if legacy:
        output.info(_("Moved the demo cards out of your own cards ({cards}); "
                      "the demo keeps its own now: libcli demo COMMAND").format(
            cards=", ".join(legacy)))
