"""The card store: config file, keyring, pin-command, and bad input."""

import json
import os
import stat

import pytest
from click.testing import CliRunner

from libcli.cards import SERVICE, CardStore, config_path, pin_for
from libcli.cli import cli

PIN = "4711"


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def add(name="mine", library="helmet", number="1234567", pin=PIN, *extra):
    return invoke("card", "add", "--no-check", name, "--library", library, "--number", number, "--pin-stdin",
                  *extra, input=f"{pin}\n")


def test_add_keeps_the_pin_in_the_keyring_and_not_in_the_config(memory_keyring):
    result = add()
    assert result.exit_code == 0, result.stderr
    assert memory_keyring.store == {(SERVICE, "helmet:1234567"): PIN}
    text = config_path().read_text()
    assert PIN not in text
    assert json.loads(text)["cards"][0]["name"] == "mine"
    assert stat.S_IMODE(os.stat(config_path()).st_mode) == 0o600
    assert pin_for(CardStore().get("mine")) == PIN


def test_list_never_shows_pins(memory_keyring):
    add()
    result = invoke("card", "list", "--json")
    assert result.exit_code == 0
    assert PIN not in result.stdout
    [card] = json.loads(result.stdout)["cards"]
    assert card["name"] == "mine" and card["pin_source"] == "keyring" and card["default"] is True


def test_rename_keeps_the_pin_and_remove_deletes_it(memory_keyring):
    add()
    assert invoke("card", "rename", "mine", "me").exit_code == 0
    assert pin_for(CardStore().get("me")) == PIN
    assert invoke("card", "remove", "me").exit_code == 0
    assert memory_keyring.store == {}
    assert CardStore().cards() == []


def test_default_card(memory_keyring):
    add("a", number="1")
    add("b", number="2")
    assert invoke("card", "default", "b").exit_code == 0
    assert CardStore().default().name == "b"
    invoke("card", "remove", "b")
    assert CardStore().default().name == "a"


@pytest.mark.parametrize("args,message", [
    (["card", "add", "--no-check", "x", "--library", "nowhere", "--number", "1", "--pin-stdin"], "unknown library 'nowhere'"),
    (["card", "remove", "ghost"], "unknown card 'ghost'"),
    (["card", "rename", "ghost", "new"], "unknown card 'ghost'"),
    (["card", "add", "--no-check", "bad name", "--library", "heili", "--number", "1", "--pin-stdin"], "invalid card name"),
])
def test_bad_input_is_a_usage_error_without_traceback(memory_keyring, args, message):
    result = invoke(*args, input="1234\n")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert memory_keyring.store == {}


def test_duplicate_name_and_duplicate_card(memory_keyring):
    add()
    result = add()
    assert result.exit_code == 2 and "already exists" in result.stderr
    result = add("other")
    assert result.exit_code == 2 and "already stored as 'mine'" in result.stderr
    assert len(CardStore().cards()) == 1


def test_empty_pin_is_refused_and_nothing_is_written(memory_keyring):
    result = add(pin="")
    assert result.exit_code == 1
    assert "PIN is empty" in result.stderr
    assert not config_path().exists() and memory_keyring.store == {}


def test_no_terminal_and_no_pin_source_names_the_flags(memory_keyring):
    result = invoke("card", "add", "--no-check", "x", "--library", "heili", "--number", "1")
    assert result.exit_code == 2
    assert "--pin-stdin" in result.stderr


def test_headless_machine_without_keyring(monkeypatch):
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = add()
    assert result.exit_code == 1
    assert "no keyring backend" in result.stderr
    assert "--pin-command" in result.stderr and "keyrings.alt" in result.stderr
    assert not config_path().exists()


def test_pin_command_needs_no_keyring(tmp_path):
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = invoke("card", "add", "--no-check", "cron", "--library", "heili", "--number", "42",
                    "--pin-command", f"echo {PIN}")
    assert result.exit_code == 0, result.stderr
    assert pin_for(CardStore().get("cron")) == PIN
    assert PIN in config_path().read_text()  # the command itself, by the user's choice


def test_failing_pin_command_does_not_print_its_output():
    invoke("card", "add", "--no-check", "cron", "--library", "heili", "--number", "42",
           "--pin-command", "echo secret-output; exit 3")
    from libcli.errors import PinError

    with pytest.raises(PinError) as info:
        pin_for(CardStore().get("cron"))
    assert "exit status 3" in str(info.value) and "secret-output" not in str(info.value)


@pytest.mark.parametrize("content,what", [
    ("{not json", "is not valid JSON"),
    ('{"cards": 3}', "does not look like a libcli config"),
    ("", "is not valid JSON"),
])
def test_corrupt_config_names_the_file_and_is_left_alone(memory_keyring, content, what):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    result = add()
    assert result.exit_code == 1
    assert str(path) in result.stderr and what in result.stderr
    assert path.read_text() == content
    assert memory_keyring.store == {}


def test_loose_permissions_are_warned_about(memory_keyring):
    add()
    os.chmod(config_path(), 0o644)
    result = invoke("card", "list")
    assert "readable by other users" in result.stderr


def test_failed_config_write_removes_the_stored_pin(memory_keyring, monkeypatch):
    import libcli.cards as cards_mod

    def boom(path, cards):
        raise OSError("disk full")

    monkeypatch.setattr(cards_mod, "_save", boom)
    with pytest.raises(OSError):
        CardStore().add(cards_mod.Card("x", "heili", "1"),
                        store_pin=lambda c: cards_mod.store_pin(c, PIN),
                        forget_pin=cards_mod.forget_pin)
    assert memory_keyring.store == {}


def test_a_keyring_that_cannot_be_loaded_is_a_clear_error(monkeypatch):
    import keyring.core

    def broken():
        raise ModuleNotFoundError("No module named 'keyrings'")

    monkeypatch.setattr(keyring.core, "get_keyring", broken)
    monkeypatch.setattr("keyring.get_keyring", broken)
    result = add()
    assert result.exit_code == 1
    assert "the keyring could not be loaded" in result.stderr and "--pin-command" in result.stderr
