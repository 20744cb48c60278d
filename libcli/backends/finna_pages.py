"""Finna (VuFind, finna2 theme) pages as data: pure functions, no I/O.

Each ``parse_*`` takes page HTML (or a parsed tree) and returns plain
structures; ``finna.py`` holds the flow (requests, login, retries) and
combines these with policy. The markup is described in
``shared/reference/finna.md``.

Parsing rules, because live Finna views drift between releases (§9):

- anchor on what is stable: input names (``renewSelectedIDS[]``,
  ``selectedIDS[]``, ``csrf``), row ids (``record<id>``), ``data-raw``
  amounts, the date pattern and the ``alert-*`` severity classes;
- search inside a row instead of along one exact path;
- where label text must be read, match its meaning loosely in Finnish,
  Swedish and English;
- when something needed is missing, raise :class:`PageNotUnderstood` naming
  the page and the part, and cross-check counts (the header's "(N)", the
  total's ``data-raw``) so that a half-read page is never reported as a
  smaller account.
"""

from __future__ import annotations

import functools
import re
from datetime import date, time
from typing import Iterable
from urllib.parse import parse_qs, unquote, urlsplit

from msgspec import Struct, field
from selectolax.lexbor import LexborHTMLParser, LexborNode

from libcli.backends.shared import fee_type_of, parse_money, read_date
from libcli.errors import PageNotUnderstood
from libcli.markup import clean, form_fields, parse
from libcli.model import FeeType, Material, PickupLocation, SearchResult

LOANS_PAGE = "checked-out items"
HOLDS_PAGE = "holds"
FINES_PAGE = "fines"
LOGIN_PAGE = "login"
HOLD_FORM_PAGE = "place-a-hold"
RECORD_PAGE = "record"
PAYMENT_PAGE = "payment terms"
SEARCH_API = "search API"

DATE = r"(\d{1,2})\.(\d{1,2})\.(\d{4})"
DATE_RE = re.compile(DATE)


# --- small helpers ------------------------------------------------------------


def tree_of(html: str | LexborHTMLParser) -> LexborHTMLParser:
    if isinstance(html, LexborHTMLParser):
        return html
    return parse(html or "")  # refuses absurdly deep nesting before lexbor sees it


def text_of(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return clean(node.text(deep=True, separator=" "))


def parse_date(text: str | None) -> date | None:
    return read_date(text)  # d.m.yyyy (VuFind's displayDateFormat in Finna)


def _int_attr(node: LexborNode | None, name: str) -> int | None:
    if node is None:
        return None
    raw = (node.attributes.get(name) or "").strip()
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return None


def classes(node: LexborNode | None) -> set[str]:
    if node is None:
        return set()
    return set((node.attributes.get("class") or "").split())


def body_classes(tree: LexborHTMLParser) -> set[str]:
    return classes(tree.body)


def record_id_from_href(href: str | None) -> str | None:
    if not href:
        return None
    m = re.search(r"/Record/([^/?#]+)", href)
    return unquote(m.group(1)) if m else None


def _words(*alternatives: str) -> re.Pattern:
    return re.compile("|".join(alternatives), re.I)


# Label meanings in fi / sv / en-gb (reference §6), matched loosely. The
# renewal patterns run on lower-cased text, without re.I (slow over non-ASCII).
_RENEW_FRACTION = re.compile(r"(?:uusi\w*|uusint\w*|förny\w*|renew\w*)\D{0,25}?(\d+)\s*/\s*(\d+)")
_RENEW_REMAINING = re.compile(
    r"(?:uusi\w*|uusint\w*|förny\w*|renew\w*)[^\d]{0,30}?(?:jäljellä|kvar|återstående|remaining|left)"
    r"\W{0,6}(\d+)")
_RENEWED_COUNT = re.compile(r"(?:uusittu|uusittu\s+\w+|förnyat|renewed)\W{0,6}(\d+)(?!\s*/)")
_RENEW_OK = _words(r"onnistui", r"lyckades", r"successful", r"renewed")
_RENEW_FAIL = _words(r"ei voitu uusia", r"kunde inte förnyas", r"could not be renewed",
                     r"not renewed", r"ei uusittu")
_OVERDUE = _words(r"myöhässä", r"försen", r"overdue")
_RESERVED = _words(r"varattu", r"varaus", r"reserverat", r"reserverad", r"reservation",
                   r"requested", r"reserved")
_MUST_LOGIN = _words(r"kirjaudu sisään ensin", r"du måste logga in", r"must be logged in")
_NO_ITEMS = _words(r"\bei ole\b", r"\bei lainoja\b", r"\bei varauksia\b", r"\bei maksuja\b",
                   r"\binga\b", r"\bhar inte\b", r"\bhar inga\b", r"do not have", r"don't have",
                   r"\bno (?:items|holds|fines|loans)\b")
_HEADER_COUNT = re.compile(r"\((\d+)\)\s*$")
# renew_item_due (languages/{fi,sv,en}.ini): the due-soon note, not a reason.
_DUE_SOON_NOTE = re.compile(r"alle vuorokausi|inom ett dygn|within the next 24 hours", re.I)


# --- page identity ---------------------------------------------------------------


def template_name(tree: LexborHTMLParser) -> str | None:
    for cls in body_classes(tree):
        if cls.startswith("template-name-"):
            return cls[len("template-name-"):]
    return None


def _login_form_node(tree: LexborHTMLParser) -> LexborNode | None:
    """The library-card login form; never the Finna-account (Database) one.

    Sites order ChoiceAuth's tabs differently (Auth/ChoiceAuth/login.phtml
    renders one form per method, in the view's configured order), and the
    forms share ``name=loginForm``; an ``id`` is printed only by finna2's
    Auth/MultiILS/login.phtml (bootstrap3's Auth/AbstractBase/login.phtml,
    used for ILS, has none). So each form is judged by what it is: its
    ``auth_method`` (MultiILS / ILS; Database is the Finna account) and a
    ``target`` field (Auth/MultiILS/loginfields.phtml), never by position.
    """
    candidates = []
    for form in tree.css("form"):
        if form.css_first("input[type=password], input[name=password]") is None:
            continue
        method_node = form.css_first("input[name=auth_method]")
        method = (method_node.attributes.get("value") or "") if method_node is not None else ""
        if method.casefold() in _ACCOUNT_AUTH_METHODS:
            continue  # a Finna account, not a library card
        if form.css_first("[name=target]") is not None or method.casefold() in _CARD_AUTH_METHODS:
            rank = 0
        elif form.attributes.get("id") == "loginForm" or form.attributes.get("name") == "loginForm":
            rank = 1  # no method named: a bare login form
        else:
            continue
        candidates.append((rank, form))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]


_CARD_AUTH_METHODS = frozenset({"multiils", "ils"})
_ACCOUNT_AUTH_METHODS = frozenset({"database", "email"})


def is_login_page(tree: LexborHTMLParser) -> bool:
    """An account page answered with the login form (expired session)."""
    name = template_name(tree)
    if name == "login":
        return True
    if name not in (None, "login") and name not in ("home", "userlogin"):
        # Another known template: a login form inside it is a lightbox/menu.
        return False
    return _login_form_node(tree) is not None


