"""Damaged caches are discarded and rebuilt with a warning naming the file;
a `loans` process and a `renew` process on the same card at once both
finish and leave a valid snapshot. (The config side, never overwritten
when corrupt, is in test_cards.py; 20 processes and SIGKILL in
test_concurrency.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli.account import SESSION_VERSION
from libcli.cli import cli
from libcli.snapshot import SNAPSHOT_VERSION
from tests.helpers.live_server import LiveServer

HERE = Path(__file__).resolve().parent


@pytest.fixture
def heili(memory_keyring):
    server = LiveServer("heili")
    r = CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                 "10000001", "--url", server.url, "--pin-stdin"], input="1234\n")
    assert r.exit_code == 0
    yield server
    server.stop()


def cache_files(kind: str) -> list[Path]:
    return sorted((Path(os.environ["LIBCLI_CACHE_DIR"]) / kind).glob("*.json"))


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "not json": lambda text: "\x00\x01garbage" + text[5:],
    "empty": lambda text: "",
    "wrong shape": lambda text: "[1, 2, 3]\n",
}


@pytest.mark.socket
@pytest.mark.parametrize("kind", ["sessions", "snapshots"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_file_is_discarded_rebuilt_and_named(heili, kind, damage):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    [path] = cache_files(kind)
    path.write_text(DAMAGE[damage](path.read_text()))
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    assert "Traceback" not in r.stderr
    if damage != "wrong shape":  # valid JSON of another shape is silently replaced
        assert f"discarded the damaged cache file {path}" in r.stderr
    data = json.loads(path.read_text())  # rebuilt, valid
    version = SNAPSHOT_VERSION if kind == "snapshots" else SESSION_VERSION
    assert isinstance(data, dict) and data.get("version") == version
    if kind == "snapshots":
        assert data["loans"]
        # Completion reads the snapshot without a network; it works again.
        offline = CliRunner().invoke(cli, ["loans", "--offline", "--json"])
        assert offline.exit_code == 0 and json.loads(offline.stdout)["loans"]


@pytest.mark.socket
def test_a_cache_with_loose_permissions_is_warned_about_and_still_used(heili):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    [session] = cache_files("sessions")
    session.chmod(0o644)
    logins = heili.fault("count", "/MyResearch/Home", method="POST", times=None)
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0
    assert f"{session} is readable by other users" in r.stderr and "chmod 600" in r.stderr
    assert logins.hits == 0  # the session was used, not thrown away


@pytest.mark.socket
def test_offline_loans_with_a_damaged_snapshot_say_so(heili):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    [snap] = cache_files("snapshots")
    snap.write_text('{"version": 1, "loans": [')
    r = CliRunner().invoke(cli, ["loans", "--offline"])
    assert "Traceback" not in r.stderr
    assert f"discarded the damaged cache file {snap}" in r.stderr
    assert "no saved loans yet" in r.stderr


@pytest.mark.slow
@pytest.mark.socket
def test_loans_and_renew_of_one_card_at_once_both_finish(isolated, tmp_path):
    server = LiveServer("heili")
    server.options.latency_ms = 30  # so that the two runs overlap
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(HERE.parent),
                "PYTHON_KEYRING_BACKEND": "tests.helpers.filekeyring.FileKeyring",
                "TEST_KEYRING_DIR": str(tmp_path / "keyring")})

    def libcli(*args, stdin=None):
        return subprocess.Popen([sys.executable, "-m", "libcli", *args], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    try:
        add = libcli("card", "add", "me", "--library", "heili", "--number", "10000001",
                     "--url", server.url, "--pin-stdin")
        add.communicate("1234\n", timeout=60)
        assert add.returncode == 0
        for _ in range(2):
            procs = [libcli("loans", "--json"), libcli("renew", "--all", "--json"),
                     libcli("loans", "--json"), libcli("status", "--json")]
            outs = [p.communicate(timeout=120) for p in procs]
            for p, (out, err) in zip(procs, outs):
                assert p.returncode in (0, 3), err
                assert "Traceback" not in err and "discarded" not in err, err
                json.loads(out)
            snap = Path(env["LIBCLI_CACHE_DIR"]) / "snapshots" / "me.json"
            data = json.loads(snap.read_text())
            assert data["loans"] and data["version"] == SNAPSHOT_VERSION
            for path in (Path(env["LIBCLI_CACHE_DIR"])).rglob("*.json"):
                json.loads(path.read_text())
            leftovers = [p for p in Path(env["LIBCLI_CACHE_DIR"]).rglob("*.tmp")]
            assert leftovers == []
    finally:
        server.stop()
