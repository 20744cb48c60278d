"""Everything libcli prints goes through here.

- Tables on stdout (tabulate), JSON only with --json (one document, nothing
  else on stdout), diagnostics on stderr.
- Colour only on a terminal (each stream asked for itself) and never with
  NO_COLOR, unless --color always. Text is styled after it is cleaned.
- Tables fit the terminal's width; output that is not a terminal is not cut.
- Text that came from a library page is cleaned of control characters before
  it is printed, so a hostile title cannot drive the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Iterable

import click

from libcli.errors import LibcliError
from libcli.i18n import _, day, relative  # noqa: F401  (commands use output.day, output.relative)
from libcli.text import clean, clean_multiline  # noqa: F401  (the one cleaner; commands use output.clean)

# Keyed by the statuses' values (DueStatus and HoldStatus are StrEnums, so
# their members find these keys); libcli.model is not needed to load this.
STATUS_COLOURS = {
    "overdue": "red",
    "due_soon": "yellow",
    "ready": "green",
}


def color_on(err: bool = False) -> bool:
    """--color always, else never with NO_COLOR, else when the stream
    (stdout, or stderr with err=True) is a terminal."""
    ctx = click.get_current_context(silent=True)
    choice = None
    while ctx is not None and choice is None:
        choice = getattr(ctx.obj, "color", None)
        ctx = ctx.parent
    if choice is None or choice == "never":
        return False
    if choice == "always":
        return True
    return not os.environ.get("NO_COLOR") and isatty(sys.stderr if err else sys.stdout)


def paint(text: str, colour: str | None, *, bold: bool = False, err: bool = False) -> str:
    """Style text that is already clean (styling first, cleaning after,
    would strip the escape character and leave "[32m" behind)."""
    if not colour or not color_on(err):
        return text
    return click.style(text, fg=colour, bold=bold)


def short(text: str | None, width: int = 42) -> str:
    return shorten(clean(text), width)


class Styled:
    """A table cell coloured only once the table is fitted: shortening or
    wrapping a painted string would cut through its escape codes."""

    __slots__ = ("text", "colour", "bold")

    def __init__(self, text: Any, colour: str | None, bold: bool = False):
        self.text = "" if text is None else str(text)
        self.colour = colour
        self.bold = bold


def styled(text: Any, colour: str | None, *, bold: bool = False) -> Styled:
    return Styled(text, colour, bold)


# Columns are dropped while the table would not fit with its titles (and
# other squeezable columns) at COMFORTABLE; once nothing more can be dropped,
# they narrow, down to READABLE: "Muumipeikko…" still reads, "Muu…" not.
COMFORTABLE = 30
READABLE = 12


def table(headers: list[str], rows: Iterable[list[Any]], *, drop: Iterable[str] = (),
          squeeze: Iterable[str] = (), wrap: Iterable[str] = ()) -> None:
    """Print a table (tabulate, "simple" format) on stdout.

    On a terminal the table fits its width. First the columns named in
    `drop` go, least useful first, while the table would not fit with the
    `squeeze` and `wrap` columns at COMFORTABLE; then those columns narrow,
    the widest first, down to READABLE: a `squeeze` cell is shortened with
    "…" (one line per row), a `wrap` cell wraps onto more lines (tabulate's
    maxcolwidths). Output that is not a terminal is never cut: a pipe or a
    file gets every character of every column.

    Headers (and the names in drop, squeeze and wrap) are given in English,
    marked with N_, and shown in the run's language.
    """
    from tabulate import tabulate

    rows = [list(r) for r in rows]
    heads = [fit_encoding(_(h)) for h in headers]
    drop = [fit_encoding(_(h)) for h in drop]
    texts = [[fit_encoding(c.text if isinstance(c, Styled) else "" if c is None else str(c)).strip()
              for c in row] for row in rows]
    squeeze, wrap = {fit_encoding(_(h)) for h in squeeze}, {fit_encoding(_(h)) for h in wrap}
    keep = list(range(len(heads)))
    limits: dict[int, int] = {}
    width = terminal_width()
    if width:
        # tabulate's simple format: a column is as wide as its widest cell or
        # its header plus two, and columns are two spaces apart.
        natural = [max([columns(h) + 2] + [columns(t[i]) for t in texts]) for i, h in enumerate(heads)]
        flexible = {i for i, h in enumerate(heads) if h in squeeze or h in wrap}
        def floor(i: int, least: int) -> int:
            return min(natural[i], max(columns(heads[i]) + 2, least))

        def total(widths) -> int:
            return sum(widths[i] for i in keep) + 2 * (len(keep) - 1)

        comfortable = [floor(i, COMFORTABLE) if i in flexible else w for i, w in enumerate(natural)]
        for name in drop:
            if total(comfortable) <= width:
                break
            if name in heads and heads.index(name) in keep:
                keep.remove(heads.index(name))
        current = list(natural)
        excess = total(current) - width
        while excess > 0:
            narrowable = [i for i in keep if i in flexible and current[i] > floor(i, READABLE)]
            if not narrowable:
                break
            widest = max(narrowable, key=lambda i: current[i])
            current[widest] -= 1
            excess -= 1
        limits = {i: current[i] for i in flexible if current[i] < natural[i]}
    ellipsis = fit_encoding("…")
    body = []
    for row, row_texts in zip(rows, texts):
        line = []
        for i in keep:
            text = row_texts[i]
            if i in limits and heads[i] in squeeze:
                text = shorten(text, limits[i], ellipsis)
            cell = row[i]
            line.append(paint(text, cell.colour, bold=cell.bold) if isinstance(cell, Styled) else text)
        body.append(line)
    maxcolwidths = [limits.get(i) if heads[i] in wrap else None for i in keep]
    from libcli.redact import redact

    click.echo(redact(tabulate(body, headers=[heads[i] for i in keep], tablefmt="simple",
                               disable_numparse=True,
                               maxcolwidths=maxcolwidths if any(maxcolwidths) else None)))


def columns(text: str) -> int:
    """Terminal columns `text` takes (wide characters two, combining none)."""
    from wcwidth import wcswidth  # tabulate[widechars] measures with it too

    n = wcswidth(text)
    return n if n >= 0 else len(text)


def shorten(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` in at most `width` terminal columns, "…" marking a cut."""
    if columns(text) <= width:
        return text
    from wcwidth import wcwidth

    budget, used, kept = width - columns(ellipsis), 0, []
    for ch in text:
        used += max(wcwidth(ch), 0)
        if used > budget:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + ellipsis


