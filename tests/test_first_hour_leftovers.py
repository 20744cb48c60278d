"""Issue 17's leftovers: progress on stderr while a library is slow (#13),
what the loans table says of a late fee the rules give no rate for (#12),
the demo library apart from the client's policy code, hints that name the
command the user can type under `libcli demo`, and paying in the demo on
every face that takes online payments."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from libcli.cli import cli
from tests.test_cli_e2e import run as invoke  # the CLI in process, its exit code checked


@pytest.fixture
def demo():
    invoke("demo", "--all")


# #12: a late fee the rules give no rate for -----------------------------------

@pytest.mark.parametrize("card", ["demo-helmet", "demo-tuni"])
def test_an_overdue_loan_without_a_fee_rule_says_fee_unknown(demo, card):
    loans = json.loads(invoke("demo", "loans", "--card", card, "--json").stdout)["loans"]
    unknown = [l for l in loans if l["status"] == "overdue" and l["estimated_fee"] is None]
    assert unknown  # Helmet's and TUNI's seeds state no daily rate
    table = invoke("demo", "loans", "--card", card).stdout
    for loan in unknown:
        [row] = [line for line in table.splitlines() if line.startswith(loan["id"])]
        assert "fee unknown" in row, row


def test_an_overdue_loan_with_a_fee_rule_shows_its_estimate(demo):
    table = invoke("demo", "loans", "--card", "demo-heili").stdout
    assert "est. fee" in table and "fee unknown" not in table


# #13: a sign of life while a library is slow ---------------------------------

@pytest.fixture
def slow_tuni(monkeypatch):
    """The demo library, with every answer of TUNI's account (Primo VE's
    myaccount) late by `delay` seconds; the other views answer at once."""
    from libcli import demo as demo_mod
    from libcli.sandbox.app import Options
    from libcli.sandbox.demo import demo_transport
    from libcli.sandbox.misbehave import Fault

    def slow(delay: float):
        options = Options(faults=[Fault("delay", path="/primaws/rest/priv/myaccount",
                                        times=None, delay_ms=int(delay * 1000))])
        monkeypatch.setattr(demo_mod, "transport",
                            lambda: demo_transport(demo_mod.state_file(), options))

    return slow


@pytest.fixture
def stderr_is_a_terminal(monkeypatch):
    """What libcli asks of stderr says "a terminal" (CliRunner's is not one)."""
    import sys

    from libcli.cli import output

    real = output.isatty
    monkeypatch.setattr(output, "isatty", lambda s: s is sys.stderr or real(s))


def waiting_lines(stderr: str) -> list[str]:
    return [part.split("\x1b[K")[1] for part in stderr.split("\r")
            if part.startswith("\x1b[K") and part != "\x1b[K"]


@pytest.mark.parametrize("command", ["status", "loans", "fees"])
def test_a_slow_library_gets_a_waiting_line_then_it_is_erased(demo, slow_tuni,
                                                              stderr_is_a_terminal, command):
    invoke("demo", "status")  # the cards log in first: the slow part is the account
    slow_tuni(1.6)
    result = invoke("demo", command, "--json")
    json.loads(result.stdout)  # stdout stays one JSON document
    lines = waiting_lines(result.stderr)
    assert lines, repr(result.stderr)
    assert lines[-1].startswith("Waiting for demo-tuni") and "of 10 cards done)" in lines[-1]
    assert "demo-heili" not in lines[-1]  # the fast cards are done
    # Erased once the last card has answered.
    assert "\r\x1b[K" in result.stderr.rsplit("Waiting for", 1)[1]


def test_a_slow_library_on_a_pipe_gets_no_waiting_line(demo, slow_tuni):
    invoke("demo", "status")
    slow_tuni(1.6)
    result = invoke("demo", "status")
    assert "Waiting" not in result.stderr and "\x1b" not in result.stderr and "\r" not in result.stderr


def test_libraries_answering_within_the_delay_get_no_waiting_line(demo, stderr_is_a_terminal,
                                                                 monkeypatch):
    from libcli.cli import progress

    # Ten cards on the in-process demo library can take over a second on a
    # loaded machine: the delay is what "answering in time" is measured by.
    monkeypatch.setattr(progress, "DELAY", 30.0)
    invoke("demo", "status")
    result = invoke("demo", "status")
    assert "Waiting" not in result.stderr and "\x1b" not in result.stderr


# The demo library decides with its own code -----------------------------------

# The client's modules the demo must never call to decide what its pages show:
# its rules (the registry's numbers it reads itself, as data), its parsers,
# its payment checks. libcli.model (the enums both sides name things with)
# and the registry file are shared.
CLIENT_LOGIC = ("libcli.policy", "libcli.backends", "libcli.payment", "libcli.account",
                "libcli.reminders", "libcli.markup", "libcli.cli")


def imported_modules(path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_the_demo_library_imports_none_of_the_clients_rules_or_parsers():
    from pathlib import Path

    import libcli.sandbox

    offending = {}
    for path in sorted(Path(libcli.sandbox.__file__).parent.rglob("*.py")):
        bad = {m for m in imported_modules(path)
               if any(m == c or m.startswith(c + ".") for c in CLIENT_LOGIC)}
        if bad:
            offending[path.name] = sorted(bad)
    assert not offending, offending


def test_the_demo_reads_the_registrys_numbers_itself():
    from libcli.policy import consortia
    from libcli.sandbox.rules import sites

    for view in ("heili", "tuni", "helmet", "tallinn"):
        mine, client = sites()[view].rules, consortia()[view].policy
        assert mine.renewal_limit == client.renewal_limit
        assert mine.late_fee.get("cents_per_day") == client.late_fee.cents_per_day
        assert (mine.online_payment is None) == (client.online_payment is None)


# Hints under `libcli demo` name the command the user can type -----------------

def commands_named(text: str) -> list[str]:
    """Every `libcli WORD` a text names ("libcli:" opening a message is no command)."""
    import re

    return re.findall(r"\blibcli (?:demo )?[a-z][a-z-]*", text)


@pytest.mark.parametrize("args", [
    ["remind"], ["fees"], ["fees", "--card", "demo-tuni-2"], ["renew", "nosuchid"],
    ["hold", "cancel", "nosuchid"],
])
def test_hints_under_the_demo_name_demo_commands(demo, args):
    result = CliRunner().invoke(cli, ["demo", *args], input="1234\n")
    named = commands_named(result.stdout + result.stderr)
    assert named, (result.stdout, result.stderr)  # each of these prints a hint
    assert all(n.startswith("libcli demo ") for n in named), named


def test_the_demo_calendar_says_how_to_renew_in_the_demo(demo, tmp_path):
    invoke("demo", "calendar", "-o", str(tmp_path / "demo.ics"))
    text = (tmp_path / "demo.ics").read_text("utf-8").replace("\r\n ", "")
    named = commands_named(text)
    assert named and all(n.startswith("libcli demo renew") for n in named), named


def test_hints_outside_the_demo_name_plain_commands(demo):
    result = CliRunner().invoke(cli, ["renew", "nosuchid"])  # the user's own home: no cards
    assert "add one with: libcli card add" in result.stderr


# Paying in the demo, on every face that takes online payments ------------------

def test_every_demo_card_whose_fees_are_payable_online_can_pay_in_the_demo(demo):
    fees = json.loads(invoke("demo", "fees", "--json").stdout)["fees"]
    payable = {f["card"]: f["total_cents"] for f in fees if f["payable_online"]}
    # Finna (heili, helmet) and Primo VE (tuni) alike.
    assert {"demo-heili", "demo-helmet", "demo-tuni-2"} <= set(payable), payable
    for card, total in payable.items():
        result = invoke("demo", "pay", "--card", card, "--yes")
        assert "Payment registered" in result.stderr, (card, result.stderr)
        after = json.loads(invoke("demo", "fees", "--card", card, "--json").stdout)["fees"][0]
        assert after["total_cents"] == 0 < total, (card, after)


def test_no_waiting_line_under_the_log_of_verbose(demo, slow_tuni, stderr_is_a_terminal):
    invoke("demo", "status")
    slow_tuni(1.6)
    result = invoke("-v", "demo", "status")
    assert "Waiting for" not in result.stderr
