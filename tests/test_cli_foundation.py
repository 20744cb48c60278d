"""The CLI's frame: help with examples, exit codes, fast start-up, doctor."""

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from libcli.cli import COMMANDS, cli


def all_commands():
    ctx = click.Context(cli)
    out = []
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        out.append(((name,), cmd))
        if isinstance(cmd, click.Group):
            out += [((name, sub), cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]
    return out


@pytest.mark.parametrize("path,cmd", all_commands(), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_with_an_example(path, cmd):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"libcli {' '.join(path)} --help has no example"


def test_root_help_lists_exit_codes():
    result = CliRunner().invoke(cli, ["--help"])
    for code in range(7):
        assert f"  {code}  " in result.stdout


def test_libraries_json():
    result = CliRunner().invoke(cli, ["libraries", "--json"])
    data = {d["id"]: d for d in json.loads(result.stdout)["libraries"]}
    assert data["heili"]["online_payment_minimum_cents"] == 65
    assert data["tuni"]["online_payment_minimum_cents"] == 300
    assert data["tallinn"]["online_payment_minimum_cents"] is None
    assert {d["backend"] for d in data.values()} == {"finna", "primo", "webpac"}
    assert all(d["url"].startswith("https://") for d in data.values())


def test_doctor_json(memory_keyring):
    CliRunner().invoke(cli, ["card", "add", "--no-check", "mine", "--library", "heili", "--number", "1",
                             "--pin-stdin"], input="1234\n")
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    report = json.loads(result.stdout)
    assert report["keyring_usable"] is True
    assert report["cards"] == [{"name": "mine", "library": "heili", "pin_source": "keyring",
                                "pin_available": True}]
    assert report["config_file"].endswith("cards.json")


def test_no_cards_is_a_usage_error_with_a_hint():
    result = CliRunner().invoke(cli, ["loans"])
    assert result.exit_code == 2
    assert "libcli demo" in result.stderr


def test_unknown_option_is_exit_2():
    assert CliRunner().invoke(cli, ["loans", "--bogus"]).exit_code == 2


HEAVY = ("httpx", "keyring", "selectolax", "tabulate", "starlette", "msgspec", "asyncio")


@pytest.mark.parametrize("args,env", [
    (["--version"], {}),
    (["--help"], {}),
    (["renew", "--help"], {}),
    ([], {"_LIBCLI_COMPLETE": "bash_complete", "COMP_WORDS": "libcli renew --ca", "COMP_CWORD": "2"}),
])
def test_start_up_paths_import_nothing_heavy(args, env, tmp_path):
    import os

    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "libcli", *args],
                            capture_output=True, text=True, env={**os.environ, **env})
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported.intersection(HEAVY), imported.intersection(HEAVY)