def terminal_width() -> int | None:
    """The terminal's width when stdout is a terminal, else None (no limit)."""
    if not isatty(sys.stdout):
        return None
    import shutil

    return shutil.get_terminal_size().columns


# --- the streams -----------------------------------------------------------

def isatty(stream) -> bool:
    # sys.stdin is None when the process starts with descriptor 0 closed
    # (`<&-`, some cron daemons and service managers); a closed file raises.
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


def isatty_stdin() -> bool:
    return isatty(sys.stdin)


def stdin_closed() -> bool:
    return sys.stdin is None or getattr(sys.stdin, "closed", False)


# What a terminal without these characters shows instead (Latin-1 has no €).
_PLAIN = {"€": "EUR", "…": "...", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"'}
_DEGRADE = "libcli-degrade"


def _degrade(exc: UnicodeEncodeError):
    return "".join(_PLAIN.get(ch, "?") for ch in exc.object[exc.start:exc.end]), exc.end


def _lacks_euro(encoding: str | None) -> bool:
    try:
        "€".encode(encoding or "utf-8")
    except UnicodeEncodeError:
        return True
    except LookupError:
        return False
    return False


def setup_streams() -> None:
    """On a terminal whose encoding has no € (a Latin-1 locale), print EUR,
    and ? for what else it cannot show, instead of crashing. (Click itself
    writes UTF-8 to a stream that claims to be ASCII.)"""
    import codecs

    try:
        codecs.lookup_error(_DEGRADE)
    except LookupError:
        codecs.register_error(_DEGRADE, _degrade)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and _lacks_euro(getattr(stream, "encoding", None)):
            try:
                stream.reconfigure(errors=_DEGRADE)
            except (AttributeError, ValueError):
                pass


def fit_encoding(text: str) -> str:
    """`text` as stdout will show it: measured after EUR replaces €."""
    encoding = getattr(sys.stdout, "encoding", None)
    if not _lacks_euro(encoding):
        return text
    import codecs

    try:
        codecs.lookup_error(_DEGRADE)
    except LookupError:
        codecs.register_error(_DEGRADE, _degrade)
    return text.encode(encoding, _DEGRADE).decode(encoding)


# --- prompts ---------------------------------------------------------------

@contextlib.contextmanager
def _ctrl_c_stops():
    """Ctrl-C at a prompt stops libcli at once (exit 130). A prompt inside
    asyncio.run would otherwise meet asyncio's SIGINT handler, which the first
    time only cancels the main task while input() goes on waiting; and click
    turns Ctrl-C into the same Abort as end of input."""
    import signal

    hit = []

    def stop(signum, frame):
        hit.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, stop)
    except ValueError:  # not the main thread: signals go elsewhere
        previous = None
    try:
        yield
    except click.exceptions.Abort:
        if hit:
            raise KeyboardInterrupt from None
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def ask(text: str, **kw) -> Any:
    with _ctrl_c_stops():
        return click.prompt(text, err=True, **kw)


