"""libcli in the user's language: Finnish, Swedish or English.

gettext catalogues live in libcli/locale/<lang>/LC_MESSAGES/libcli.mo,
compiled from the .po files when the package is built (setup.py); a missing
catalogue means English, silently. The language is `--lang` when given, else
the first of LANGUAGE, LC_ALL, LC_MESSAGES and LANG that is set (as the
stdlib's gettext reads them): `fi_FI.UTF-8` is Finnish, `sv_FI.UTF-8`
Swedish, `C` or an unknown language English.

The catalogue is read on the first translated string, not at import: shell
completion and `--version` never open it.

Under `--json` libcli speaks English (`neutral()`): a JSON document is for
programs, and its texts stay the same whatever the locale. Text from a
library (titles, its reasons) is never passed through here.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

LANGUAGES = ("en", "fi", "sv")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "libcli"

_chosen: str | None = None
_neutral = False
_catalogue = None


def reset() -> None:
    """Forget the run's choice (a new command line starts from the locale)."""
    global _chosen, _neutral, _catalogue
    _chosen, _neutral, _catalogue = None, False, None


def choose(lang: str | None) -> None:
    """`--lang`: wins over the locale."""
    global _chosen, _catalogue
    if lang and lang != _chosen:
        _chosen, _catalogue = lang, None


def chosen() -> str | None:
    """The `--lang` of this run, if any."""
    return _chosen


def neutral() -> None:
    """`--json`: English, whatever else was chosen."""
    global _neutral, _catalogue
    if not _neutral:
        _neutral, _catalogue = True, None


def language() -> str:
    if _neutral:
        return "en"
    if _chosen:
        return _chosen
    return from_environment(os.environ)


def from_environment(environ) -> str:
    """The language the locale asks for: the first variable set decides (a
    LANGUAGE list is searched for one libcli speaks), as the stdlib's gettext."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var)
        if not value:
            continue
        for item in value.split(":"):
            code = item.split(".")[0].split("@")[0].split("_")[0].lower()
            if code in ("c", "posix"):
                return "en"
            if code in LANGUAGES:
                return code
        return "en"
    return "en"


def catalogue():
    global _catalogue
    if _catalogue is None:
        import gettext as stdlib

        lang = language()
        if lang == "en":
            _catalogue = stdlib.NullTranslations()
        else:
            _catalogue = stdlib.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    return _catalogue


def gettext(message: str) -> str:
    return catalogue().gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return catalogue().pgettext(context, message)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for the catalogue; it is translated where it is shown."""
    return message


# --- help texts --------------------------------------------------------------

def H_(text: str) -> str:
    """Marks a click help text: extracted in the pieces help_parts() cuts."""
    return text


def _map_help(text: str, translate) -> str:
    """`text` with each translatable piece passed through `translate`: each
    paragraph, and in a `\\b` block (examples, a table) only its unindented
    lines, the headings: command lines stay as they are."""
    import inspect

    out = []
    for para in inspect.cleandoc(text).split("\n\n"):
        if para.startswith("\b\n"):
            out.append("\n".join(line if line == "\b" or not line.strip() or line[0].isspace()
                                 else translate(line) for line in para.split("\n")))
        else:
            # One line: click rewraps a paragraph, and rewrapping the source
            # must not orphan its translation.
            out.append(translate(" ".join(para.split())) if para.strip() else para)
    return "\n\n".join(out)


def help_parts(text: str) -> list[str]:
    """The pieces of a click help text the catalogue holds (tools/babel_click.py
    extracts them; localize_help looks them up)."""
    parts: list[str] = []
    _map_help(text, lambda piece: parts.append(piece) or piece)
    return parts


def localize_help(text: str | None) -> str | None:
    """A click help text in the run's language, piece by piece."""
    if not text or language() == "en":
        return text
    return _map_help(text, gettext)


def localize_command(command, done: set[int] | None = None) -> None:
    """Translate a click command's help, its options' help and its
    subcommands', keeping the English originals for the next run."""
    import click

    originals = command.__dict__.setdefault("_libcli_english", {})
    for attr in ("help", "short_help", "epilog"):
        originals.setdefault(attr, getattr(command, attr, None))
        setattr(command, attr, localize_help(originals[attr]))
    for param in command.params:
        if isinstance(param, click.Option):
            english = param.__dict__.setdefault("_libcli_english", param.help)
            param.help = localize_help(english)
    for sub in getattr(command, "commands", {}).values():
        localize_command(sub)


# click marks its own words ("Usage:", "Options", "Show this message and
# exit.") with the stdlib's gettext in the global domain; libcli's catalogue
# carries them, and click's modules are pointed at it for the run.
CLICK_MESSAGES = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."), N_("required"),
    N_("Show the version and exit."), N_("Error: {message}"),
    N_("Try '{command} {option}' for help."), N_("Aborted!"), N_("Missing argument"),
    N_("Missing option"), N_("Invalid value for {param_hint}: {message}"),
    N_("default: {default}"), N_("Error: invalid input"), N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."), N_("{value} is not in the range {range}."),
)


def install_in_click() -> None:
    import sys

    for name in ("click.core", "click.decorators", "click.exceptions", "click.formatting",
                 "click.parser", "click.termui", "click.types", "click.utils"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "_"):
            module._ = gettext
        if module is not None and hasattr(module, "ngettext"):
            module.ngettext = ngettext


# --- dates -------------------------------------------------------------------

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def day(d: date | None) -> str:
    """A date as a person reads it: "Tue 2026-12-08", "ti 8.12.", "tis 8.12."."""
    if d is None:
        return ""
    # Translators: the order and form of a date in tables; {weekday} is the
    # short weekday name, {day} and {month} without leading zeros. A date
    # within half a year may leave the year out ("ti 8.12."), a far one not.
    if abs((d - date.today()).days) < 180:
        form = pgettext("near date", "{weekday} {year}-{month:02}-{day:02}")
    else:
        form = pgettext("far date", "{weekday} {year}-{month:02}-{day:02}")
    return form.format(weekday=gettext(WEEKDAYS[d.weekday()]), year=d.year, month=d.month,
                       day=d.day)


def relative(d: date, today: date) -> str:
    """"today", "tomorrow", "in 3 days", "2 days late"."""
    days = (d - today).days
    if days == 0:
        return gettext("today")
    if days == 1:
        return gettext("tomorrow")
    if days > 1:
        return ngettext("in {n} day", "in {n} days", days).format(n=days)
    return ngettext("{n} day late", "{n} days late", -days).format(n=-days)
