"""What several backends read alike, whatever their markup: a localised
amount as integer cents, a fee's kind from its label, the pickup location a
patron named. Light to import (no HTML parser): the JSON backends use it too."""

from __future__ import annotations

import re
from datetime import date

from libcli.errors import UsageError
from libcli.model import FeeType, PickupLocation


# The library may still act on a post whose answer was lost, so the advice is
# to look before trying again (a second renewal would use up another one).
# Commands are named plainly: the printers make them `libcli demo …` in the
# demo (libcli.demo.typed); a backend knows nothing of the demo or the CLI.
ANSWER_LOST = ("the library's answer was lost and the account shows no change yet; "
               "look again (libcli loans, libcli holds) before you try again")

_GAP = "[ \u00a0\u202f\u2009]"
_MONEY_RE = re.compile(
    r"([-\u2212])?\s*(?<![\d.,])(?<!\d" + _GAP + r")"
    r"(\d{1,3}(?:" + _GAP + r"\d{3})+|\d+)"
    r"(?:[,.](\d{2}))?"
    r"(?!\d|[,.]\d|" + _GAP + r"\d)"  # never a cut-off "5,8" or "1 23"
)


def parse_money(text: str | None) -> int | None:
    """``1 234,50 €`` (with any kind of space) → 123450 cents. Never a float."""
    if not text:
        return None
    m = _MONEY_RE.search(text)
    if not m:
        return None
    sign, whole, part = m.groups()
    whole = re.sub(r"\D", "", whole)
    part = part or "00"
    cents = int(whole) * 100 + int(part)
    return -cents if sign else cents


# A date as libraries print it: day, month and year in the site's order,
# one separator throughout (Finna: d.m.yyyy, VuFind's displayDateFormat;
# WebPAC: the site's own order, reference/webpac.md §4).
_DAY, _MONTH, _YEAR = r"(?P<d>\d{1,2})", r"(?P<m>\d{1,2})", r"(?P<y>\d{4}|\d{2})"
_DATE_ORDERS = {
    "dmy": re.compile(_DAY + r"(?P<s>[-./])" + _MONTH + r"(?P=s)" + _YEAR + r"(?!\d)"),
    "mdy": re.compile(_MONTH + r"(?P<s>[-./])" + _DAY + r"(?P=s)" + _YEAR + r"(?!\d)"),
    "ymd": re.compile(_YEAR + r"(?P<s>[-./])" + _MONTH + r"(?P=s)" + _DAY + r"(?!\d)"),
}


def read_date(text: str | None, order: str = "dmy", *, whole: bool = False) -> date | None:
    """The date in `text` (the whole text with `whole`), in the site's
    `order` ("dmy", "mdy", "ymd"); a two-digit year is this century. None:
    no date there, or no such day."""
    pattern = _DATE_ORDERS.get(order)
    if pattern is None:
        raise ValueError(f"unknown date order {order!r} (dmy, mdy or ymd)")
    text = (text or "").strip()
    m = pattern.fullmatch(text) if whole else pattern.search(text)
    if not m:
        return None
    year = int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)
    try:
        return date(year, int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def _words(*alternatives: str) -> re.Pattern:
    return re.compile("|".join(alternatives), re.I)


# A fee's kind from its label in fi / sv / en (Finna's fines table, Primo VE's
# localised fine descriptions), matched loosely; first match wins.
_FEE_TYPES = (
    (_words(r"korvaus", r"ersättning", r"replacement", r"kadon", r"lost", r"förlorad"), FeeType.REPLACEMENT),
    (_words(r"noutamat", r"varau", r"oavhämtad", r"reservation", r"hold", r"uncollected", r"not picked"),
     FeeType.UNCOLLECTED_HOLD),
    (_words(r"muistut", r"huomautu", r"påminnelse", r"krav", r"notice", r"reminder"), FeeType.NOTICE),
    (_words(r"myöhä", r"försen", r"overdue", r"late"), FeeType.OVERDUE),
)


def fee_type_of(text: str) -> FeeType:
    for pattern, kind in _FEE_TYPES:
        if pattern.search(text or ""):
            return kind
    return FeeType.OTHER


def choose_pickup(locations: list[PickupLocation], wanted: str | None) -> PickupLocation | None:
    """By code or name, case-insensitive; a unique prefix is enough."""
    listing = ", ".join(f"{p.code} ({p.name})" for p in locations)
    if not locations:
        if wanted:
            raise UsageError(f"the library lists no pickup locations; cannot choose '{wanted}'")
        return None
    if not wanted:
        default = next((p for p in locations if p.default), None)
        if default is not None:
            return default
        if len(locations) == 1:
            return locations[0]
        raise UsageError("choose a pickup location with --pickup", problems=[listing])
    w = wanted.strip().casefold()
    for p in locations:
        if p.code.casefold() == w or p.name.casefold() == w:
            return p
    matches = [p for p in locations
               if p.code.casefold().startswith(w) or p.name.casefold().startswith(w)]
    if len(matches) == 1:
        return matches[0]
    what = "matches several" if matches else "is not one of"
    raise UsageError(f"pickup location '{wanted}' {what} the choices: {listing}",
                     problems=[f"{p.code}: {p.name}" for p in (matches or locations)])
