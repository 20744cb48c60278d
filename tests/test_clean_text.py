"""Text from a library is cleaned in one function (libcli.text.clean) where
it is printed or written: tables, error messages, `remind`, the .ics file,
snapshots. Escape sequences (CSI, OSC 52 clipboard writes, clear-screen),
C0/C1 controls, BEL, bidi overrides and zero-width characters never reach a
terminal or a file."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import text
from libcli.backends.finna import FinnaBackend
from libcli.cli import cli
from libcli.errors import Refused
from libcli.model import Loan
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import build_library
from tests.helpers.live_server import LiveServer

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"
CLEAR = "\x1b[2J\x1b[H"
C1 = "\x9b31m\x9d0;title\x9c\x85"
BIDI = "\u202egnp.exe\u202c\u200b\u200d\u2066x\u2069\ufeff"
HOSTILE = f"Evil{OSC52}{CLEAR}{C1}\x07\r\x08{BIDI}Title"
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                    r"\u2066-\u2069\ufeff]")


def test_clean_removes_sequences_controls_and_invisible_characters():
    cleaned = text.clean(HOSTILE)
    assert not UNSAFE.search(cleaned), repr(cleaned)
    assert "cm0gLXJmIH4K" not in cleaned  # the clipboard payload goes with its sequence
    assert cleaned.startswith("Evil") and cleaned.endswith("Title")
    assert text.clean("Seitsemän  veljestä\u00a0") == "Seitsemän veljestä"


def test_one_cleaner():
    from libcli import markup
    from libcli.cli import output

    assert output.clean is text.clean
    assert markup.clean is text.squash


def _loan(**kw) -> Loan:
    return Loan(**({"card": "me", "key": "k1", "title": "Book", "due_date": date.today()} | kw))


def test_remind_cleans_the_librarys_reason_a_loan_cannot_be_renewed():
    from libcli.reminders import Digest, _action, digest_text

    loan = _loan(title=HOSTILE, renewable=False, not_renewable_reason=f"Varattu{OSC52}{BIDI}")
    digest = Digest(due=[(loan, _action(loan))])
    out = digest_text(digest, date.today())
    assert not UNSAFE.search(out), repr(out)
    assert "Varattu" in out


def test_the_ics_file_carries_no_escape_c1_or_bel():
    from libcli.ics import build_calendar

    loan = _loan(title=HOSTILE, renewable=False, not_renewable_reason=f"no{C1}")
    data = build_calendar([loan], []).decode("utf-8")
    assert not UNSAFE.search(data.replace("\r\n", "")), repr(data)
    assert "Evilgnp.exexTitle" in data.replace("\r\n ", "")


@pytest.fixture
def hostile_heili(memory_keyring):
    lib = build_library("heili", Clock(date.today()))
    for t in lib.titles.values():
        t.title = f"{BIDI}{t.title}{C1}"
    server = LiveServer("heili", library=lib)
    r = CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                 "10000001", "--url", server.url, "--pin-stdin"], input="1234\n")
    assert r.exit_code == 0, r.output
    yield server
    server.stop()


@pytest.mark.socket
def test_renew_all_and_the_snapshot_carry_no_bidi_or_zero_width(hostile_heili):
    r = CliRunner().invoke(cli, ["renew", "--all"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "renewed" in r.stdout
    assert not UNSAFE.search(r.stdout), repr(r.stdout[:400])
    [snap] = (Path(os.environ["LIBCLI_CACHE_DIR"]) / "snapshots").glob("*.json")
    raw = snap.read_text("utf-8")
    assert not UNSAFE.search(raw) and "\\u00" not in raw, raw[:400]
    assert json.loads(raw)["loans"]


@pytest.mark.socket
@pytest.mark.parametrize("args,method", [
    (["search", "Kalevala", "--library", "heili", "--card", "me"], "search"),
    (["pay", "--card", "me", "--yes", "--no-wait"], "fees"),
])
def test_top_level_error_messages_are_cleaned(hostile_heili, monkeypatch, args, method):
    async def refuse(self, *a, **k):
        raise Refused(f"the library said:{OSC52}{CLEAR}{BIDI} no", hint=f"try{C1} later")

    monkeypatch.setattr(FinnaBackend, method, refuse)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0
    assert "the library said" in r.stderr
    assert not UNSAFE.search(r.stderr), repr(r.stderr)
    assert not UNSAFE.search(r.stdout), repr(r.stdout)
