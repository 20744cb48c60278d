"""Library pages' markup: a guard in front of the HTML parser, and the text
helper the page parsers share.

The guard: lexbor's time grows with the square of the nesting depth (10^5
nested divs take about a minute), so a hostile or broken page could hang
libcli. Pages nested deeper than any real library page are refused as not
understood before they are parsed."""

from __future__ import annotations

import re

from libcli.errors import PageNotUnderstood
# The parsers' whitespace squash is libcli.text's (one text helper); parsers
# keep the library's characters, the printers clean them (libcli.text.clean).
from libcli.text import squash as clean  # noqa: F401

MAX_DEPTH = 2000
# Tag starts only (C speed); a void element (<br>, <input>) does not nest.
_TAG = re.compile(r"<(/?)(?:(area|base|br|col|embed|hr|img|input|link|meta|param|source|"
                  r"track|wbr|keygen|basefont|frame)\b|[a-zA-Z])", re.I)


_CHUNK = 8192
# "</" not before a letter is text ("</<"), not a closing tag. Such marks are
# rare, so counting them (to subtract) is cheaper than counting real closes.
_NOT_CLOSE = re.compile(r"</(?![A-Za-z])")
# Void elements whose tag name no other element's name starts with, so that
# subtracting their count can never undercount opening tags.
_VOIDS = ("<br", "<input", "<img", "<meta", "<link", "<hr", "<wbr")


def _depth_bound(text: str, *, voids: bool = True) -> int:
    """An upper bound of the nesting depth at C speed (str.count per chunk):
    inside a chunk the depth rises at most by the chunk's opening tags. Tags
    cut at a chunk's edge only make the bound larger, never smaller. Without
    `voids`, void elements, comments and doctypes count as opening tags that
    never close: a looser bound in a fraction of the time."""
    depth = bound = 0
    for start in range(0, len(text), _CHUNK):
        chunk = text[start:start + _CHUNK]
        ends = chunk.count("</")
        # Counting more closes than the parser sees would let the bound undercount.
        closes = ends - len(_NOT_CLOSE.findall(chunk))
        opens = chunk.count("<") - ends
        if voids:
            opens -= chunk.count("<!") + sum(chunk.count(v) for v in _VOIDS)
        bound = max(bound, depth + opens)
        depth = max(depth + opens - closes, 0)
    return bound


def nesting_depth(text: str) -> int:
    """The deepest element nesting, counted naively (unclosed tags count as open)."""
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
    # Cheapest first: the loose bound clears almost every real page, the
    # tighter one the rest; only a suspect page is scanned tag by tag.
    if (_depth_bound(text, voids=False) > MAX_DEPTH and _depth_bound(text) > MAX_DEPTH
            and nesting_depth(text) > MAX_DEPTH):
        raise PageNotUnderstood(page, f"its markup is nested more than {MAX_DEPTH} levels "
                                "deep (no library page is); refusing to parse it")


def parse(text: str):
    """LexborHTMLParser(text), after the depth check."""
    from selectolax.lexbor import LexborHTMLParser

    check_depth(text)
    return LexborHTMLParser(text)


def form_fields(form, *, submit: str | None = None, skip=(), pressed: str = "1",
                owned=None) -> list[tuple[str, str]]:
    """The name/value pairs a browser would post for a form: hidden and
    text-like inputs, checked checkboxes and radios, selects (the selected
    option, else the first), textareas; of the buttons only the one pressed
    (named `submit`; `pressed` is its value when it has none). Disabled
    fields and the names in `skip` are left out. `owned`: the form's fields
    when the parser did not nest them in it (WebPAC's login, see
    webpac_pages._form_inputs); else the fields inside `form`. Every HTML
    backend posts its forms through this one function."""
    skip = set(skip)
    out: list[tuple[str, str]] = []
    nodes = owned if owned is not None else form.css("input, select, textarea, button")
    for node in nodes:
        attrs = node.attributes
        name = attrs.get("name")
        if not name or name in skip or "disabled" in attrs:
            continue
        if node.tag == "select":
            options = node.css("option")
            chosen = next((o for o in options if "selected" in o.attributes), None)
            if chosen is None and options:
                chosen = options[0]
            if chosen is not None:
                value = chosen.attributes.get("value")
                out.append((name, value if value is not None
                            else clean(chosen.text(deep=True, separator=" "))))
            continue
        if node.tag == "textarea":
            out.append((name, node.text(deep=True) or ""))
            continue
        kind = (attrs.get("type") or ("submit" if node.tag == "button" else "text")).lower()
        value = attrs.get("value") or ""
        if kind in ("submit", "button", "image", "reset"):
            if submit is not None and name == submit:
                out.append((name, value or pressed))
            continue
        if kind in ("checkbox", "radio"):
            if "checked" in attrs:
                out.append((name, value or "on"))
            continue
        if kind == "file":
            continue
        out.append((name, value))
    return out
