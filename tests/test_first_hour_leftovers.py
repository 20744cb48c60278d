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


def invoke(*args, input=None, expect=0):
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == expect, (
        f"libcli {' '.join(args)} exited {result.exit_code}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}\n{result.exception!r}")
    assert "Traceback" not in result.stdout + result.stderr
    return result


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
