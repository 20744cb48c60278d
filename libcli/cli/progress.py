"""A sign of life on stderr while libraries are slow to answer (issue 17 #13).

When the cards of a run have not all answered after ``DELAY`` seconds, one
line on stderr names the cards still awaited and counts those done, e.g.
``Waiting for helmet, tuni … (2 of 4 cards done)``; it is redrawn as cards
finish and erased when the last one has. Only on a terminal: a pipe, a file
or a cron mail gets nothing, and neither does a run whose cards all answer
within ``DELAY``. Not with -v either: the log lines show life already, and
a line redrawn under them would mangle them. stdout (tables, --json) is
never touched.

The run tells this module of its cards through ``libcli.account.card_progress``
(set for the whole command by the root group, libcli.cli.cli).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

import click

from libcli.cli import output

DELAY = 1.0  # seconds without an answer before the line appears
ERASE = "\r\x1b[K"  # to the line's start, clear to its end


def _width(stream) -> int:
    import os

    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


class Progress:
    """Called by the run before each card's operation starts (``done`` False)
    and when it ends (``done`` True); draws and erases the line."""

    def __init__(self, stream, delay: float | None = None):
        self.stream = stream
        self.delay = DELAY if delay is None else delay
        self.waiting: dict[str, None] = {}  # card names, in the order they started
        self.done = 0
        self.total = 0
        self.shown = False
        self._timer = None

    def __call__(self, card, done: bool) -> None:
        if not done:
            self.waiting[card.name] = None
            self.total += 1
            if self._timer is None and not self.shown:
                import asyncio

                self._timer = asyncio.get_running_loop().call_later(self.delay, self._show)
            return
        self.waiting.pop(card.name, None)
        self.done += 1
        if not self.waiting:
            self.close()
        elif self.shown:
            self._draw()

    def _show(self) -> None:
        self._timer = None
        if self.waiting:
            self.shown = True
            self._draw()

    def line(self, width: int) -> str:
        """At most `width` columns (a line that wrapped could not be erased
        with one \r): the names are shortened, the count kept."""
        names = ", ".join(output.clean(name) for name in self.waiting)
        counted = f" … ({self.done} of {self.total} cards done)" if self.total > 1 else " …"
        room = max(width - output.columns("Waiting for " + counted), 1)
        return output.shorten(f"Waiting for {output.shorten(names, room)}{counted}", width)

    def _draw(self) -> None:
        self._write(ERASE + self.line(_width(self.stream) - 1))

    def close(self) -> None:
        """The round is over (or the command stops): erase what was shown."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.shown:
            self._write(ERASE)
        self.shown = False
        self.done = self.total = 0
        self.waiting.clear()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal must not stop the command
            pass


def _verbose() -> bool:
    """-v was given (the run logs on stderr)."""
    ctx = click.get_current_context(silent=True)
    return bool(getattr(ctx.find_root().obj, "verbose", 0)) if ctx is not None else False


@contextlib.contextmanager
def on_stderr() -> Iterator[Progress | None]:
    """Report the runs made inside on stderr when it is a terminal."""
    stream = sys.stderr
    if not output.isatty(stream) or _verbose():
        yield None
        return
    from libcli.account import card_progress

    progress = Progress(stream)
    token = card_progress.set(progress)
    try:
        yield progress
    finally:
        card_progress.reset(token)
        progress.close()
