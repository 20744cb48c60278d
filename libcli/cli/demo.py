"""`libcli demo`: the built-in demo library, with no network and no keyring."""

from __future__ import annotations

import click

from libcli.cli import output
from libcli.cli.options import json_option


@click.command()
@click.option("--reset", is_flag=True, help="Start the demo library over from its first state.")
@click.option("--all", "all_", is_flag=True,
              help="Also add the demo patrons that show the payment cases (10 cards).")
@json_option
def demo(reset, all_, as_json):
    """Set up demo cards on the built-in demo library and show their loans.

    The demo library runs inside libcli (no network, no keyring: demo PINs
    are public demo data). It speaks the same web dialects as the real Finna
    and ESTER sites, through the same code. Its state is kept, so a renewal
    made now is still there next time; --reset starts over.

    \b
    Examples:
      libcli demo
      libcli renew --due-within 3 --card demo-helmet
      libcli demo --reset
    """
    from libcli import account
    from libcli.cards import CardStore
    from libcli.cli.loans import show_loans
    from libcli.demo import demo_cards

    store = CardStore()
    wanted = demo_cards(all_patrons=all_)
    existing = {c.name: c for c in store.cards()}
    if reset:
        account.demo_state_file().unlink(missing_ok=True)
        for card in demo_cards(all_patrons=True):
            if card.name in existing and existing[card.name].demo:
                account.forget_session(existing[card.name])
                account.snapshot_path(card.name).unlink(missing_ok=True)
    added = []
    for card in wanted:
        if card.name not in existing:
            store.add(card)
            added.append(card.name)
        elif not existing[card.name].demo:
            output.warn(f"a card named '{card.name}' is not a demo card; leaving it alone")
    cards = [c for c in store.cards() if c.demo]
    if not as_json:
        names = ", ".join(c.name for c in cards)
        if added:
            output.info(f"Added demo cards: {', '.join(added)} (demo library, public demo PINs).")
        output.info(f"Demo cards: {names}. Their loans:\n")
    show_loans(cards, as_json=as_json) if cards else None
