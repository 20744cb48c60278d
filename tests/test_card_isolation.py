"""One card's problem is that card's error; the other cards' results print:
a PIN command printing non-UTF-8, a slow PIN command (run off the event
loop), a keyring whose get_password hangs (a deadline), a session file of
the wrong inner shape, and `loans --offline` over a snapshot of the wrong
shape."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from libcli import cards, snapshot
from libcli.backends.finna import FinnaBackend
from libcli.cli import cli
from libcli.sandbox.circulation import Clock
from libcli.sandbox.seed import add_big_account, build_library
from tests.helpers.live_server import LiveServer


@pytest.fixture
def two_cards(memory_keyring):
    lib = build_library("heili", Clock(date.today()))
    add_big_account(lib, 2, card="55550000", pin="2468")
    server = LiveServer("heili", library=lib)
    r = CliRunner().invoke(cli, ["card", "add", "good", "--library", "heili", "--number",
                                 "10000001", "--url", server.url, "--pin-stdin"], input="1234\n")
    assert r.exit_code == 0
    yield server
    server.stop()


def add_other(server, **how):
    args = ["card", "add", "--no-check", "other", "--library", "heili", "--number", "55550000", "--url",
            server.url]
    if "pin_command" in how:
        r = CliRunner().invoke(cli, [*args, "--pin-command", how["pin_command"]])
    else:
        r = CliRunner().invoke(cli, [*args, "--pin-stdin"], input="2468\n")
    assert r.exit_code == 0, r.output


def good_loans_shown(r):
    assert "Traceback" not in r.stderr and "bug in libcli" not in r.stderr, r.stderr
    assert "good" in r.stdout and "Tuntematon" in r.stdout, (r.stdout, r.stderr)
    assert "libcli: card 'other'" in r.stderr, r.stderr
    assert r.exit_code == 1


@pytest.mark.socket
def test_a_pin_command_printing_non_utf8_is_that_cards_error(two_cards):
    add_other(two_cards, pin_command="printf '\\377\\376\\n'")
    r = CliRunner().invoke(cli, ["loans"])
    good_loans_shown(r)
    assert "not UTF-8" in r.stderr


@pytest.mark.socket
def test_a_slow_pin_command_does_not_hold_up_the_other_cards(two_cards, monkeypatch, tmp_path):
    done = tmp_path / "pin-done"
    add_other(two_cards, pin_command=f"sleep 4; python3 -c 'import time; print(time.time())' "
                                     f"> {done}; echo 2468")
    finished: dict[str, float] = {}
    original = FinnaBackend.loans

    async def timed(self):
        value = await original(self)
        finished[self.card.name] = time.time()
        return value

    monkeypatch.setattr(FinnaBackend, "loans", timed)
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    pin_done = float(done.read_text())
    assert finished["other"] >= pin_done
    # The good card's login and loans went on while the PIN command ran (with
    # the event loop blocked, they could only finish after it).
    assert finished["good"] < pin_done, (finished["good"], pin_done)


@pytest.mark.socket
def test_a_hanging_keyring_fails_its_card_after_a_deadline(two_cards, memory_keyring, monkeypatch):
    add_other(two_cards)
    never = threading.Event()
    get = memory_keyring.get_password

    def hang(service, user):
        if user.endswith(":55550000"):
            never.wait(30)
        return get(service, user)

    monkeypatch.setattr(memory_keyring, "get_password", hang)
    monkeypatch.setattr(cards, "KEYRING_TIMEOUT", 0.5)
    start = time.monotonic()
    r = CliRunner().invoke(cli, ["loans"])
    never.set()
    assert time.monotonic() - start < 10
    good_loans_shown(r)
    assert "keyring did not answer" in r.stderr


@pytest.mark.socket
@pytest.mark.parametrize("inner", [
    {"cookies": [1, 2], "state": {}},
    {"cookies": "abc", "state": {}},
    {"cookies": [{"name": None, "value": 3}], "state": {}},
    {"cookies": [], "state": [1]},
])
def test_a_session_of_the_wrong_inner_shape_is_discarded(two_cards, inner):
    add_other(two_cards)
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    sessions = sorted((Path(os.environ["LIBCLI_CACHE_DIR"]) / "sessions").glob("*.json"))
    assert len(sessions) == 2
    sessions[0].write_text(json.dumps({"version": 1} | inner))
    r = CliRunner().invoke(cli, ["loans"])
    assert r.exit_code == 0, r.stderr
    assert "Tuntematon" in r.stdout and "bug" not in r.stderr
    assert f"discarded the damaged cache file {sessions[0]}" in r.stderr


@pytest.mark.socket
@pytest.mark.parametrize("loans", [[{"title": 1}], [{"key": "k", "title": "t", "due_date": 5}],
                                   "abc", [1, 2], [{"key": "k", "title": "t",
                                                    "due_date": "not a date"}]])
def test_offline_loans_over_a_snapshot_of_the_wrong_shape(two_cards, loans):
    add_other(two_cards)
    assert CliRunner().invoke(cli, ["loans"]).exit_code == 0
    path = snapshot.snapshot_path("other")
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"loans": loans}))
    r = CliRunner().invoke(cli, ["loans", "--offline"])
    assert "Traceback" not in r.stderr and "bug" not in r.stderr, r.stderr
    assert "good" in r.stdout and "Tuntematon" in r.stdout
    assert "saved loans of card 'other' are damaged" in r.stderr
