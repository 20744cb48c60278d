"""The one bridge between the client and the demo library (`libcli.sandbox`,
installed with the `demo` extra): the demo's home, which cards it sets up,
their public demo PINs, the in-process transport demo cards reach it
through (no network), and its simulated payment provider. No other client
module imports the sandbox.

The demo lives in a home of its own (``<data dir>/demo``, with its own
config, cache and data folders): its cards never mix with the user's, never
become the default card, and `libcli demo remove` deletes all of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from libcli import storage
from libcli.errors import PinError

if TYPE_CHECKING:  # libcli.model (msgspec) is imported where used: hints load this at start-up
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


def command(rest: str) -> str:
    """`libcli REST` as the user can type it where they are: inside the
    demo's home (under `libcli demo`) that is `libcli demo REST`, since a
    plain `libcli REST` would act on the user's own cards."""
    return typed(f"libcli {rest}")


def typed(text: str | None) -> str | None:
    """Every `libcli …` a message names, as the user can type it where they
    are (see command). Messages are translated whole (libcli.i18n), so the
    printers apply this to what they print: errors, hints, notes, the digest."""
    if not text or not os.environ.get(IN_DEMO):
        return text
    import re

    return re.sub(r"\blibcli (?!demo\b)", "libcli demo ", text)


def remove_demo_home() -> bool:
    """Delete the demo's cards, sessions and library; True if there was one."""
    home = demo_home()
    if not home.exists():
        return False
    shutil.rmtree(home)
    return True


DEMO_EXTRA_HINT = ("install libcli with the demo library: pipx install 'libcli[demo]' "
                   "(or pip install 'libcli[demo]')")


def _sandbox(module: str):
    """Import a part of the demo library, or say how to install it."""
    import importlib

    from libcli.errors import LibcliError

    try:
        # The web app first: it needs every package of the extra.
        importlib.import_module("libcli.sandbox.app")
        return importlib.import_module(f"libcli.sandbox.{module}")
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("starlette", "jinja2", "multipart",
                                                   "python_multipart", "uvicorn"):
            raise LibcliError(f"the demo library is not installed ({exc.name} is missing)",
                              hint=DEMO_EXTRA_HINT) from None
        raise


def state_file() -> Path:
    """The demo library's saved state (renewals made in the demo last)."""
    return storage.ensure_dir(storage.data_dir()) / "demo-library.sqlite"


def transport():
    """The in-process transport to every view of the demo library."""
    return _sandbox("demo").demo_transport(state_file())


def account_service(**options):
    """The account service for demo cards: the demo library's in-process
    transport, its public demo PINs, and its simulated payment provider in
    place of a browser (the demo has none to open)."""
    from libcli.account import AccountService

    shared = transport()

    async def pay_at_provider(url: str, card: Card) -> None:
        # A payment service that asks the patron to log in (the Primo VE
        # face's) gets the demo card's number and public demo PIN.
        import httpx

        async with httpx.AsyncClient(transport=shared, follow_redirects=True) as client:
            await _sandbox("demo").pay_at_provider(client, url, card.number,
                                                   demo_pin(card.number))

    return AccountService(**{"transport": shared, "open_url": pay_at_provider,
                             "pin_source": lambda card: demo_pin(card.number)} | options)


def demo_cards(all_patrons: bool = False) -> list[Card]:
    """Demo cards: by default one per view (the patron whose account shows
    every state); with `all_patrons`, also the payment-case patrons."""
    from libcli.model import Card

    DEMO_CARDS = _sandbox("demo").DEMO_CARDS
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
    for patron in _sandbox("seed").DEMO_PATRONS:
        if patron.card == number:
            return patron.pin
    raise PinError(f"card {number} is not a demo library card")
