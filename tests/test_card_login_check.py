"""`card add` tries the login before it keeps a card; `card check` logs in
afresh, never trusting a saved session."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from libcli.cards import CardStore
from libcli.cli import cli
from libcli.sandbox.seed import DEMO_PATRONS
from tests.helpers.live_server import LiveServer


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def heili():
    server = LiveServer("heili")
    yield server, next(p for p in DEMO_PATRONS if p.view == "heili")
    server.stop()


def test_a_wrong_pin_is_refused_and_nothing_is_kept(heili, memory_keyring):
    server, patron = heili
    result = run("card", "add", "me", "--library", "heili", "--number", patron.card,
                 "--url", server.url, "--pin-stdin", input="0000\n" if patron.pin != "0000"
                 else "1111\n")
    assert result.exit_code == 4, result.output
    assert CardStore().cards() == []
    assert memory_keyring.store == {}


def test_the_right_pin_is_kept_and_said_so(heili, memory_keyring):
    server, patron = heili
    result = run("card", "add", "me", "--library", "heili", "--number", patron.card,
                 "--url", server.url, "--pin-stdin", input=patron.pin + "\n")
    assert result.exit_code == 0, result.output
    assert "accepted the login" in result.stderr
    assert [c.name for c in CardStore().cards()] == ["me"]


def test_an_unreachable_library_keeps_the_card_with_a_warning(memory_keyring):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run("card", "add", "me", "--library", "heili", "--number", "1",
                 "--url", f"http://127.0.0.1:{port}", "--pin-stdin", input="1234\n")
    assert result.exit_code == 0, result.output
    assert "could not check the login" in result.stderr
    assert [c.name for c in CardStore().cards()] == ["me"]


def test_card_check_logs_in_afresh_when_the_pin_command_now_fails(heili, memory_keyring, tmp_path):
    server, patron = heili
    pinfile = tmp_path / "pin"
    pinfile.write_text(patron.pin)
    assert run("card", "add", "me", "--library", "heili", "--number", patron.card,
               "--url", server.url, "--pin-command", f"cat {pinfile}").exit_code == 0
    assert run("loans").exit_code == 0  # a session is saved now
    pinfile.write_text("0000" if patron.pin != "0000" else "1111")
    result = run("card", "check", "--card", "me")
    assert result.exit_code == 4, result.output
    assert "login ok" not in result.stderr
