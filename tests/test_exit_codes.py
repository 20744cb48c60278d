"""Every documented exit code, provoked by a test; and one card's failure
never hides the others' results."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from click.testing import CliRunner

from libcli import http
from libcli.cli import cli
from libcli.errors import ExitCode
from tests.helpers.sandbox_server import Server


@pytest.fixture(scope="module")
def helmet():
    server = Server("--view", "helmet")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def add(name, url, number, pin="1234", library="helmet"):
    result = run("card", "add", "--no-check", name, "--library", library, "--number", number,
                 "--url", url, "--pin-stdin", input=f"{pin}\n")
    assert result.exit_code == 0, result.stderr


def test_0_done(memory_keyring, helmet):
    number, pin, _ = helmet.cards[0]
    add("mine", helmet.url, number, pin)
    assert run("loans").exit_code == ExitCode.OK


def test_1_error_no_pin_available(memory_keyring, helmet):
    number, _, _ = helmet.cards[0]
    result = run("card", "add", "--no-check", "cron", "--library", "helmet", "--number", number,
                 "--url", helmet.url, "--pin-command", "exit 1")
    assert result.exit_code == 0
    result = run("loans")
    assert result.exit_code == ExitCode.ERROR
    assert "PIN command of card 'cron' failed" in result.stderr


def test_2_usage_unknown_card():
    result = run("loans", "--card", "nobody")
    assert result.exit_code == ExitCode.USAGE and "unknown card 'nobody'" in result.stderr


def test_3_partly_done(memory_keyring):
    run("demo")
    result = run("demo", "renew", "--due-within", "2", "--card", "demo-tallinn")
    assert result.exit_code == ExitCode.PARTIAL
    assert "not renewed" in result.stdout and "renewed, due" in result.stdout


def test_4_login_refused_with_the_sites_message(memory_keyring, helmet):
    number, _, _ = helmet.cards[0]
    add("mine", helmet.url, number, pin="0000")
    result = run("loans")
    assert result.exit_code == ExitCode.LOGIN_REFUSED
    assert "refused the login" in result.stderr
    assert "0000" not in result.stderr + result.stdout


def test_5_unreachable_and_the_other_cards_still_shown(memory_keyring, helmet):
    number, pin, _ = helmet.cards[0]
    add("good", helmet.url, number, pin)
    add("gone", "http://127.0.0.1:9", "42")
    result = run("loans", "--json")
    assert result.exit_code == ExitCode.UNREACHABLE
    doc = json.loads(result.stdout)
    assert {l["card"] for l in doc["loans"]} == {"good"} and doc["loans"]
    assert [e["card"] for e in doc["errors"]] == ["gone"]
    assert "card 'gone'" in result.stderr and "127.0.0.1 did not answer" in result.stderr


@respx.mock
def test_6_page_not_understood_names_the_page(memory_keyring):
    respx.get(url__startswith="https://changed.example/").mock(
        return_value=httpx.Response(200, html="<html><body><h1>We have moved!</h1></body></html>"))
    add("mine", "https://changed.example", "1234567")
    result = run("loans")
    assert result.exit_code == ExitCode.NOT_UNDERSTOOD
    assert "could not understand the checked-out items page" in result.stderr


@respx.mock
def test_5_server_errors_are_retried_then_reported(memory_keyring):
    route = respx.get(url__startswith="https://down.example/").mock(
        return_value=httpx.Response(503, text="maintenance"))
    add("mine", "https://down.example", "1234567")
    result = run("loans")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert route.call_count == 1 + http.READ_RETRIES
