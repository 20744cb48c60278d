"""Start-up paths stay light: `--help` lists commands from SUMMARIES without
importing the command modules, so the summaries must match the commands."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from libcli.cli import COMMANDS, SUMMARIES, cli


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("limit", [30, 45, 74, 200])
def test_help_summaries_match_the_commands(name, limit):
    cmd = cli.get_command(click.Context(cli), name)
    assert click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit) == cmd.get_short_help_str(limit)


def test_root_help_imports_no_command_module():
    code = ("import sys\nfrom libcli.cli import main\nsys.argv = ['libcli', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('MODULES', sorted(m for m in sys.modules if m.startswith('libcli.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "MODULES []" in out
    assert "Commands:" in out and "renew" in out


def test_simple_table_prints_what_tabulate_prints():
    import random

    import tabulate as tabulate_module
    from tabulate import tabulate

    from libcli.cli.output import simple_table

    assert tabulate_module.WIDE_CHARS_MODE  # tabulate counts columns with wcwidth
    pieces = ["a", "bb", " ", "é", "€", "日本", "x y", "\x1b[31mred\x1b[0m", "", "…", "1", "-3",
              "e\u0301", "õ", "한"]
    rnd = random.Random(1)
    for _ in range(2000):
        ncol = rnd.randint(1, 6)
        headers = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 3))).strip() or "H"
                   for _ in range(ncol)]
        rows = [[rnd.choice([None, rnd.randint(-5, 500),
                             "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4)))])
                 for _ in range(ncol)] for _ in range(rnd.randint(0, 5))]
        expected = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
        assert simple_table(headers, rows) == expected, (headers, rows)
