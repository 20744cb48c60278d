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

