"""A full disk or a read-only cache or config directory. A cache that
cannot be written is a warning on stderr: the result is still printed and
the exit code is the library's outcome (a nightly renew on a full disk
reports its renewals). `card add` on a read-only config is a clear error
(exit 1), with no traceback and no PIN left in the keyring.

Tests run as root, which ignores chmod: full disk and read-only
directories are simulated by making the writers raise the errors the
kernel gives (ENOSPC, EROFS), with monkeypatch."""

from __future__ import annotations

import errno
import json
import os

import pytest
from click.testing import CliRunner

from libcli import storage
from libcli.cli import cli
from tests.helpers.demo_card import served_with_card


@pytest.fixture
def heili(memory_keyring):
    yield from served_with_card("heili")


def full_disk(monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage, "atomic_write", no_space)


def read_only(monkeypatch):
    def erofs(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(storage, "atomic_write", erofs)
    monkeypatch.setattr(storage, "ensure_dir", erofs)


@pytest.mark.socket
@pytest.mark.parametrize("break_it", [full_disk, read_only])
@pytest.mark.parametrize("args,shown", [(["loans"], "Tuntematon"), (["status"], "heili"),
                                        (["loans", "--json"], '"loans"')])
def test_reads_on_an_unwritable_cache_print_their_result_and_warn(heili, monkeypatch,
                                                                   break_it, args, shown):
    break_it(monkeypatch)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.stderr
    assert shown in r.stdout
    assert "libcli: warning:" in r.stderr and "bug" not in r.stderr
    if "--json" in args:
        json.loads(r.stdout)


@pytest.mark.socket
@pytest.mark.parametrize("break_it", [full_disk, read_only])
def test_a_nightly_renew_on_a_full_disk_reports_what_it_renewed(heili, monkeypatch, break_it):
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    before = {l.loan_id: l.renewals for l in heili.library.loans.values()}
    break_it(monkeypatch)
    r = CliRunner().invoke(cli, ["renew", "--due-within", "30"])
    renewed = [k for k, l in heili.library.loans.items() if l.renewals > before.get(k, 0)]
    assert renewed, "the library renewed something"
    assert r.stdout.count("renewed, due") == len(renewed), r.stdout
    # The exit code is the library's outcome (3: some loans were not renewable), not 1.
    assert r.exit_code in (0, 3), r.stderr
    assert "warning" in r.stderr and "bug" not in r.stderr


@pytest.mark.parametrize("break_it", [full_disk, read_only])
def test_card_add_on_an_unwritable_config_is_a_clear_error(memory_keyring, monkeypatch,
                                                           break_it):
    break_it(monkeypatch)
    r = CliRunner().invoke(cli, ["card", "add", "me", "--library", "heili", "--number",
                                 "10000001", "--pin-stdin"], input="1234\n")
    assert r.exit_code == 1, (r.exit_code, r.stderr)
    assert "libcli: error:" in r.stderr and "bug" not in r.stderr and "Traceback" not in r.stderr
    assert ("space" in r.stderr or "Read-only" in r.stderr), r.stderr
    assert memory_keyring.store == {}
