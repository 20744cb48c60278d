"""Symbolic links in libcli's directories. Caches and lock files are never
reached through a link (O_NOFOLLOW, as git treats its lock files): a
dangling `.lock` link does not make libcli create its target, and a
snapshot that is a link is not written through. A cache directory others
can write to (a sessions directory linked to a world-writable one) is
refused with a warning naming it. A config file kept as a link (dotfiles)
is written through to its target and stays a link.

Tests run as root: the permission bits are still reported by stat, which
is what libcli checks; nothing here depends on chmod refusing root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import snapshot
from libcli.cli import cli
from tests.helpers.demo_card import served_with_card


@pytest.fixture
def heili(memory_keyring):
    yield from served_with_card("heili")


def cache() -> Path:
    return Path(os.environ["LIBCLI_CACHE_DIR"])


@pytest.mark.socket
def test_a_dangling_lock_link_is_not_followed(heili, tmp_path):
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    lock = snapshot.snapshot_path("me").with_name("me.json.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.symlink_to(target)
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    assert "Tuntematon" in r.stdout
    assert not target.exists()
    assert "symbolic link" in r.stderr and str(lock) in r.stderr


def test_a_dangling_config_lock_link_is_an_error_not_a_file(memory_keyring, tmp_path):
    target = tmp_path / "planted"
    config = Path(os.environ["LIBCLI_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "cards.json.lock").symlink_to(target)
    r = CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number", "1",
                                 "--pin-stdin"], input="1234\n")
    assert r.exit_code == 1 and "symbolic link" in r.stderr, r.stderr
    assert not target.exists()
    assert memory_keyring.store == {}


@pytest.mark.socket
def test_a_snapshot_that_is_a_link_is_not_written_through(heili, tmp_path):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    snap = snapshot.snapshot_path("me")
    snap.unlink()
    snap.symlink_to(victim)
    heili.library.loans[next(iter(heili.library.loans))].renewals += 1  # something new to save
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    assert victim.read_text() == "precious\n"
    assert not snap.is_symlink() and json.loads(snap.read_text())["loans"]


@pytest.mark.socket
@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_a_sessions_directory_linked_to_a_shared_directory_is_refused(heili, tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    cache().mkdir(parents=True, exist_ok=True)
    (cache() / "sessions").symlink_to(shared)
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    assert "Tuntematon" in r.stdout
    assert "writable by other users" in r.stderr and "sessions" in r.stderr, r.stderr
    assert list(shared.iterdir()) == []  # no session cookies left there


@pytest.mark.socket
def test_a_cache_directory_of_another_user_is_refused(heili, monkeypatch):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    monkeypatch.setattr(os, "geteuid", lambda: 4242)  # as if the cache were someone else's
    r = CliRunner().invoke(cli, ["loans"])
    assert "belongs to another user" in r.stderr, r.stderr
    assert "Tuntematon" in r.stdout


def test_a_config_kept_as_a_link_stays_a_link(memory_keyring, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "libcli-cards.json"
    real.write_text(json.dumps({"meta": {"version": 1}, "cards": []}))
    config = Path(os.environ["LIBCLI_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "cards.json").symlink_to(real)
    for name in ("a", "b"):
        r = CliRunner().invoke(cli, ["card", "add", name, "--library", "heili", "--number",
                                     f"1{name}", "--pin-stdin"], input="1234\n")
        assert r.exit_code == 0, r.stderr
    assert (config / "cards.json").is_symlink()
    assert [c["name"] for c in json.loads(real.read_text())["cards"]] == ["a", "b"]
    assert not [p for p in dotfiles.iterdir() if p.name.startswith(".")]  # no temp files left
