"""What a SIGKILL at a random moment leaves behind is cleaned by the next
run: temporary files of the atomic writer (one may hold session cookies),
and keyring PINs of cards that are not configured (a `card add` killed
between storing the PIN and writing the config; a removal whose keyring
call failed). The keyring cannot list its entries: libcli keeps an index
of the entries it stored (names only) and cleans from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import cards, storage
from libcli.cli import cli
from libcli.model import Card
from tests.helpers.live_server import LiveServer

HERE = Path(__file__).resolve().parent


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t), follow_symlinks=False)


@pytest.mark.socket
def test_stale_temporary_files_are_removed_by_the_next_run(memory_keyring):
    server = LiveServer("heili")
    try:
        assert CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                        "10000001", "--url", server.url, "--pin-stdin"],
                                  input="1234\n").exit_code == 0
        assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
        cache = Path(os.environ["LIBCLI_CACHE_DIR"])
        config = Path(os.environ["LIBCLI_CONFIG_DIR"])
        [session] = (cache / "sessions").glob("*.json")
        # What a killed writer leaves: this version's names and the earlier mkstemp names.
        stale = [cache / "sessions" / f".{session.name}.0badf00d{storage.TMP_SUFFIX}",
                 cache / "sessions" / f".{session.name}.k3x_9a2q.tmp",
                 cache / "snapshots" / ".me.json.ab12cd34.tmp",
                 config / ".cards.json.zz9_abcd.tmp"]
        fresh = cache / "sessions" / f".{session.name}.feedbeef{storage.TMP_SUFFIX}"
        for path in stale + [fresh]:
            path.write_text('{"cookies": "session cookie"}')
        for path in stale:
            _age(path, 120)
        server.library.loans[next(iter(server.library.loans))].renewals += 0  # unchanged
        assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
        assert CliRunner().invoke(cli, ["card", "set", "me", "--pickup", "X"]).exit_code == 0
        left = [p for p in stale if p.exists()]
        assert left == [], left
        assert fresh.exists()  # a write in progress in another process is left alone
    finally:
        server.stop()


def test_temporary_files_are_named_recognisably(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    storage.atomic_write(tmp_path / "x.json", "{}")
    assert seen and seen[0].startswith(".x.json.") and seen[0].endswith(storage.TMP_SUFFIX)


def test_a_pin_stored_by_a_killed_card_add_is_removed_by_the_next_card_command(memory_keyring):
    # The kill: the PIN is in the keyring, the config never got the card.
    cards.store_pin(Card("gone", "heili", "5555"), "9999")
    assert ("libcli", "heili:5555") in memory_keyring.store
    assert CliRunner().invoke(cli, ["card", "add", "kept", "--library", "heili", "--number",
                                    "1111", "--pin-stdin"], input="1234\n").exit_code == 0
    r = CliRunner().invoke(cli, ["card", "list"])
    assert r.exit_code == 0
    assert set(memory_keyring.store) == {("libcli", "heili:1111")}


def test_card_remove_whose_keyring_call_failed_is_cleaned_later(memory_keyring, monkeypatch):
    assert CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                    "1111", "--pin-stdin"], input="1234\n").exit_code == 0
    delete = memory_keyring.delete_password

    def locked(*a):
        raise RuntimeError("the keyring is locked")

    monkeypatch.setattr(memory_keyring, "delete_password", locked)
    assert CliRunner().invoke(cli, ["card", "remove", "me"]).exit_code == 0
    assert memory_keyring.store  # the PIN stayed: the keyring refused
    monkeypatch.setattr(memory_keyring, "delete_password", delete)
    assert CliRunner().invoke(cli, ["card", "list"]).exit_code == 0
    assert memory_keyring.store == {}


@pytest.mark.slow
def test_sigkill_during_card_add_leaves_no_pin_after_the_next_card_command(isolated, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent),
               PYTHON_KEYRING_BACKEND="tests.helpers.slowkeyring.SlowFileKeyring",
               TEST_KEYRING_DIR=str(tmp_path / "keyring"))
    # The keyring stores the PIN, then the process is killed before the config is written.
    proc = subprocess.Popen([sys.executable, "-m", "libcli", "card", "add", "k", "--library",
                             "heili", "--number", "4242", "--pin-stdin"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    proc.stdin.write("1234\n")
    proc.stdin.close()
    marker = tmp_path / "keyring" / "stored"
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from tests.helpers.filekeyring import entries

    assert entries(tmp_path / "keyring") - {"stored"} == {"heili:4242"}
    done = subprocess.run([sys.executable, "-m", "libcli", "card", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert entries(tmp_path / "keyring") - {"stored"} == set()
