"""Many libcli processes at once, and processes killed mid-write: the config
is never corrupt, no card is lost and no keyring entry is orphaned."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.filekeyring import entries

HERE = Path(__file__).resolve().parent


@pytest.fixture
def env(isolated, tmp_path):
    e = dict(os.environ)
    e.update({
        "PYTHONPATH": str(HERE.parent) + os.pathsep + e.get("PYTHONPATH", ""),
        "PYTHON_KEYRING_BACKEND": "tests.helpers.filekeyring.FileKeyring",
        "TEST_KEYRING_DIR": str(tmp_path / "keyring"),
    })
    return e


def libcli(env, *args, pin=None):
    return subprocess.run([sys.executable, "-m", "libcli", *args], env=env, text=True,
                          input=pin, capture_output=True, timeout=60)


def worker(env, i):
    codes = []
    codes.append(libcli(env, "card", "add", "--no-check", f"p{i}a", "--library", "heili", "--number", f"{i}01",
                        "--pin-stdin", pin=f"9{i}1\n").returncode)
    codes.append(libcli(env, "card", "add", "--no-check", f"p{i}b", "--library", "helmet", "--number", f"{i}02",
                        "--pin-stdin", pin=f"9{i}2\n").returncode)
    codes.append(libcli(env, "card", "rename", f"p{i}a", f"p{i}c").returncode)
    codes.append(libcli(env, "card", "remove", f"p{i}b").returncode)
    # Everyone fights over one shared card: add and remove it.
    libcli(env, "card", "add", "--no-check", "shared", "--library", "tuni", "--number", "777", "--pin-stdin",
           pin="7777\n")
    libcli(env, "card", "remove", "shared")
    return codes


@pytest.mark.slow
def test_twenty_processes_at_once(env):
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda i: worker(env, i), range(20)))
    assert all(codes == [0, 0, 0, 0] for codes in results), results
    config = Path(env["LIBCLI_CONFIG_DIR"]) / "cards.json"
    cards = {c["name"]: c for c in json.loads(config.read_text())["cards"]}
    mine = {n for n in cards if n != "shared"}
    assert mine == {f"p{i}c" for i in range(20)}
    # Every keyring entry belongs to a card, and every card has its entry.
    expected = {f"{c['library']}:{c['number']}" for c in cards.values()}
    assert entries(env["TEST_KEYRING_DIR"]) == expected
    leftovers = [p.name for p in config.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


WRITER = """
import sys
from libcli.cards import CardStore
from libcli.model import Card
store = CardStore()
for i in range(30):
    store.add(Card(f"keep{i}", "heili", str(1000 + i)))
print("ready", flush=True)
n = 0
while True:
    n += 1
    store.update("keep0", pickup="x" * (n % 5000))
"""


@pytest.mark.slow
def test_sigkill_during_writes_leaves_a_whole_config(env):
    config = Path(env["LIBCLI_CONFIG_DIR"]) / "cards.json"
    for attempt in range(5):
        config.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.07 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(config.read_text())
        assert len(data["cards"]) == 30
        assert {c["name"] for c in data["cards"]} == {f"keep{i}" for i in range(30)}
