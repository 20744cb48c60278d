"""Writes to one card's account from several processes at once (cron's
`renew --due-within 2` while the patron runs `renew ID`; twenty `renew ID`
at once) use one renewal, not one per process: each write takes the
account's lock, and a process that finds the account written since it read
it reads again and renews only what still needs it. Real processes against
the demo library on 127.0.0.1, counting the library's renewals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import add_big_account, build_library
from tests.helpers.live_server import LiveServer

HERE = Path(__file__).resolve().parent
CARD, PIN = "55550000", "2468"


def libcli(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "libcli", *args], env=env, input=stdin,
                          text=True, capture_output=True, timeout=120)


@pytest.fixture
def world(isolated, tmp_path):
    lib = build_library("heili", Clock(date.today()))
    add_big_account(lib, 1, card=CARD, pin=PIN)
    server = LiveServer("heili", library=lib)
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(HERE.parent),
                "PYTHON_KEYRING_BACKEND": "tests.helpers.filekeyring.FileKeyring",
                "TEST_KEYRING_DIR": str(tmp_path / "keyring")})
    assert libcli(env, "card", "add", "me", "--library", "heili", "--number", CARD, "--url",
                  server.url, "--pin-stdin", stdin=PIN + "\n").returncode == 0
    [loan] = lib.loans_of(CARD)
    listed = json.loads(libcli(env, "loans", "--json").stdout)["loans"]
    yield {"env": env, "lib": lib, "loan": loan, "id": listed[0]["id"], "server": server}
    server.stop()


def _due_tomorrow(world):
    loan = world["loan"]
    loan.due_date = date.today() + timedelta(days=1)
    loan.renewals = 0


@pytest.mark.socket
@pytest.mark.slow
def test_cron_and_the_patron_renewing_at_once_use_one_renewal(world):
    env = world["env"]
    for trial in range(3):
        _due_tomorrow(world)
        world["server"].options.faults.clear()
        # Both processes read the account before either renewal takes effect
        # (the library acts on a renewal post only after 2.5 s), so each has a
        # copy of the loans from before the other's renewal.
        world["server"].fault("delay", "/MyResearch/CheckedOut", method="POST", times=None,
                              delay_ms=2500)
        with ThreadPoolExecutor(2) as pool:
            cron = pool.submit(libcli, env, "renew", "--due-within", "2")
            patron = pool.submit(libcli, env, "renew", world["id"])
            cron, patron = cron.result(), patron.result()
        assert world["loan"].renewals == 1, (trial, cron.stdout, patron.stdout)
        for done in (cron, patron):
            assert "Traceback" not in done.stderr, done.stderr
        outputs = cron.stdout + patron.stdout
        assert outputs.count("renewed, due") == 1, outputs
        # Whoever came second says so (or, cron, that nothing is due any more).
        assert "already renewed" in outputs or "Nothing to renew" in (cron.stderr + cron.stdout)


@pytest.mark.socket
@pytest.mark.slow
def test_twenty_processes_renewing_one_loan_use_one_renewal(world):
    env = world["env"]
    _due_tomorrow(world)
    # The first renewal takes effect after 10 s: every process has read the
    # account by then (they start on two CPUs at once).
    world["server"].fault("delay", "/MyResearch/CheckedOut", method="POST", times=1,
                          delay_ms=10000)
    with ThreadPoolExecutor(20) as pool:
        done = list(pool.map(lambda _: libcli(env, "renew", world["id"]), range(20)))
    assert world["loan"].renewals == 1, [d.stdout for d in done]
    assert sum("renewed, due" in d.stdout for d in done) == 1
    assert sum("already renewed" in d.stdout for d in done) == 19, [d.stdout + d.stderr for d in done]
    assert all(d.returncode == 0 for d in done), [(d.returncode, d.stderr) for d in done]