def is_catalog_login_page(tree: LexborHTMLParser) -> bool:
    return template_name(tree) == "cataloglogin" or tree.css_first(
        "input[name=cat_password]") is not None


class Flash(Struct):
    level: str  # danger, warning, info, success, default
    text: str


_ALERT_LEVELS = ("danger", "warning", "info", "success", "default")


def alert_level(node: LexborNode) -> str | None:
    cls = classes(node)
    for level in _ALERT_LEVELS:
        if f"alert-{level}" in cls:
            return level
    if "alert-error" in cls:
        return "danger"
    return None


def flashes(tree: LexborHTMLParser) -> list[Flash]:
    """Flash messages (div.flash-message / [role=alert]) outside table rows."""
    out: list[Flash] = []
    seen = set()
    for node in tree.css(".flash-message, [role=alert]"):
        level = alert_level(node)
        if level is None or _inside(node, "tr"):
            continue
        text = text_of(node)
        if text and (level, text) not in seen:
            seen.add((level, text))
            out.append(Flash(level, text))
    return out


def _inside(node: LexborNode, tag: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == tag:
            return True
        parent = parent.parent
    return False


def error_messages(tree: LexborHTMLParser, *, skip_must_login: bool = True) -> list[str]:
    return [f.text for f in flashes(tree)
            if f.level == "danger" and not (skip_must_login and _MUST_LOGIN.search(f.text))]


def _refuse_empty_with_error(tree: LexborHTMLParser, what: str) -> None:
    """An empty list next to an error flash is an outage, not an empty account.

    VuFind shows e.g. ``ils_connection_failed`` when the library system
    behind Finna does not answer; the list then reads as empty.
    """
    errors = error_messages(tree)
    if errors:
        from libcli.errors import Unreachable

        raise Unreachable(f"the library could not read the {what}: {'; '.join(errors)}")


def header_count(tree: LexborHTMLParser) -> int | None:
    """The "(N)" at the end of the account page's h2, if any."""
    nodes = tree.css(".useraccount-header h2") or tree.css("h2")
    for node in nodes:
        if "lightbox-header" in classes(node):
            continue
        m = _HEADER_COUNT.search(text_of(node))
        if m:
            return int(m.group(1))
    return None


def says_no_items(tree: LexborHTMLParser) -> bool:
    return any(_NO_ITEMS.search(text_of(h)) for h in tree.css("h3"))


def support_notice(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first(".support-notice")
    return text_of(node) or None if node is not None else None


# --- forms ---------------------------------------------------------------------


class LoginForm(Struct):
    action: str | None
    fields: list[tuple[str, str]]  # everything but username and password
    targets: list[str]  # login target ids offered (select options or the hidden value)
    username: str = "username"
    password: str = "password"

    def with_target(self, target: str | None) -> list[tuple[str, str]]:
        if target is None:
            return list(self.fields)
        return [(k, target if k == "target" else v) for k, v in self.fields]


def parse_login_form(html: str | LexborHTMLParser) -> LoginForm:
    tree = tree_of(html)
    form = _login_form_node(tree)
    if form is None:
        raise PageNotUnderstood(LOGIN_PAGE, "the library-card login form (form#loginForm)")
    password = form.css_first("input[type=password]") or form.css_first("input[name=password]")
    user = (form.css_first("input[name=username]")
            or form.css_first("input[type=text], input:not([type])"))
    if user is None or password is None:
        raise PageNotUnderstood(LOGIN_PAGE, "the username and password fields")
    uname, pname = user.attributes.get("name"), password.attributes.get("name")
    submit = form.css_first("[name=processLogin]")
    fields = form_fields(form, submit="processLogin" if submit is not None else None,
                         skip=(uname, pname, "remember_me"))
    targets: list[str] = []
    target = form.css_first("[name=target]")
    if target is not None:
        if target.tag == "select":
            targets = [o.attributes.get("value") or "" for o in target.css("option")]
            targets = [t for t in targets if t]
        elif target.attributes.get("value"):
            targets = [target.attributes["value"]]
    return LoginForm(form.attributes.get("action"), fields, targets, uname, pname)


# authentication_error_technical (languages/{fi,sv,en}.ini), thrown by
# VuFind/Auth/Manager.php for a refused CSRF token and for an ILS that did not
# answer; the older "technical error" wordings are kept for other views.
TECHNICAL_LOGIN_ERROR = _words(
    r"sisäänkirjautuminen epäonnistui\. yritä uudestaan hetken", r"inloggningen misslyckades\. "
    r"försök igen efter en stund", r"we cannot log you in at this time",
    r"tekninen virhe", r"tekniskt fel", r"technical error")


def login_refusal(tree: LexborHTMLParser) -> str | None:
    """The site's reason after a refused login, if it shows one."""
    errors = error_messages(tree)
    return "; ".join(errors) if errors else None


# --- loans -------------------------------------------------------------------------


class RowResult(Struct):
    """The renewal answer printed in one loan's row after a renew post."""

    renewed: bool
    message: str | None = None


class RawLoan(Struct):
    record_id: str | None
    title: str
    due_date: date
    author: str | None = None
    barcode: str | None = None
    material: Material = Material.BOOK
    renewals_used: int | None = None
    renewals_limit: int | None = None
    renewals_remaining: int | None = None
    renew_token: str | None = None
    site_reason: str | None = None  # why the site gives no checkbox, if it says
    reserved: bool = False
    overdue_flag: bool = False
    result: RowResult | None = None
    ordinal: int = 0  # 0 for the first loan of a record on the page, 1 for the next …
    due_time: time | None = None  # short loans: checkedout.phtml l. 238 span.due-time

    @property
    def item_part(self) -> str | None:
        """The stable part of the renew token: the item id.

        SierraRest and KohaRest tokens are ``<checkout_id>|<item_id>``;
        Axiell's is just ``<item_id>``. A checkout id may change when the ILS
        re-issues a loan; the item id is the physical copy and does not.
        """
        if not self.renew_token:
            return None
        return self.renew_token.rsplit("|", 1)[-1] or None

    @property
    def key(self) -> str:
        """Stable between runs: record id plus the copy (item id, else barcode)."""
        base = self.record_id or f"title:{self.title}"
        part = self.item_part or self.barcode
        if part:
            return f"{base}|{part}"
        return base if self.ordinal == 0 else f"{base}#{self.ordinal + 1}"


class LoansPage(Struct):
    loans: list[RawLoan]
    total: int | None
    csrf: str | None
    has_form: bool
    other_page_failures: list[str] = field(default_factory=list)
    flashes: list[Flash] = field(default_factory=list)
    last_page: int = 1


def is_loans_page(tree: LexborHTMLParser) -> bool:
    name = template_name(tree)
    if name is not None:
        return name == "checkedout"
    return tree.css_first("form#renewals, form[name=renewals]") is not None or any(
        (n.attributes.get("id") or "").startswith("record") for n in tree.css("tr[id]"))


# The classes a row scan keeps, by page: each class in the query costs a
# walk of the page's nodes.
_LOAN_CLASSES = ("record-title", "status-column", "checkedout-status-information",
                 "record-core-metadata", "no-checkbox")
_HOLD_CLASSES = ("record-title", "holds-status-information", "pickup-location-container",
                 "text-success", "record-core-metadata", "no-checkbox")
_SCAN_CLASSES = frozenset(_LOAN_CLASSES + _HOLD_CLASSES)


def _scan_selector(classes: tuple[str, ...]) -> str:
    # :is() also returns a node matched twice only once.
    return ("tr, tr :is(input, a, [class*='alert-'], [class*='format-'], "
            + ", ".join(f".{c}" for c in classes) + ")")


_LOAN_SCAN = _scan_selector(_LOAN_CLASSES)
_HOLD_SCAN = _scan_selector(_HOLD_CLASSES)
_SKIP_TAGS = frozenset({"br", "img", "strong", "b", "em", "i", "th", "source", "picture"})


@functools.lru_cache(maxsize=512)
def _class_meaning(cls: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A class attribute's scanned classes, alert levels and format badges.
    Rows repeat the same few class strings, so each is split once."""
    known, alerts, formats = [], [], []
    for c in cls.split():
        if c in _SCAN_CLASSES:
            known.append(c)
        elif c.startswith("alert-"):
            level = "danger" if c == "alert-error" else c[6:]
            if level in _ALERT_LEVELS:
                alerts.append(level)
        elif c.startswith("format-"):
            formats.append(c)
    return tuple(known), tuple(alerts), tuple(formats)


class RowScan:
    """What the parsers look for in one table row, collected in one pass.

    A single traversal is several times faster than a CSS query per field,
    which keeps a 100-loan page well within its time budget.
    """

    __slots__ = ("row", "attrs", "by_class", "alerts", "inputs", "links", "formats")

    def __init__(self, row: LexborNode):
        self.row = row
        self.attrs = row.attributes  # the row's own: each read builds a new dict
        self.by_class: dict[str, LexborNode] = {}
        self.alerts: list[tuple[str, LexborNode]] = []
        self.inputs: list[tuple[str, str]] = []
        self.links: list[tuple[LexborNode, str]] = []
        self.formats: list[str] = []

    @classmethod
    def of(cls, row: LexborNode) -> "RowScan":
        """One row, walked on its own."""
        scan = cls(row)
        _collect(row.traverse(), scan, None)
        return scan

    @classmethod
    def page(cls, tree: LexborHTMLParser, selector: str) -> list["RowScan"]:
        """Every ``tr`` of the page, scanned with one document-wide query
        (`selector`, 3x faster than a walk per row).

        Descendants come in document order right after their row, so each
        node belongs to the latest ``tr`` before it. With nested tables that
        does not hold, and each row is walked on its own instead.
        """
        if tree.css_first("tr tr") is not None:
            return [cls.of(tr) for tr in tree.css("tr")]
        scans: list[RowScan] = []
        _collect(tree.css(selector), None, scans)
        return scans

    def is_record_row(self) -> bool:
        """An account-table row: by row id, by row class, or by carrying a record title."""
        attrs = self.attrs
        if (attrs.get("id") or "").startswith("record"):
            return True
        cls = (attrs.get("class") or "").split()
        # The hidden header row before the rows (checkedout.phtml l. 138,
        # holds/list.phtml l. 99): sr-only in bootstrap 3, visually-hidden in
        # bootstrap 5 (heili.finna.fi, 2026), aria-hidden in both.
        if ("sr-only" in cls or "visually-hidden" in cls or "headers" in cls
                or attrs.get("aria-hidden") == "true"):
            return False
        if ("myresearch-row" in cls or "record-title" in self.by_class
                or any("/Record/" in href for _, href in self.links)):
            return not _inside(self.row, "thead")
        return False

    def get(self, *names: str) -> LexborNode | None:
        for name in names:
            node = self.by_class.get(name)
            if node is not None:
                return node
        return None

    def input_value(self, *names: str) -> str | None:
        for name in names:
            for n, v in self.inputs:
                if n == name and v:
                    return v
        return None


def _collect(nodes: Iterable[LexborNode], scan: RowScan | None,
             scans: list[RowScan] | None) -> None:
    """Sort `nodes` into `scan`, or, given `scans`, into a new scan at each
    ``tr`` (appended there). The hottest loop of a page parse, so inline."""
    meaning = _class_meaning
    skip = _SKIP_TAGS
    for node in nodes:
        tag = node.tag
        if tag in skip:
            continue
        if scans is not None and tag == "tr":
            scan = RowScan(node)
            scans.append(scan)
            continue
        if scan is None:
            continue
        attrs = node.attributes
        if tag == "input":
            name = attrs.get("name")
            if name:
                scan.inputs.append((name, attrs.get("value") or ""))
        elif tag == "a":
            href = attrs.get("href")
            if href:
                scan.links.append((node, href))
        cls = attrs.get("class")
        if cls:
            known, alerts, formats = meaning(cls)
            for c in known:
                scan.by_class.setdefault(c, node)
            for level in alerts:
                scan.alerts.append((level, node))
            if formats:
                scan.formats.extend(formats)


def _record_rows(tree: LexborHTMLParser, selector: str) -> list[RowScan]:
    return [scan for scan in RowScan.page(tree, selector) if scan.is_record_row()]


def _title_and_record(scan: RowScan, page: str, index: int) -> tuple[str, str | None]:
    title_node = scan.get("record-title")
    link = None
    if title_node is not None:
        link = title_node if title_node.tag == "a" else title_node.css_first("a[href*='/Record/']")
    if link is None:
        for a, href in scan.links:
            if "/Record/" in href and text_of(a):
                link = a
                break
    title = text_of(title_node) or text_of(link)
    title = title.rstrip(" /:")
    if not title:
        raise PageNotUnderstood(page, f"the title in row {index + 1}")
    record_id = None
    rid = scan.attrs.get("id") or ""
    if rid.startswith("record") and len(rid) > len("record"):
        record_id = rid[len("record"):]
    if record_id is None and link is not None:
        record_id = record_id_from_href(link.attributes.get("href"))
    return title, record_id


def _author(scan: RowScan) -> str | None:
    for a, href in scan.links:
        if "author" in href.lower() and "/Record/" not in href:
            return text_of(a) or None
    meta = scan.get("record-core-metadata")
    if meta is not None:
        for a in meta.css("a"):
            href = a.attributes.get("href") or ""
            if "/Record/" not in href and "record-title" not in classes(a):
                return text_of(a) or None
    return None


# Words are looked for in lower-cased text with `in`: a regex alternation (and
# re.I over non-ASCII text most of all) cost more than the rest of a row.
_FORMAT_MATERIAL = (
    (("newspaper",), Material.NEWSPAPER),
    (("journal", "magazine", "serial", "periodical", "lehti"), Material.MAGAZINE),
    (("video", "dvd", "blu", "sound", "audio", "music", "cd", "game", "film"), Material.AUDIOVISUAL),
)
_QUICK_WORDS = ("pikalaina", "snabblån", "quick loan", "quickloan", "express")
_CHILD_WORDS = ("lasten", "nuorten", "barn", "ungdom", "children", "youth", "juvenile")
_TYPE_LABELS = ("aineistotyyppi", "materialtyp", "material type")


def _has(text: str, words: tuple[str, ...]) -> bool:
    for w in words:  # a loop: any() over a generator costs half again as much
        if w in text:
            return True
    return False


def _after_word(text: str, low: str, labels: tuple[str, ...]) -> str | None:
    """What follows the first of `labels` found in `low` (`text` lower-cased),
    taken from `text` past the separators; None without any label. Substring
    searches: a regex over the row's text costs more."""
    for label in labels:
        at = low.find(label)
        if at >= 0:
            return text[at + len(label):].lstrip(" :\u00a0-")
    return None


def _material_type(low: str) -> str:
    """The value after a material-type label: up to the next label's colon."""
    rest = _after_word(low, low, _TYPE_LABELS)
    return rest[:40].split(":", 1)[0] if rest else ""


@functools.lru_cache(maxsize=256)
def _format_material(formats: str) -> tuple[bool, Material]:
    """(a children's badge?, the material) of a row's format badges; rows
    repeat the same few, so each combination is read once."""
    children = _has(formats, _CHILD_WORDS)
    for words, material in _FORMAT_MATERIAL:
        if _has(formats, words):
            return children, material
    return children, Material.BOOK


def _material(scan: RowScan, low: str) -> Material:
    """From the format badges' classes and the material-type line (loosely),
    in the row's lower-cased text."""
    if _has(low, _QUICK_WORDS):
        return Material.QUICK_LOAN
    children, material = _format_material(" ".join(scan.formats).lower() if scan.formats else "")
    if children or _has(_material_type(low), _CHILD_WORDS):
        return Material.CHILDREN
    return material


def _after_label(text: str, label: re.Pattern) -> str:
    """'Lainaa ei voitu uusia: Varattu toiselle asiakkaalle' → the reason part."""
    m = label.search(text)
    if m:
        rest = text[m.end():].lstrip(" .:")
        if rest:
            return rest
    return text


_BARCODE_LABELS = ("viivakoodi", "streckkod", "barcode")


def _barcode(text: str, low: str) -> str | None:
    """The word after a barcode label (`low`: `text` lower-cased)."""
    rest = _after_word(text, low, _BARCODE_LABELS)
    m = _BARCODE_VALUE.match(rest) if rest is not None else None
    return m.group(0) if m else None


_BARCODE_VALUE = re.compile(r"[A-Za-z0-9][\w-]*")
_DUE_WORDS = ("eräpäivä", "due date", "due")
_CHECKED_OUT_WORDS = ("lainattu", "lainauspäivä", "utlånad", "checked out")


_LABEL_GAP = " :\u00a0-–"


def _labelled_due_date(low: str) -> date | None:
    """The last date right after a due label (separators between them), as
    the scan in _due_date picks it, found with a few substring searches: the
    common case, at a fraction of a regex pass over every date. Swedish
    "förfallo…" labels are left to the scan."""
    best, found = -1, None
    for word in _DUE_WORDS:
        start = 0
        while (at := low.find(word, start)) >= 0:
            start = at + 1
            i = at + len(word)
            while i < len(low) and low[i] in _LABEL_GAP:
                i += 1
            # The scan sees 24 characters before a date: the label must fit.
            if i <= best or at < i - 24:
                continue
            m = DATE_RE.match(low, i)
            if m:
                try:
                    found, best = date(int(m.group(3)), int(m.group(2)), int(m.group(1))), i
                except ValueError:
                    continue
    return found


def _due_date(low: str) -> date | None:
    """The date labelled as due (the last one: after a renewal, the new one),
    in lower-cased text.

    Without a due label, the last date that is not labelled as the checkout
    date. Labels are matched in fi / sv / en right before the date.
    """
    labelled = None if "förfallo" in low else _labelled_due_date(low)
    if labelled is not None:
        return labelled
    others = []
    for m in DATE_RE.finditer(low):
        try:
            d = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            continue
        tail = low[max(0, m.start() - 24): m.start()].rstrip(_LABEL_GAP)
        if tail.endswith(_DUE_WORDS) or tail.rsplit(" ", 1)[-1].startswith("förfallo"):
            labelled = d  # a label the quick search did not see (not expected)
        elif not tail.endswith(_CHECKED_OUT_WORDS):
            others.append(d)
    if labelled is not None:
        return labelled
    return others[-1] if others else None


# A due date's time, "18.5.2026 14.30" (fi writes it with dots) or "14:30":
# checkedout.phtml l. 238 prints ilsDetails['dueTime'] in span.due-time right
# after the date.
_DATE_TIME_RE = re.compile(DATE + r"\s+(?:klo\.?\s*|kl\.?\s*)?([01]?\d|2[0-3])[.:]([0-5]\d)(?![\d.])")


def _due_time(low: str, due: date) -> time | None:
    """The time written after the due date; not the checkout time a loan
    taken out on its due day carries (checkedout.phtml l. 202)."""
    found = None
    for m in _DATE_TIME_RE.finditer(low):
        day, month, year, hour, minute = (int(g) for g in m.groups())
        if (year, month, day) != (due.year, due.month, due.day):
            continue
        if low[max(0, m.start() - 24): m.start()].rstrip(_LABEL_GAP).endswith(_CHECKED_OUT_WORDS):
            continue
        found = time(hour, minute)
    return found


def parse_loan_row(row: LexborNode, index: int = 0, *, has_form: bool = False,
                   scan: RowScan | None = None) -> RawLoan:
    scan = scan or RowScan.of(row)
    title, record_id = _title_and_record(scan, LOANS_PAGE, index)
    status = scan.get("status-column", "checkedout-status-information")
    status_text = text_of(status if status is not None else row)
    status_low = status_text.lower()
    meta = scan.get("record-core-metadata")
    meta_text = text_of(meta) if meta is not None else ""
    meta_low = meta_text.lower()
    due = _due_date(status_low)
    if due is None and status is not None:
        due = _due_date(text_of(row).lower())
    if due is None:
        raise PageNotUnderstood(LOANS_PAGE, f"the due date of '{title}'")

    token = scan.input_value("renewSelectedIDS[]", "renewAllIDS[]", "selectAllIDS[]")
    no_checkbox = scan.get("no-checkbox")
    # Without a checkbox the loan is not renewable online: span.no-checkbox
    # (checkedout.phtml l. 162), or a td.checkbox-col some views leave empty.

    used = limit = remaining = None
    m = _RENEW_FRACTION.search(status_low) if "/" in status_low else None
    if m:
        used, limit = int(m.group(1)), int(m.group(2))
    else:
        m = _RENEW_REMAINING.search(status_low)
        if m:
            remaining = int(m.group(1))
        else:
            m = _RENEWED_COUNT.search(status_low)
            if m:
                used = int(m.group(1))
            # else: no count. checkedout.phtml prints the renewal line only
            # `if (isset($ilsDetails['renew']))` (l. 216): Alma never sets it,
            # KohaRest leaves it null for permanent blocks (too_many, onsite:
            # VuFind/ILS/Driver/KohaRest.php l. 2846), Axiell in some states.
            # Renewals are then unknown (None), never a guessed number.

    result = None
    reserved = False
    overdue = False
    reason = None
    status_message = None
    for level, node in scan.alerts:
        text = text_of(node)
        if _RESERVED.search(text):
            reserved = True
        if level == "info" and text and not _DUE_SOON_NOTE.search(text):
            # The driver's status message (checkedout.phtml l. 190-191:
            # $ilsDetails['message'], e.g. KohaRestSuomi's too_many, on_reserve).
            status_message = status_message or text
        if level == "success" and (_RENEW_OK.search(text) or not _OVERDUE.search(text)):
            result = RowResult(True, text or None)
        elif level == "danger" and _RENEW_FAIL.search(text):
            result = RowResult(False, _after_label(text, _RENEW_FAIL))
        elif level == "danger" and _OVERDUE.search(text):
            overdue = True
        elif level == "danger" and result is None:
            result = RowResult(False, text)
    if token is None and no_checkbox is not None:
        reason = text_of(no_checkbox) or None
    if token is None and status_message:
        reason = status_message
    barcode = _barcode(meta_text, meta_low) or _barcode(status_text, status_low)
    return RawLoan(
        record_id=record_id, title=title, due_date=due, author=_author(scan), barcode=barcode,
        material=_material(scan, meta_low + " " + status_low), renewals_used=used,
        renewals_limit=limit, renewals_remaining=remaining, renew_token=token, site_reason=reason,
        reserved=reserved, overdue_flag=overdue, result=result,
        due_time=_due_time(status_low, due),
    )


def _set_ordinals(loans: list) -> None:
    seen: dict[str, int] = {}
    for loan in loans:
        base = loan.record_id or f"title:{loan.title}"
        loan.ordinal = seen.get(base, 0)
        seen[base] = loan.ordinal + 1


def _last_page(tree: LexborHTMLParser) -> int:
    last = 1
    for a in tree.css(".pagination a[href], nav a[href*='page=']"):
        href = a.attributes.get("href") or ""
        try:
            values = parse_qs(urlsplit(href).query).get("page", [])
        except ValueError:
            continue
        for v in values:
            if v.isdigit():
                last = max(last, int(v))
    return last


def _check_empty(tree, total: int | None, what: str, page: str, missing: str) -> None:
    """A list without rows is an empty account only where the page says so:
    not a card the library does not serve, an outage, or a count above zero."""
    notice = support_notice(tree)
    if notice:
        from libcli.errors import NotSupported

        raise NotSupported(f"the library does not list {what} for this card online: {notice}")
    _refuse_empty_with_error(tree, what)
    if total not in (0, None) or (total is None and not says_no_items(tree)):
        raise PageNotUnderstood(page, missing)


def parse_loans(html: str | LexborHTMLParser) -> LoansPage:
    tree = tree_of(html)
    if not is_loans_page(tree):
        raise PageNotUnderstood(LOANS_PAGE, "the page is not the checked-out items page")
    form = tree.css_first("form#renewals, form[name=renewals]")
    loans = [parse_loan_row(scan.row, i, has_form=form is not None, scan=scan)
             for i, scan in enumerate(_record_rows(tree, _LOAN_SCAN))]
    _set_ordinals(loans)
    total = header_count(tree)
    last = _last_page(tree)
    if not loans:
        _check_empty(tree, total, "loans", LOANS_PAGE, "no loan rows, and no 'no items' notice")
    else:
        if total is None:
            raise PageNotUnderstood(LOANS_PAGE, "the item count in the page header")
        if len(loans) > total or (len(loans) < total and last <= 1 and len(loans) % 50):
            raise PageNotUnderstood(
                LOANS_PAGE, f"the header says {total} items but {len(loans)} rows were read")
    csrf = None
    if form is not None:
        node = form.css_first("input[name=csrf]")
        csrf = node.attributes.get("value") if node is not None else None
    if csrf is None:
        node = tree.css_first("input[name=csrf]")
        csrf = node.attributes.get("value") if node is not None else None
    # Failures for loans on other pages are alerts outside the rows (§2).
    other = []
    for node in tree.css(".alert-danger"):
        if _inside(node, "tr") or "flash-message" in classes(node):
            continue
        text = text_of(node)
        if _RENEW_FAIL.search(text):
            other.append(text)
    return LoansPage(loans, total, csrf, form is not None, other, flashes(tree), last)


# --- holds ------------------------------------------------------------------------


class RawHold(Struct):
    record_id: str | None
    title: str
    status: str  # waiting | in_transit | ready
    author: str | None = None
    queue_position: int | None = None
    queue_length: int | None = None
    pickup_location: str | None = None
    pickup_by: date | None = None
    created: date | None = None
    expires: date | None = None
    cancel_token: str | None = None
    error: str | None = None  # a per-row cancel failure
    ordinal: int = 0
    in_process: bool = False  # the library is handling it (hold_in_process), no queue number

    @property
    def key(self) -> str:
        """Stable while the hold moves from waiting to ready: the record id.

        A patron holds a record once; a second hold on it gets ``#2``.
        """
        base = self.record_id or f"title:{self.title}"
        return base if self.ordinal == 0 else f"{base}#{self.ordinal + 1}"


class HoldsPage(Struct):
    holds: list[RawHold]
    total: int | None
    has_form: bool
    flashes: list[Flash] = field(default_factory=list)


def is_holds_page(tree: LexborHTMLParser) -> bool:
    name = template_name(tree)
    if name is not None:
        return name == "list" and "template-dir-holds" in body_classes(tree)
    return tree.css_first("form#update_holds, form[name=updateForm]") is not None


_PICKUP_LABEL = _words(r"noutopaikka", r"hämtas från", r"hämtningsställe", r"pick\s*up\s*location",
                       r"pickup\s*location", r"pickup")
_CREATED = re.compile(r"(?:luotu|skapad|created|placed)\W{0,6}" + DATE, re.I)
_EXPIRES = re.compile(r"(?:vanhenee|förfaller|expires?|expiration)\W{0,6}" + DATE, re.I)
_QUEUE = re.compile(r"(?:sijainti jonossa|jonosijainti|placering i kön|queue\s*position|jono|kön|queue)"
                    r"\W{0,6}(\d+)(?:\s*/\s*(\d+))?", re.I)
# hold_in_process (languages/{fi,sv,en}.ini l. 633-636), printed where the queue
# position stands (holds/list.phtml l. 198) by Finna/ILS/Driver/Alma.php
# (l. 1411) and Mikromarc.php (l. 795).
_IN_PROCESS = _words(r"käsiteltävänä", r"behandlas", r"in process")
_READY = _words(r"noudettavissa", r"kan avhämtas", r"available", r"avhämtas")
_IN_TRANSIT = _words(r"matkalla", r"på väg", r"in transit")


def parse_hold_row(row: LexborNode, index: int = 0, *, has_form: bool = False,
                   scan: RowScan | None = None) -> RawHold:
    scan = scan or RowScan.of(row)
    title, record_id = _title_and_record(scan, HOLDS_PAGE, index)
    status_node = scan.get("holds-status-information")
    scope = status_node if status_node is not None else row
    text = text_of(scope)
    pickup = None
    container = scan.get("pickup-location-container")
    if container is not None:
        pickup = _after_label(text_of(container), _PICKUP_LABEL) or None
    else:
        m = re.search(r"(?:noutopaikka|hämtas från|pick\s*up\s*location)\s*:\s*([^|:]+?)\s*"
                      r"(?=luotu|skapad|created|$)", text, re.I)
        if m:
            pickup = m.group(1).strip() or None
    created = expires = None
    m = _CREATED.search(text)
    if m:
        created = parse_date("%s.%s.%s" % m.groups())
    m = _EXPIRES.search(text)
    if m:
        expires = parse_date("%s.%s.%s" % m.groups())

    status = None
    position = length = None
    pickup_by = None
    error = None
    for level, node in scan.alerts:
        atext = text_of(node)
        if level == "success" or (level in ("info", None) and _READY.search(atext)):
            status = "ready"
            pickup_by = parse_date(atext)
        elif level == "danger":
            error = atext
    if status is None:
        transit = scan.get("text-success")
        if transit is not None and not _READY.search(text_of(transit)) or _IN_TRANSIT.search(text):
            status = "in_transit"
    if status is None:
        m = _QUEUE.search(text)
        if m:
            status = "waiting"
            position = int(m.group(1))
            length = int(m.group(2)) if m.group(2) else None
    in_process = False
    if status is None and _IN_PROCESS.search(text):
        status, in_process = "waiting", True
    if status is None and _READY.search(text):
        status = "ready"
        pickup_by = parse_date(_after_label(text, _READY))
    if status is None:
        raise PageNotUnderstood(HOLDS_PAGE, f"the state (queue, in transit or ready) of '{title}'")
    token = scan.input_value("selectedIDS[]", "cancelSelectedIDS[]", "cancelAllIDS[]")
    if has_form and token is None and scan.get("no-checkbox") is None:
        raise PageNotUnderstood(HOLDS_PAGE, f"the cancel checkbox of '{title}'")
    return RawHold(record_id=record_id, title=title, status=status, author=_author(scan),
                   queue_position=position, queue_length=length, pickup_location=pickup,
                   pickup_by=pickup_by, created=created, expires=expires, cancel_token=token,
                   error=error, in_process=in_process)


def parse_holds(html: str | LexborHTMLParser) -> HoldsPage:
    tree = tree_of(html)
    if not is_holds_page(tree):
        raise PageNotUnderstood(HOLDS_PAGE, "the page is not the holds list")
    form = tree.css_first("form#update_holds, form[name=updateForm]")
    holds = [parse_hold_row(scan.row, i, has_form=form is not None, scan=scan)
             for i, scan in enumerate(_record_rows(tree, _HOLD_SCAN))]
    _set_ordinals(holds)
    total = header_count(tree)
    if not holds:
        _check_empty(tree, total, "holds", HOLDS_PAGE, "no hold rows, and no 'no holds' notice")
    elif total is None:
        raise PageNotUnderstood(HOLDS_PAGE, "the hold count in the page header")
    elif total != len(holds):
        raise PageNotUnderstood(HOLDS_PAGE, f"the header says {total} holds but {len(holds)} rows were read")
    return HoldsPage(holds, total, form is not None, flashes(tree))


# --- placing a hold ---------------------------------------------------------------------


def find_hold_link(html: str | LexborHTMLParser) -> str | None:
    """The href of the record's place-a-hold link (title level first)."""
    tree = tree_of(html)
    node = tree.css_first(".place-hold-wrapper a.placehold") or tree.css_first("a.placehold")
    if node is None:
        node = next((a for a in tree.css("a[href*='/Hold?'], a[href*='/Hold']")
                     if "hashKey" in (a.attributes.get("href") or "")), None)
    if node is None:
        return None
    href = node.attributes.get("href") or ""
    return href.split("#", 1)[0] or None


def hold_link_blocked(html: str | LexborHTMLParser) -> str | None:
    tree = tree_of(html)
    node = tree.css_first(".borrowing-block")
    return text_of(node) or None if node is not None else None


def needs_login_for_hold(html: str | LexborHTMLParser) -> bool:
    return tree_of(html).css_first("a.login-link, a[href*='CompleteLogin']") is not None


class HoldForm(Struct):
    action: str | None
    fields: list[tuple[str, str]]
    locations: list[PickupLocation]
    location_field: str | None
    errors: list[str]
    # record/hold.phtml l. 158-163: the library's terms, to be accepted with
    # gatheredDetails[acceptTerms]; None where the form asks for none.
    terms: str | None = None
    terms_field: str | None = None
    # record/hold.phtml l. 49-86: request groups; the pickup select is then
    # empty and filled by script per group (getRequestGroupPickupLocations).
    request_groups: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    request_group_field: str | None = None
    request_group_selected: str | None = None
    location_groups: dict[str, str] = field(default_factory=dict)  # location → its group


def parse_hold_form(html: str | LexborHTMLParser) -> HoldForm:
    tree = tree_of(html)
    form = tree.css_first("form[name=placeHold]")
    if form is None:
        sel = tree.css_first('[name="gatheredDetails[pickUpLocation]"]')
        form = sel
        while form is not None and form.tag != "form":
            form = form.parent
    if form is None:
        raise PageNotUnderstood(HOLD_FORM_PAGE, "the hold form (form[name=placeHold])")
    select = form.css_first("select#pickUpLocation") or form.css_first(
        'select[name="gatheredDetails[pickUpLocation]"]')
    locations: list[PickupLocation] = []
    field_name = None
    if select is not None:
        field_name = select.attributes.get("name")
        for opt in select.css("option"):
            code = opt.attributes.get("value") or ""
            if not code:
                continue
            locations.append(PickupLocation(code, text_of(opt) or code, "selected" in opt.attributes))
    else:
        hidden = form.css_first('input[name="gatheredDetails[pickUpLocation]"]')
        if hidden is not None and hidden.attributes.get("value"):
            field_name = hidden.attributes.get("name")
            locations.append(PickupLocation(hidden.attributes["value"], hidden.attributes["value"], True))
    submit = form.css_first("[name=placeHold]")
    fields = form_fields(form, submit="placeHold" if submit is not None else None)
    if submit is not None and not any(k == "placeHold" for k, _ in fields):
        fields.append(("placeHold", submit.attributes.get("value") or "1"))
    errors = [text_of(n) for n in tree.css(".alert-danger") if text_of(n)]
    terms = terms_field = None
    box = form.css_first('input[name="gatheredDetails[acceptTerms]"]')
    if box is not None:
        terms_field = box.attributes.get("name")
        label = None
        box_id = box.attributes.get("id")
        if box_id:
            label = next((n for n in form.css("label") if n.attributes.get("for") == box_id), None)
        terms = text_of(label if label is not None else box.parent) or None
    groups: list[tuple[str, str]] = []
    group_field = group_selected = None
    group_select = form.css_first("select#requestGroupId") or form.css_first(
        'select[name="gatheredDetails[requestGroupId]"]')
    if group_select is not None:
        group_field = group_select.attributes.get("name")
        for opt in group_select.css("option"):
            gid = opt.attributes.get("value") or ""
            if gid:  # "" is the select_request_group prompt
                groups.append((gid, text_of(opt) or gid))
                if "selected" in opt.attributes:
                    group_selected = gid
    return HoldForm(form.attributes.get("action"), fields, locations, field_name, errors,
                    terms, terms_field, groups, group_field, group_selected)


def parse_request_group_locations(data: object) -> list[PickupLocation]:
    """The answer of /AJAX/JSON?method=getRequestGroupPickupLocations
    (VuFind/AjaxHandler/GetRequestGroupPickupLocations.php): ``{"data":
    {"locations": [{"locationID", "locationDisplay", "isDefault"?}]}}``, as
    themes/bootstrap3/js/hold.js reads it."""
    inner = data.get("data") if isinstance(data, dict) else None
    locations = inner.get("locations") if isinstance(inner, dict) else None
    if not isinstance(locations, list):
        raise PageNotUnderstood(HOLD_FORM_PAGE, "the request group's pickup locations "
                                "(data.locations of getRequestGroupPickupLocations)")
    out = []
    for loc in locations:
        if not isinstance(loc, dict) or loc.get("locationID") in (None, ""):
            continue
        code = str(loc["locationID"])
        out.append(PickupLocation(code, clean(str(loc.get("locationDisplay") or code)),
                                  bool(loc.get("isDefault"))))
    return out


# --- fines -------------------------------------------------------------------------


class FinesPage(Struct):
    items: list[dict]
    total_cents: int
    count: int | None
    online_payment_offered: bool
    minimum_cents: int | None
    reason: str | None
    payment_in_progress: bool
    payment_registered: bool
    registering: bool
    pay_fields: list[tuple[str, str]]
    pay_action: str | None
    flashes: list[Flash]


def is_fines_page(tree: LexborHTMLParser) -> bool:
    name = template_name(tree)
    if name is not None:
        return name == "fines"
    return tree.css_first(f"{_TOTAL_DUE}, table.fines-table") is not None


# The total: #online_payment_total_due (fines.phtml l. 141, 2024) or, in the
# bootstrap-5 markup (heili.finna.fi, 2026), .online-payment-total-due
# .js-payment-total-due, the element upstream VuFind's online-payment script reads.
_TOTAL_DUE = "#online_payment_total_due, .js-payment-total-due, .online-payment-total-due"
# The minimum: #online_payment_minimum_payment (l. 155) / .js-minimum-payment (bs5).
_MINIMUM = "#online_payment_minimum_payment, .js-minimum-payment"


_TYPE_HEAD = _words(r"^tyyppi", r"^typ", r"^type", r"fine_type")
_DESC_HEAD = _words(r"^selite", r"förklaring", r"description", r"fine_description")
_CREATED_HEAD = _words(r"kirjauspvm", r"skapad", r"reg\.?\s*date", r"creation", r"fine_creation")
_IN_PROGRESS = _words(r"kesken", r"käynnissä", r"pågår", r"in progress", r"already started",
                      r"pending",
                      # online_payment_in_progress_warning (local/languages/finna/
                      # fi.ini l. 748, sv.ini l. 745, en-gb.ini l. 757), fines.phtml l. 178-182
                      r"aiempi maksutapahtuma aloitettu", r"tidigare betalning startade",
                      r"earlier payment was started")
_PAYMENT_OK = _words(r"maksu onnistui", r"maksu vastaanotettu", r"betalningen lyckades",
                     r"betalningen har", r"payment (?:was )?successful", r"payment received",
                     r"payment registered")


EMAIL_REQUIRED = _words(r"sähköpost", r"e-post", r"e-?mail")


def parse_fines(html: str | LexborHTMLParser) -> FinesPage:
    tree = tree_of(html)
    if not is_fines_page(tree):
        raise PageNotUnderstood(FINES_PAGE, "the page is not the fines page")
    table = tree.css_first("table.fines-table") or tree.css_first("table.useraccount-table")
    headers: list[str] = []
    items: list[dict] = []
    widths: set[int] = set()
    if table is not None:
        head = table.css_first("tr.headers") or table.css_first("thead tr")
        headers = [text_of(th) for th in head.css("th")] if head is not None else []
        for tr in table.css("tr"):
            if "headers" in classes(tr) or _inside(tr, "thead"):
                continue
            cells = tr.css("td")
            if not cells:
                continue
            width = len(tr.css("th")) + len(cells)
            if headers and width != len(headers) or widths and width not in widths:
                raise PageNotUnderstood(FINES_PAGE, f"the cells of fine row {len(items) + 1}")
            widths.add(width)
            items.append(_fine_row(tr, cells, len(items)))
    total = next((v for v in (_int_attr(n, "data-raw") for n in tree.css(_TOTAL_DUE))
                  if v is not None), None)
    count = header_count(tree)
    registering = tree.css_first(".register-payment-spinner, #online-payment-status") is not None
    no_fines = not items and says_no_items(tree)
    if not items:
        _refuse_empty_with_error(tree, "fines")
    if total is None:
        if no_fines or (not items and count == 0):
            total = 0
        else:
            raise PageNotUnderstood(FINES_PAGE, "the total (#online_payment_total_due[data-raw] "
                                    "or .js-payment-total-due[data-raw], myresearch/fines.phtml)")
    if not items and total != 0:
        raise PageNotUnderstood(FINES_PAGE, "the fines table")
    if items and sum(i["cents"] for i in items) != total:
        raise PageNotUnderstood(
            FINES_PAGE, f"the rows add up to {sum(i['cents'] for i in items)} cents "
            f"but the total says {total}")
    if count is not None and items and count != len(items):
        raise PageNotUnderstood(FINES_PAGE, f"the header says {count} fines but {len(items)} rows were read")
    form = tree.css_first("form#online_payment_form") or tree.css_first("form.online-payment-form")
    pay_button = form.css_first("[name=pay]") if form is not None else None
    offered = pay_button is not None
    pay_fields: list[tuple[str, str]] = []
    if form is not None:
        pay_fields = [(k, v) for k, v in form_fields(form) if k != "selectAll"]
        # Whole balance: every payable fine is selected (selection mode).
        for box in form.css('input[name="selectedIDS[]"]'):
            value = box.attributes.get("value")
            if value and ("selectedIDS[]", value) not in pay_fields:
                pay_fields.append(("selectedIDS[]", value))
        if pay_button is not None:
            pay_fields.append(("pay", pay_button.attributes.get("value") or "1"))
    minimum = _int_attr(tree.css_first(_MINIMUM), "data-raw")
    reason = None
    info = _reason_area(tree)
    if info is not None:
        reason = text_of(info.css_first("p") or info) or None
        if minimum is None and reason:
            amount = info.css_first(".amount")
            if amount is not None:
                minimum = parse_money(text_of(amount))
    flash_list = flashes(tree)
    in_progress = False
    for node in tree.css(".alert-danger, .alert-warning"):
        if node.css_matches(_MINIMUM):
            continue
        if _IN_PROGRESS.search(text_of(node)):
            in_progress = True
    registered = any(f.level == "success" and _PAYMENT_OK.search(f.text) for f in flash_list)
    return FinesPage(items, total, count, offered, minimum, reason, in_progress or registering,
                     registered, registering, pay_fields,
                     form.attributes.get("action") if form is not None else None, flash_list)


def _reason_area(tree: LexborHTMLParser) -> LexborNode | None:
    """The div.fines-info-area with the reason online payment is not offered
    (fines.phtml l. 194-197): not the first one, which wraps the card
    selector and the "Fines (N)" heading (l. 115-122), nor the one with the
    totals (l. 125-184), nor the pay button's row (l. 190)."""
    for area in tree.css(".fines-info-area"):
        if "payment-row" in classes(area):
            continue
        if area.css_first(f"h1, h2, h3, .useraccount-header, {_TOTAL_DUE}, .online-payment-info, "
                          ".last-transaction-information, input") is not None:
            continue
        if text_of(area):
            return area
    return None


_BALANCE_HEAD = _words(r"^maksettavaa", r"^att betala", r"^balance")
_NO_TITLE = _words(r"not available", r"ei saatavilla", r"inte tillgänglig")


def _fine_row(tr: LexborNode, cells: list[LexborNode], index: int) -> dict:
    title_node = tr.css_first("th[scope=row]") or tr.css_first("th")
    title = None
    if title_node is not None and title_node.css_first(".text-muted") is None:
        title = text_of(title_node) or None
        if title and title_node.css_first("a") is None and _NO_TITLE.search(title):
            title = None
    by_label: dict[str, LexborNode] = {}
    for td in cells:
        label = td.attributes.get("data-label")
        if label:
            by_label[clean(label)] = td

    def find(pattern: re.Pattern) -> str | None:
        for label, td in by_label.items():
            if pattern.search(label):
                return text_of(td) or None
        return None

    box = tr.css_first('input[name="selectedIDS[]"]')
    cents = _int_attr(box, "data-amount")
    balance = next((td for label, td in by_label.items() if _BALANCE_HEAD.search(label)), None)
    if balance is None:
        balance_cells = [td for td in cells if "balance" in classes(td)]
        balance = balance_cells[-1] if balance_cells else cells[-1]
    nonpayable = tr.css_first(".online-payment-nonpayable")
    if cents is None:
        source = nonpayable if nonpayable is not None else balance
        cents = parse_money(text_of(source))
    if cents is None:
        raise PageNotUnderstood(FINES_PAGE, f"the balance of fine row {index + 1}")
    kind_text = find(_TYPE_HEAD) or ""
    description = find(_DESC_HEAD)
    created = parse_date(find(_CREATED_HEAD) or "")
    return {
        "cents": cents,
        "type": fee_type_of(kind_text) if fee_type_of(kind_text) is not FeeType.OTHER
        else fee_type_of(description or ""),
        "type_text": kind_text or None,
        "title": title,
        "description": description,
        "created": created,
        "payable_online": nonpayable is None and tr.css_first(".online-payment-remark") is None,
    }


class TermsForm(Struct):
    action: str | None
    fields: list[tuple[str, str]]
    amount_cents: int | None = None  # the one amount the page shows the payer, else None
    amounts_shown: int = 0  # how many different amounts the payer sees (1 is the only safe answer)
    # The transaction id of Finna's own terms form (terms-*.phtml l. 11): the
    # server holds the amount for it, so the page need not show one.
    transaction: str | None = None


def parse_payment_terms(html: str | LexborHTMLParser) -> TermsForm:
    tree = tree_of(html)
    form = tree.css_first("form#paytrail-form")
    if form is None:
        form = next((f for f in tree.css("form") if f.css_first("[name=pay-confirm]") is not None), None)
    if form is None:
        raise PageNotUnderstood(PAYMENT_PAGE, "the payment terms form (form#paytrail-form)")
    fields = [(k, v) for k, v in form_fields(form, skip=("reset",))]
    if not any(k == "pay-confirm" for k, _ in fields):
        fields.append(("pay-confirm", "1"))
    # Only what the payer sees counts: an element hidden by attribute, class or
    # style (or inside one) is not what they confirm (issue #18.2). The 2024
    # terms templates (Helpers/OnlinePayment/terms-*.phtml) show no amount.
    shown = []
    for node in tree.css(":is(.amount, [data-raw])"):
        if _hidden(node):
            continue
        value = _int_attr(node, "data-raw")
        if value is None:
            value = parse_money(text_of(node))
        if value is not None:
            shown.append(value)
    different = set(shown)
    amount = shown[0] if len(different) == 1 else None
    transaction = next((v for k, v in fields if k == "transactionId" and v), None)
    return TermsForm(form.attributes.get("action"), fields, amount, len(different), transaction)


_HIDDEN_CLASSES = frozenset({"hidden", "hide", "d-none", "sr-only", "visually-hidden", "invisible"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _hidden(node: LexborNode) -> bool:
    while node is not None and node.tag not in ("body", "html"):
        attrs = node.attributes
        if ("hidden" in attrs or attrs.get("aria-hidden") == "true"
                or (node.tag == "input" and (attrs.get("type") or "").lower() == "hidden")
                or classes(node) & _HIDDEN_CLASSES
                or _HIDDEN_STYLE.search(attrs.get("style") or "")):
            return True
        node = node.parent
    return False


# --- search API -------------------------------------------------------------------------


def parse_search(data: object) -> list[SearchResult]:
    """The /api/v1/search JSON envelope → results. Raises on ERROR or bad shape."""
    from libcli.errors import LibcliError

    if not isinstance(data, dict):
        raise PageNotUnderstood(SEARCH_API, "a JSON object")
    if data.get("status") == "ERROR":
        raise LibcliError(f"the library's search refused the query: "
                          f"{data.get('statusMessage') or 'no reason given'}")
    if data.get("status") != "OK":
        raise PageNotUnderstood(SEARCH_API, "the status field")
    records = data.get("records", [])
    if not isinstance(records, list):
        raise PageNotUnderstood(SEARCH_API, "the records list")
    out = []
    for rec in records:
        if not isinstance(rec, dict) or not rec.get("id"):
            raise PageNotUnderstood(SEARCH_API, "a record id")
        authors = tuple(
            a.get("name") if isinstance(a, dict) else str(a)
            for a in rec.get("nonPresenterAuthors") or [] if a)
        formats: list[str] = []
        for f in rec.get("formats") or []:
            name = str(f.get("translated") or f.get("value") or "") if isinstance(f, dict) else str(f)
            if name and name not in formats:  # hierarchical: 0/Book/ and 1/Book/Book/
                formats.append(name)
        year = rec.get("year")
        out.append(SearchResult(
            record_id=str(rec["id"]), title=str(rec.get("title") or ""),
            authors=tuple(a for a in authors if a), year=str(year) if year else None,
            formats=tuple(f for f in formats if f)))
    return out
