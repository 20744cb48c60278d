"""libcli in the patron's language (issue 17): Finnish, Swedish and English
from the locale or --lang, JSON the same in every language, and catalogues
that cover every string marked in the source.

The tests drive the source tree (tests/__init__.py puts it first on the
path), which a fresh clone has without compiled catalogues: the `catalogues`
fixture runs the build's own step (setup.py's compile_catalogues) when the
.mo files are missing, as `pip install` does."""

from __future__ import annotations

import json
import re
import runpy
import string
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import i18n
from libcli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
LOCALE = Path(i18n.__file__).parent / "locale"
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
FI_DATE = re.compile(r"\b(ma|ti|ke|to|pe|la|su) \d{1,2}\.\d{1,2}\.")
SV_DATE = re.compile(r"\b(mån|tis|ons|tors|fre|lör|sön) \d{1,2}\.\d{1,2}\.")


def build_step():
    return runpy.run_path(str(ROOT / "setup.py"), run_name="libcli_setup")["compile_catalogues"]


@pytest.fixture(scope="module", autouse=True)
def catalogues():
    if not all((LOCALE / lang / "LC_MESSAGES" / "libcli.mo").exists() for lang in ("fi", "sv")):
        build_step()(LOCALE, LOCALE)


@pytest.fixture(autouse=True)
def fresh_language():
    i18n.reset()
    yield
    i18n.reset()


def locale(lang: str | None = None, **more) -> dict:
    """An environment whose locale is `lang` (None: unset, as under cron)."""
    env = {var: None for var in LOCALE_VARS}
    if lang:
        env["LANG"] = lang
    return env | more


def invoke(*args, env=None, expect=0, input=None):
    result = CliRunner().invoke(cli, list(args), env=env or locale(), input=input)
    assert result.exit_code == expect, (args, result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture
def demo():
    invoke("demo")
    from libcli.demo import in_demo_home

    with in_demo_home():
        yield


def test_loans_in_finnish(demo):
    out = invoke("loans", env=locale("fi_FI.UTF-8")).stdout
    header = out.splitlines()[0]
    assert "Nimeke" in header and "Eräpäivä" in header and "Title" not in header, out
    assert FI_DATE.search(out), out
    assert "päivää myöhässä" in out and "huomenna" in out, out
    assert " days late" not in out and "tomorrow" not in out


def test_remind_in_swedish(demo):
    out = invoke("remind", env=locale("sv_FI.UTF-8")).stdout
    assert "Försenade:" in out and "Förfaller snart:" in out and "Kan avhämtas:" in out, out
    assert SV_DATE.search(out) and "i morgon" in out and "för sent" in out, out
    assert "renew with" not in out and "Overdue" not in out


def test_lang_overrides_the_locale_before_or_after_the_command(demo):
    for args in (["--lang", "en", "loans"], ["loans", "--lang", "en"], ["loans", "--lang=en"]):
        out = invoke(*args, env=locale("fi_FI.UTF-8")).stdout
        assert "Title" in out.splitlines()[0] and "days late" in out, (args, out)
    out = invoke("status", "--lang", "sv", env=locale("fi_FI.UTF-8")).stdout
    assert "Försenade" in out.splitlines()[0], out


@pytest.mark.parametrize("command", [["loans"], ["remind"], ["status"], ["fees"], ["holds"]])
def test_json_is_the_same_in_every_language(demo, command):
    english = invoke(*command, "--json", env=locale("C")).stdout
    for lang in ("fi_FI.UTF-8", "sv_FI.UTF-8"):
        assert invoke(*command, "--json", env=locale(lang)).stdout == english
    assert invoke(*command, "--json", "--lang", "fi", env=locale("C")).stdout == english
    json.loads(english)


def test_json_keeps_english_keys_and_texts(demo):
    digest = json.loads(invoke("remind", "--json", env=locale("fi_FI.UTF-8")).stdout)
    assert {"due", "overdue", "ready", "fees"} <= set(digest)
    actions = [entry["action"] for entry in digest["due"] + digest["overdue"]]
    assert actions and all(a.startswith(("renew with: ", "return it: ")) for a in actions)


def test_help_in_finnish():
    out = invoke("--help", env=locale("fi_FI.UTF-8")).stdout
    assert "Käyttö:" in out and "Komennot:" in out and "Paluuarvot:" in out, out
    assert "Listaa kaikkien korttien lainat eräpäivän mukaan." in out
    out = invoke("card", "add", "--help", env=locale("fi_FI.UTF-8")).stdout
    assert "Lisää kortti." in out and "Esimerkkejä:" in out and "Kirjastokortin numero." in out
    # Examples stay commands; and English is back for the next command line.
    assert "libcli card add mine --library helmet --number 1234567" in out
    assert "Add a card." in invoke("card", "add", "--help").stdout


def test_help_follows_lang_given_after_help():
    out = invoke("card", "list", "--help", "--lang", "sv", env=locale("C")).stdout
    assert "Lista korten" in out, out


def test_plural_forms():
    today = date.today()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 + 7)
    far = today + timedelta(days=400)
    far += timedelta(days=(1 - far.weekday()) % 7)  # a Tuesday more than a year away
    i18n.choose("fi")
    assert i18n.relative(today - timedelta(days=1), today) == "1 päivä myöhässä"
    assert i18n.relative(today - timedelta(days=3), today) == "3 päivää myöhässä"
    assert i18n.relative(today + timedelta(days=3), today) == "3 päivän päästä"
    assert i18n.ngettext("{n} loan read", "{n} loans read", 1).format(n=1) == "1 laina luettu"
    assert i18n.ngettext("{n} loan read", "{n} loans read", 3).format(n=3) == "3 lainaa luettu"
    assert i18n.day(tuesday) == f"ti {tuesday.day}.{tuesday.month}."
    assert i18n.day(far) == f"ti {far.day}.{far.month}.{far.year}"
    i18n.choose("sv")
    assert i18n.relative(today + timedelta(days=1), today) == "i morgon"
    assert i18n.relative(today + timedelta(days=3), today) == "om 3 dagar"
    assert i18n.relative(today - timedelta(days=1), today) == "1 dag för sent"
    assert i18n.day(tuesday) == f"tis {tuesday.day}.{tuesday.month}."
    i18n.choose("en")
    assert i18n.day(far) == f"Tue {far.isoformat()}"
    assert i18n.relative(today - timedelta(days=1), today) == "1 day late"


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LANG": "C"}, "en"),
    ({"LANG": "fi_FI.UTF-8"}, "fi"),
    ({"LANG": "sv_FI.UTF-8"}, "sv"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "fi_FI.UTF-8", "LC_MESSAGES": "sv_FI.UTF-8"}, "sv"),
    ({"LANG": "sv_FI.UTF-8", "LC_ALL": "fi_FI.ISO-8859-1"}, "fi"),
    ({"LANG": "fi_FI.UTF-8", "LANGUAGE": "de:sv"}, "sv"),
    ({"LANG": "fi_FI.UTF-8", "LC_ALL": "C"}, "en"),
])
def test_language_from_the_locale(environ, expected):
    assert i18n.from_environment(environ) == expected


