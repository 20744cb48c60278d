"""A payment stopped half-way (the terminal closed, Ctrl-C while waiting,
--no-wait) is not lost: the next `pay` shows its address and until when the
library keeps it open (Finna: FinnaOnlinePaymentControllerTrait, a started
transaction blocks a new one for `transactionMaxDuration`, 15 minutes by
default), and `pay --resume` opens it again and waits for it."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from click.testing import CliRunner

from libcli import http
from libcli.cli import cli
from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.socket


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def heili(isolated, memory_keyring, monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_SECONDS", 0.0)
    server = LiveServer("heili")
    added = run("card", "add", "--no-check", "me", "--library", "heili", "--number", "10000001",
                "--url", server.url, "--pin-stdin", input="1234\n")
    assert added.exit_code == 0, added.stderr
    yield server
    server.stop()


def pay_at_provider(url: str) -> None:
    """What the patron does in the browser."""
    from libcli.sandbox.demo import pay_at_provider

    async def go():
        async with httpx.AsyncClient(follow_redirects=True) as client:
            await pay_at_provider(client, url)

    asyncio.run(go())


def test_a_stopped_payment_is_shown_with_its_address_and_can_be_resumed(heili):
    started = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    url = json.loads(started.stdout)["url"]

    again = run("pay", "--card", "me", "--yes", "--no-browser", "--no-wait")
    assert again.exit_code == 1, again.stderr
    assert url in again.stderr
    assert re.search(r"started at \d\d:\d\d is still open; the library keeps it open until about "
                     r"\d\d:\d\d", again.stderr), again.stderr
    assert "libcli pay --card me --resume" in again.stderr

    reopened = run("pay", "--card", "me", "--resume", "--no-browser", "--no-wait")
    assert reopened.exit_code == 0, reopened.stderr
    assert reopened.stdout.strip() == url

    pay_at_provider(url)
    resumed = run("pay", "--card", "me", "--resume", "--no-browser")
    assert resumed.exit_code == 0, resumed.stderr
    assert "Payment registered" in resumed.stderr
    fees = json.loads(run("fees", "--card", "me", "--json").stdout)["fees"][0]
    assert fees["total_cents"] == 0 and not fees["payment_in_progress"]


def test_resume_without_a_stopped_payment_says_so(heili):
    result = run("pay", "--card", "me", "--resume", "--no-browser")
    assert result.exit_code == 1
    assert "no payment started by libcli is open for card 'me'" in result.stderr
