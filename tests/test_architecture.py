"""The shape the design asks for, kept: a command parses, makes one call to
the account service, and renders; the workflow lives in libcli.operations."""

from __future__ import annotations

import ast
from pathlib import Path

import click

from libcli.cli import cli

PACKAGE = Path(__file__).resolve().parents[1] / "libcli"
LONGEST_COMMAND = 40  # lines of code, the docstring not counted


def commands(group: click.Group, ctx: click.Context):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from commands(command, ctx)
        else:
            yield command


def code_lines(function) -> int:
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    node = tree.body[0]
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return body[-1].end_lineno - body[0].lineno + 1


def test_every_command_is_short():
    ctx = click.Context(cli)
    long = {c.name: code_lines(c.callback) for c in commands(cli, ctx)
            if code_lines(c.callback) > LONGEST_COMMAND}
    assert not long, f"commands over {LONGEST_COMMAND} lines of code: {long}"


def test_commands_do_not_open_runs_or_reach_backends():
    """Only the account service opens a run over cards: a command that does
    has workflow in it (it belongs in libcli/operations.py)."""
    offenders = []
    for path in (PACKAGE / "cli").glob("*.py"):
        if path.name == "common.py":  # where the service is made
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("AccountService", "run.gather", "run.exclusive", "save_snapshot",
                       ".backends[", "start_payment"):
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert not offenders, offenders