def test_a_missing_catalogue_is_english(monkeypatch, tmp_path):
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.choose("fi")
    assert i18n.gettext("Loans") == "Loans"
    assert i18n.relative(date(2026, 12, 3), date(2026, 12, 2)) == "tomorrow"


def test_completion_does_not_open_the_catalogue(monkeypatch):
    opened = []
    monkeypatch.setattr(i18n, "catalogue", lambda: opened.append(1))
    env = locale("fi_FI.UTF-8", _LIBCLI_COMPLETE="bash_complete", COMP_WORDS="libcli card ",
                 COMP_CWORD="2")
    result = CliRunner().invoke(cli, [], env=env, prog_name="libcli")
    assert "add" in result.stdout and not opened


def test_card_names_may_be_any_letters(memory_keyring):
    invoke("card", "add", "--no-check", "äiti", "--library", "heili", "--number", "1000001",
           "--pin-stdin", input="4711\n")
    invoke("card", "add", "--no-check", "Åsa", "--library", "helmet", "--number", "2000002",
           "--pin-stdin", input="4711\n")
    names = [c["name"] for c in json.loads(invoke("card", "list", "--json").stdout)["cards"]]
    assert names == ["äiti", "Åsa"]
    invoke("card", "rename", "äiti", "äippä")
    bad = invoke("card", "add", "--no-check", "ä ti", "--library", "heili", "--number", "1000003",
                 "--pin-stdin", input="4711\n", expect=2)
    assert "invalid card name" in bad.stderr


# --- the catalogues ----------------------------------------------------------

def extracted() -> dict:
    """Every message the source marks, as the maintainers' `pybabel extract`
    finds it (babel.cfg, tools/babel_click.py)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        with open(ROOT / "babel.cfg") as f:
            method_map, options_map = parse_mapping_cfg(f)
        found = {}
        for filename, _lineno, message, _comments, context in extract_from_dir(
                str(ROOT), method_map, options_map):
            found[(context, message if isinstance(message, str) else message[0])] = message
        return found
    finally:
        sys.path.remove(str(ROOT / "tools"))


def read(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return read_po(f)


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_the_template_holds_every_marked_string():
    template = {(m.context, m.id if isinstance(m.id, str) else m.id[0])
                for m in read(LOCALE / "libcli.pot") if m.id}
    missing = sorted(set(extracted()) - template, key=str)
    assert not missing, f"run the extract/update commands in README (Translations): {missing}"


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_every_string_is_translated(lang):
    catalog = read(LOCALE / lang / "LC_MESSAGES" / "libcli.po")
    problems = []
    for key, message in extracted().items():
        entry = catalog.get(key[1], context=key[0])
        if entry is None or not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"untranslated: {message!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message!r}")
        else:
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            names = fields(ids[-1])
            for text in strings:
                # A placeholder the English lacks would fail when shown.
                try:
                    text.format(**dict.fromkeys(names, 0))
                except (KeyError, IndexError, ValueError) as exc:
                    problems.append(f"placeholders: {message!r}: {text!r} ({exc!r})")
    assert not problems, "\n".join(problems)


def test_the_build_step_compiles_the_catalogues(tmp_path):
    import gettext

    written = build_step()(LOCALE, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "fi/LC_MESSAGES/libcli.mo", "sv/LC_MESSAGES/libcli.mo"]
    fi = gettext.translation("libcli", tmp_path, languages=["fi"])
    assert fi.gettext("Loans") == "Lainat"
    assert fi.ngettext("{n} day late", "{n} days late", 2) == "{n} päivää myöhässä"
