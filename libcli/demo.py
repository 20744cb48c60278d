"""The client side of `libcli demo`: which cards the demo sets up and their
public demo PINs. The demo library itself is `libcli.sandbox`; demo cards
reach it in-process (no network) through `libcli.sandbox.demo`.
"""

from __future__ import annotations

from libcli.errors import PinError
from libcli.model import Card

DEMO_VIEWS = ("heili", "tuni", "helmet", "tallinn")


def demo_cards() -> list[Card]:
    """One card per demo view: that view's patron whose account shows every state."""
    from libcli.sandbox.seed import DEMO_PATRONS

    cards = []
    for view in DEMO_VIEWS:
        patron = next(p for p in DEMO_PATRONS if p.view == view)
        cards.append(Card(name=f"demo-{view}", library=view, number=patron.card,
                          url=f"http://{view}.localhost/", demo=True))
    return cards


def demo_pin(number: str) -> str:
    """A demo patron's PIN: public demo data, used only for demo cards."""
    from libcli.sandbox.seed import DEMO_PATRONS

    for patron in DEMO_PATRONS:
        if patron.card == number:
            return patron.pin
    raise PinError(f"card {number} is not a demo library card")
