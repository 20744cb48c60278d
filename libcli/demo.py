"""The client side of `libcli demo`: its home, which cards it sets up, their
public demo PINs. The demo library itself is `libcli.sandbox`; demo cards
reach it in-process (no network) through `libcli.sandbox.demo`.

The demo lives in a home of its own (``<data dir>/demo``, with its own
config, cache and data folders): its cards never mix with the user's, never
become the default card, and `libcli demo remove` deletes all of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

from libcli import storage
from libcli.errors import PinError
from libcli.model import Card

KINDS = ("config", "cache", "data")
IN_DEMO = "LIBCLI_IN_DEMO_HOME"


def demo_home() -> Path:
    """Where the demo keeps its cards and library (inside the user's data dir)."""
    if os.environ.get(IN_DEMO):
        return Path(os.environ[IN_DEMO])
    return storage.data_dir() / "demo"


@contextlib.contextmanager
def in_demo_home() -> Iterator[Path]:
    """Point libcli's config, cache and data folders at the demo's home for
    the duration (restored after, also in a process that goes on: tests)."""
    home = demo_home()
    names = [f"LIBCLI_{kind.upper()}_DIR" for kind in KINDS] + [IN_DEMO]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({f"LIBCLI_{kind.upper()}_DIR": str(home / kind) for kind in KINDS})
    os.environ[IN_DEMO] = str(home)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def remove_demo_home() -> bool:
    """Delete the demo's cards, sessions and library; True if there was one."""
    home = demo_home()
    if not home.exists():
        return False
    shutil.rmtree(home)
    return True


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
