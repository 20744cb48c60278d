"""Everything libcli prints goes through here.

- Tables on stdout (tabulate), JSON only with --json (one document, nothing
  else on stdout), diagnostics on stderr.
- Colour only when stdout is a terminal and NO_COLOR is unset (or forced).
- Text that came from a library page is cleaned of control characters before
  it is printed, so a hostile title cannot drive the terminal.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from typing import Any, Iterable

import click

from libcli.errors import LibcliError
from libcli.text import clean, clean_multiline  # noqa: F401  (the one cleaner; commands use output.clean)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Keyed by the statuses' values (DueStatus and HoldStatus are StrEnums, so
# their members find these keys); libcli.model is not needed to load this.
STATUS_COLOURS = {
    "overdue": "red",
    "due_soon": "yellow",
    "ready": "green",
}


def color_on() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if getattr(ctx.obj, "color", None) is not None:
            return bool(ctx.obj.color)
        ctx = ctx.parent
    return False


def paint(text: str, colour: str | None, *, bold: bool = False) -> str:
    if not colour or not color_on():
        return text
    return click.style(text, fg=colour, bold=bold)


def short(text: str | None, width: int = 42) -> str:
    text = clean(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def day(d: date | None) -> str:
    return f"{WEEKDAYS[d.weekday()]} {d.isoformat()}" if d else ""


def relative(d: date, today: date) -> str:
    days = (d - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days > 1:
        return f"in {days} days"
    if days == -1:
        return "1 day late"
    return f"{-days} days late"


def table(headers: list[str], rows: Iterable[list[Any]]) -> None:
    from libcli.redact import redact

    click.echo(redact(simple_table(headers, list(rows))))


# ANSI colour codes and OSC 8 links take no width on the terminal (tabulate's rule).
_INVISIBLE = re.compile(r"\x1b\[\d*m|\x1b\[\d*\;\d*\;\d*m|\x1b\]8;;(.*?)\x1b\\")


def _width(text: str) -> int:
    """Terminal columns of `text`: wide (East Asian) characters take two,
    combining marks and format characters none. Everything below U+0300
    (ASCII and the Finnish, Swedish and Estonian letters) is one column each,
    so the common case costs one comparison."""
    text = _INVISIBLE.sub("", text)
    if not text or max(text) < "\u0300":
        return len(text)
    import unicodedata

    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def simple_table(headers: list[str], rows: list[list[Any]]) -> str:
    """The table `tabulate(rows, headers, tablefmt="simple", disable_numparse=True)`
    prints, character for character (a test compares them), without importing
    tabulate (and importlib.metadata) on every run: left-aligned columns two
    spaces apart, each as wide as its widest cell or its header plus two."""
    cells = [["" if c is None else str(c).strip() for c in row] for row in rows]
    heads = [str(h).strip() for h in headers]
    widths = [_width(h) + 2 for h in heads]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], _width(c))

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()

    out = [line(heads), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


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


def info(message: str) -> None:
    click.echo(clean_multiline(message), err=True)


def warn(message: str) -> None:
    click.echo(paint(f"libcli: warning: {clean(message)}", "yellow"), err=True)


def card_error(card_name: str, library: str, exc: LibcliError) -> None:
    click.echo(paint(f"libcli: card '{card_name}' ({library}): {clean(exc.message)}", "red"),
               err=True)
    if exc.hint:
        click.echo(clean_multiline(exc.hint), err=True)


def error_json(exc: LibcliError) -> dict[str, Any]:
    return {"code": int(exc.exit_code), "kind": type(exc).__name__, "message": exc.message}


def isatty_stdin() -> bool:
    return sys.stdin.isatty()
