"""A guard in front of the HTML parser: lexbor's time grows with the square
of the nesting depth (10^5 nested divs take about a minute), so a hostile
or broken page could hang libcli. Pages nested deeper than any real library
page are refused as not understood before they are parsed."""

from __future__ import annotations

import re

from libcli.errors import PageNotUnderstood

MAX_DEPTH = 2000
# Tag starts only (C speed); a void element (<br>, <input>) does not nest.
_TAG = re.compile(r"<(/?)(?:(area|base|br|col|embed|hr|img|input|link|meta|param|source|"
                  r"track|wbr|keygen|basefont|frame)\b|[a-zA-Z])", re.I)


def nesting_depth(text: str, stop_at: int = MAX_DEPTH) -> int:
    """The deepest element nesting, counted naively (unclosed tags count as
    open, a page with fewer tags than `stop_at` is not scanned at all)."""
    if text.count("<") <= stop_at:
        return text.count("<")  # an upper bound, and small enough
    depth = deepest = 0
    for closing, void in _TAG.findall(text):
        if closing:
            if depth:
                depth -= 1
        elif not void:
            depth += 1
            if depth > deepest:
                deepest = depth
    return deepest


def check_depth(text: str, page: str = "library") -> None:
    if nesting_depth(text) > MAX_DEPTH:
        raise PageNotUnderstood(page, f"its markup is nested more than {MAX_DEPTH} levels "
                                "deep (no library page is); refusing to parse it")


def parse(text: str):
    """LexborHTMLParser(text), after the depth check."""
    from selectolax.lexbor import LexborHTMLParser

    check_depth(text)
    return LexborHTMLParser(text)
