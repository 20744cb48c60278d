"""A PIN the library echoes back is masked in every output and every file
libcli writes: tables, --json (results and error messages), snapshots,
`remind`, the .ics file. No core dump can carry it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import redact
from libcli.backends.finna import FinnaBackend
from libcli.cli import cli
from libcli.errors import Refused
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import add_big_account, build_library
from tests.helpers.live_server import LiveServer

CANARY = "7c4n4ry9"
HERE = Path(__file__).resolve().parent


@pytest.fixture
def echoing_library(memory_keyring, monkeypatch):
    monkeypatch.setattr(redact, "_secrets", set())
    lib = build_library("heili", Clock(date.today()))
    add_big_account(lib, 3, card="55550000", pin=CANARY)
    for t in lib.titles.values():  # the library echoes the PIN in every title
        t.title = f"{t.title} (PIN {CANARY})"
    server = LiveServer("heili", library=lib)
    # --no-check: the first command logs in, so this process knows the PIN
    # (a warm run in a process of its own does not read it: see the README).
    r = CliRunner().invoke(cli, ["card", "add", "--no-check", "me", "--library", "heili",
                                 "--number", "55550000", "--url", server.url, "--pin-stdin"],
                           input=CANARY + "\n")
    assert r.exit_code == 0, r.output
    yield server
    server.stop()


@pytest.mark.socket
def test_an_echoed_pin_is_masked_in_every_output_and_file(echoing_library, tmp_path):
    outputs = []
    for args in (["loans"], ["loans", "--json"], ["status"], ["remind", "--within", "30"],
                 ["remind", "--within", "30", "--json"], ["holds"], ["renew", "--all"],
                 ["renew", "--all", "--json"], ["calendar", "-o", str(tmp_path / "c.ics")],
                 ["calendar"], ["loans", "--offline"]):
        r = CliRunner().invoke(cli, args)
        outputs.append((args, r.stdout, r.stderr))
        if "--json" in args:
            json.loads(r.stdout)
    assert any("(PIN ****)" in out for _, out, _ in outputs)  # the titles are still shown
    for args, out, err in outputs:
        assert CANARY not in out, (args, out[:400])
        assert CANARY not in err, (args, err[:400])
    for path in list(tmp_path.rglob("*")):
        if path.is_file() and "keyring" not in path.parts:
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.socket
def test_an_echoed_pin_is_masked_in_json_error_messages(echoing_library, monkeypatch):
    async def refuse(self):
        raise Refused(f"login failed for card 55550000 with PIN {CANARY}")

    CliRunner().invoke(cli, ["loans"])  # a login: the PIN is known to this process
    monkeypatch.setattr(FinnaBackend, "loans", refuse)
    r = CliRunner().invoke(cli, ["loans", "--json"])
    doc = json.loads(r.stdout)
    assert doc["errors"] and "****" in doc["errors"][0]["message"]
    assert CANARY not in r.stdout and CANARY not in r.stderr


def test_no_core_dumps_once_a_pin_is_read(tmp_path):
    code = (
        "import resource\n"
        "hard = resource.getrlimit(resource.RLIMIT_CORE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))\n"
        "assert resource.getrlimit(resource.RLIMIT_CORE)[0] != 0\n"
        "from libcli.cards import pin_for\n"
        "from libcli.model import Card\n"
        "print(pin_for(Card('c', 'heili', '1', pin_command='echo 1234')) == '1234',"
        " resource.getrlimit(resource.RLIMIT_CORE)[0])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == "True 0"
