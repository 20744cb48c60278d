"""Shell completion: the shipped scripts are current, and completion offers
commands, card names, library ids and loan/hold IDs from the snapshot."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from libcli.snapshot import save_snapshot
from libcli.model import Card, Hold, HoldStatus, Loan

ROOT = Path(__file__).resolve().parent.parent


def complete(words: str, shell="bash") -> list[str]:
    env = {**os.environ, "_LIBCLI_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    out = subprocess.run([sys.executable, "-c", "from libcli.cli import main; main()"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if "," in line]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shipped_scripts_are_current(shell):
    env = {**os.environ, "_LIBCLI_COMPLETE": f"{shell}_source"}
    out = subprocess.run([sys.executable, "-c", "from libcli.cli import main; main()"],
                         env=env, capture_output=True, text=True)
    shipped = (ROOT / "completions" / f"libcli.{shell}").read_text()
    assert out.stdout == shipped, f"regenerate: _LIBCLI_COMPLETE={shell}_source libcli > completions/libcli.{shell}"


def test_commands_and_options():
    assert {"loans", "libraries"} <= set(complete("libcli l"))
    assert "--due-within" in complete("libcli renew --d")


def test_card_names_and_library_ids(memory_keyring):
    from click.testing import CliRunner

    from libcli.cli import cli

    CliRunner().invoke(cli, ["card", "add", "--no-check", "kid", "--library", "heili", "--number", "5",
                             "--pin-stdin"], input="1234\n")
    assert complete("libcli loans --card ") == ["kid"]
    assert {"heili", "tuni", "helmet", "tallinn", "vaski"} <= set(
        complete("libcli search x --library "))
    assert set(complete("libcli search x --library he")) == {"heili", "helle", "helmet"}


def test_loan_and_hold_ids_from_the_snapshot():
    card = Card("kid", "heili", "5")
    loan = Loan(card="kid", key="heili.1|i1", title="Muumipeikko", due_date=date(2026, 12, 1))
    hold = Hold(card="kid", key="h1", title="Taikatalvi", status=HoldStatus.WAITING)
    save_snapshot(card, loans=[loan], holds=[hold])
    assert complete("libcli renew ") == [loan.id]
    assert complete(f"libcli renew {loan.id[:3]}") == [loan.id]
    assert complete("libcli hold cancel ") == [hold.id]
