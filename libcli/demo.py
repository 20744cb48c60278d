"""The client side of `libcli demo`: which cards the demo sets up, their
public demo PINs. The demo library itself is `libcli.sandbox`; demo cards
reach it in-process (no network) through `libcli.sandbox.demo`.
"""

from __future__ import annotations

from libcli.errors import PinError
from libcli.model import Card


def demo_cards(all_patrons: bool = False) -> list[Card]:
    """Demo cards: by default one per view (the patron whose account shows
    every state); with `all_patrons`, also the payment-case patrons."""
    from libcli.sandbox.demo import DEMO_CARDS

    seen: set[str] = set()
    cards = []
    for dc in DEMO_CARDS:
        if dc.view in seen and not all_patrons:
            continue
        seen.add(dc.view)
        cards.append(Card(name=dc.name, library=dc.view, number=dc.number,
                          url=dc.url + "/", demo=True))
    return cards


def demo_pin(number: str) -> str:
    """A demo patron's PIN: public demo data, used only for demo cards."""
    from libcli.sandbox.seed import DEMO_PATRONS

    for patron in DEMO_PATRONS:
        if patron.card == number:
            return patron.pin
    raise PinError(f"card {number} is not a demo library card")
