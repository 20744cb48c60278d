"""The installed `libcli` command, pointed with --url at the demo library
served on a real 127.0.0.1 socket: heili and helmet over Finna, tuni over
Primo VE, tallinn over WebPAC. Each command runs as its own process, as in a script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers.installed import installed_env, libcli_command
from tests.helpers.sandbox_server import Server

pytestmark = pytest.mark.socket


@pytest.fixture
def env(isolated, tmp_path):
    return installed_env(tmp_path)


def cli(env, *args, pin=None, expect=0):
    done = subprocess.run([*libcli_command(), *args], env=env, input=pin, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == expect, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def cli_json(env, *args, expect=0):
    return json.loads(cli(env, *args, "--json", expect=expect).stdout)


def test_renewing_loans_on_three_pages_over_a_socket(env):
    """A 120-loan card (three pages of 50): one loan renewed from each page,
    each still reported with its new due date though renewing moved it."""
    server = Server("--view", "heili", "--big-loans", "120")
    try:
        number, pin, n = server.big
        assert n == 120
        cli(env, "card", "add", "big", "--library", "heili", "--number", number, "--url",
            server.url, "--pin-stdin", pin=f"{pin}\n")
        loans = cli_json(env, "loans")["loans"]
        assert len(loans) == 120 and len({l["id"] for l in loans}) == 120
        # In due-date order, as the pages list them: renewable loans from the
        # start, the middle and the end (pages 1, 2 and 3).
        renewable = [i for i, l in enumerate(loans) if l["renewable"]]
        picks = [loans[min(renewable, key=lambda i: abs(i - at))] for at in (0, 60, 119)]
        assert len({l["id"] for l in picks}) == 3
        out = cli_json(env, "renew", *[l["id"] for l in picks])
        assert [r["renewed"] for r in out["results"]] == [True] * 3, out
        due = {l["id"]: l["due_date"] for l in cli_json(env, "loans")["loans"]}
        assert all(due[r["id"]] == r["new_due_date"] for r in out["results"])
    finally:
        server.stop()


@pytest.mark.parametrize("view", ["heili", "tuni", "helmet"])
def test_finna_views_over_a_socket(env, view):
    server = Server("--view", view)
    try:
        number, pin, _ = server.cards[0]
        cli(env, "card", "add", "me", "--library", view, "--number", number, "--url", server.url,
            "--pin-stdin", pin=f"{pin}\n")
        loans = cli_json(env, "loans")["loans"]
        assert loans
        renewable = [l for l in loans if l["renewable"]]
        out = cli_json(env, "renew", renewable[0]["id"])
        assert out["results"][0]["renewed"] is True
        holds = cli_json(env, "holds")["holds"]
        waiting = next(h for h in holds if h["status"] == "waiting")
        assert cli_json(env, "hold", "cancel", waiting["id"])["results"][0]["cancelled"] is True
        record = cli_json(env, "search", "Python Crash Course", "--library", view)["results"][0]["record_id"]
        locations = cli_json(env, "hold", "pickups", record)["pickup_locations"]
        placed = cli_json(env, "hold", "place", record, "--pickup", locations[-1]["code"])
        assert placed["placed"] is True
        fees = cli_json(env, "fees")["fees"][0]
        assert fees["total_cents"] > 0
        if fees["payable_online"]:
            started = cli_json(env, "pay", "--yes", "--no-browser", "--no-wait")
            # The patron pays in a browser: here, press the provider's Pay button.
            with httpx.Client() as browser:
                page = browser.get(started["url"])
                from selectolax.lexbor import LexborHTMLParser

                form = LexborHTMLParser(page.text).css_first("form#provider-form")
                data = {i.attributes["name"]: i.attributes.get("value") or ""
                        for i in form.css("input[type=hidden]")} | {"action": "pay"}
                browser.post(server.url + form.attributes["action"], data=data)
            assert cli_json(env, "fees")["fees"][0]["total_cents"] == 0
        else:
            assert fees["reason"] in ("nonpayable_fee", "below_minimum", "email_required")
        # A second run reuses the saved session: no PIN needed any more.
        env_no_pin = dict(env, TEST_KEYRING_DIR=str(Path(env["TEST_KEYRING_DIR"]) / "empty"))
        assert cli_json(env_no_pin, "loans")["loans"]
    finally:
        server.stop()


def test_tallinn_over_webpac_on_a_socket(env):
    server = Server("--view", "tallinn")
    try:
        number, pin, _ = server.cards[0]
        cli(env, "card", "add", "tln", "--library", "tallinn", "--number", number,
            "--url", server.url, "--pin-stdin", pin=f"{pin}\n")
        loans = cli_json(env, "loans")["loans"]
        assert any(l["not_renewable_reason"] for l in loans)
        out = cli_json(env, "renew", "--all", expect=3)
        assert len(out["results"]) == len(loans)
        assert any(r["renewed"] for r in out["results"])
        holds = cli_json(env, "holds")["holds"]
        waiting = next(h for h in holds if h["status"] == "waiting")
        assert cli_json(env, "hold", "cancel", waiting["id"])["results"][0]["cancelled"] is True
        assert cli_json(env, "fees")["fees"][0]["reason"] == "no_online_payment"
        transfer = cli_json(env, "pay")["bank_transfer"]
        assert transfer["reference"] == "5226050050050224"
    finally:
        server.stop()


def test_a_warm_read_imports_only_what_it_uses(env):
    """A reused session needs no PIN, so no keyring; the demo library's web
    app is not loaded for a real library (issue 8: import only what the
    command uses; tables are drawn by tabulate, issue 16.6). The network goes
    through httpx's own transport (httpcore), which the check must see."""
    servers = [Server("--view", "helmet"), Server("--view", "tallinn")]
    try:
        for i, server in enumerate(servers):
            number, pin, view = server.cards[0]
            cli(env, "card", "add", f"c{i}", "--library", view, "--number", number,
                "--url", server.url, "--pin-stdin", pin=f"{pin}\n")
        cli(env, "loans")  # cold: logs in, saves the sessions
        code = ("import sys\nfrom libcli.cli import main\nsys.argv = ['libcli', 'loans']\n"
                "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
                "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)")
        done = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Tuntematon sotilas" in done.stdout
        loaded = set(done.stderr.split())
        assert {"httpx", "httpcore", "selectolax"} <= loaded  # the check can see what it looks for
        assert not loaded & {"keyring", "importlib_metadata", "starlette"}, loaded
    finally:
        for server in servers:
            server.stop()