def confirm(text: str, **kw) -> bool:
    with _ctrl_c_stops():
        return click.confirm(text, err=True, **kw)


def emit_json(document: Any) -> None:
    # json escapes C0 controls itself; C1 controls (a lone CSI, \x9b), DEL and
    # bidi/zero-width characters would reach a terminal raw: escape them too.
    # Same data, still valid JSON. PINs are masked in strings only (masking
    # the JSON text could cut a number).
    from libcli.redact import redact_data
    from libcli.text import escape_invisible

    text = json.dumps(redact_data(document), indent=2, sort_keys=True, ensure_ascii=False,
                      default=str)
    click.echo(escape_invisible(text))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[JSON_PRINTED] = True


# Set in ctx.meta (shared by the whole command line): --json was given, and
# its document was printed; a command that fails before printing one gets an
# error document instead (LazyGroup.invoke).
JSON_WANTED = "libcli.json_wanted"
JSON_PRINTED = "libcli.json_printed"


def json_pending() -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.meta.get(JSON_WANTED, False) and not ctx.meta.get(JSON_PRINTED, False)


def error_document(exc: LibcliError, card: str | None = None) -> dict[str, Any]:
    """What stdout carries under --json when the whole command failed."""
    error = {"message": exc.message, "exit_code": int(exc.exit_code), "kind": type(exc).__name__,
             "hint": exc.hint, "problems": list(exc.problems)}
    if card is not None:
        error["card"] = card
    return {"error": error}


def info(message: str, colour: str | None = None) -> None:
    from libcli.demo import typed

    click.echo(paint(clean_multiline(typed(message)), colour, err=True), err=True)


def warn(message: str) -> None:
    from libcli.demo import typed

    click.echo(paint(_("libcli: warning: {message}").format(message=clean(typed(message))), "yellow",
                     err=True), err=True)


def card_error(card_name: str, library: str, exc: LibcliError) -> None:
    from libcli.demo import typed

    click.echo(paint(_("libcli: card '{card}' ({library}): {message}").format(
        card=card_name, library=library, message=clean(typed(exc.message))), "red", err=True),
        err=True)
    if exc.hint:
        click.echo(clean_multiline(typed(exc.hint)), err=True)


def error_json(exc: LibcliError) -> dict[str, Any]:
    return {"code": int(exc.exit_code), "kind": type(exc).__name__, "message": exc.message}

