"""Libraries as data: the Finna views from the packaged list, and libraries
a user adds (`libcli library add`), checked against the demo library on a
real 127.0.0.1 socket and then used end to end."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from libcli.cli import cli
from libcli.policy import consortia, view_id
from libcli.sandbox.seed import DEMO_PATRONS
from tests.helpers.live_server import LiveServer


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_finna_views_are_listed_with_unknown_rules_as_null():
    result = invoke("libraries", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    listed = data["libraries"] if isinstance(data, dict) else data
    by_id = {c["id"]: c for c in listed}
    vaski = by_id["vaski"]
    assert vaski["backend"] == "finna" and vaski["url"] == "https://vaski.finna.fi"
    assert vaski["source"] == "finna-views"
    # No seed for Vaski: nothing is invented.
    for rule in ("renewal_limit", "online_payment_minimum_cents", "due_soon_days",
                 "online_payment", "max_holds"):
        assert vaski[rule] is None, rule
    # The seeded consortia keep their seed rules.
    assert by_id["heili"]["source"] == "builtin"
    assert by_id["heili"]["online_payment_minimum_cents"] == 65
    assert by_id["heili"]["renewal_limit"] == 5
    # The list holds about seventy views, each once.
    assert sum(c["source"] == "finna-views" for c in listed) >= 60


def test_a_view_with_a_path_gets_an_id_of_its_own():
    assert view_id("tritonia.finna.fi/uva") == "tritonia-uva"
    assert view_id("vaski.finna.fi") == "vaski"
    assert view_id("finna.fi") == "finna"
    assert consortia()["tritonia-uva"].url == "https://tritonia.finna.fi/uva"
    # heili.finna.fi is in the list and in consortia.toml: the seeded entry wins.
    assert consortia()["heili"].source == "builtin"


def test_a_card_can_be_added_on_a_finna_view(memory_keyring):
    result = invoke("card", "add", "me", "--library", "vaski", "--number", "12345",
                    "--pin-stdin", "--no-check", input="1234\n")
    if result.exit_code == 2 and "no such option" in result.output.lower():
        result = invoke("card", "add", "me", "--library", "vaski", "--number", "12345",
                        "--pin-stdin", input="1234\n")
    assert result.exit_code == 0, result.output
    listed = invoke("card", "list", "--json")
    assert "vaski" in listed.output


@pytest.fixture
def helmet_site():
    server = LiveServer("helmet")
    yield server
    server.stop()


def _patron(view):
    return next(p for p in DEMO_PATRONS if p.view == view)


def test_a_user_added_finna_library_works_end_to_end(helmet_site, memory_keyring):
    result = invoke("library", "add", "mylib", "--backend", "finna", "--url", helmet_site.url,
                    "--name", "My library", "--login-target", "helmet")
    assert result.exit_code == 0, result.output
    assert "Finna" in result.output
    listed = json.loads(invoke("library", "list", "--json").output)
    assert [c["id"] for c in listed["libraries"]] == ["mylib"]
    assert listed["libraries"][0]["source"] == "user"
    patron = _patron("helmet")
    added = invoke("card", "add", "mine", "--library", "mylib", "--number", patron.card,
                   "--pin-stdin", input=patron.pin + "\n")
    assert added.exit_code == 0, added.output
    loans = invoke("loans", "--json")
    assert loans.exit_code == 0, loans.output
    data = json.loads(loans.output)
    assert data["loans"] and all(loan["card"] == "mine" for loan in data["loans"])


def test_a_site_of_another_system_is_refused_and_nothing_is_kept(helmet_site):
    # The demo's helmet face is Finna: as a WebPAC site it has no patron login.
    result = invoke("library", "add", "wrong", "--backend", "webpac", "--url", helmet_site.url)
    assert result.exit_code == 6, result.output
    assert "does not look like WebPAC" in result.output
    assert json.loads(invoke("library", "list", "--json").output) == {"libraries": []}


def test_an_address_that_does_not_answer_is_refused():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = invoke("library", "add", "gone", "--backend", "finna",
                    "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 5, result.output
    assert "gone" not in invoke("library", "list").output


@pytest.mark.parametrize("args, message", [
    (["heili", "--backend", "finna", "--url", "https://x.finna.fi"], "already a library"),
    (["Bad Id", "--backend", "finna", "--url", "https://x.finna.fi"], "not a usable library id"),
    (["x", "--backend", "finna", "--url", "http://example.org"], "plain http"),
    (["x", "--backend", "primo", "--url", "https://x.example"], "view id"),
])
def test_bad_entries_are_usage_errors(args, message):
    result = invoke("library", "add", *args, "--no-check")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_remove_refuses_while_a_card_uses_it(memory_keyring):
    assert invoke("library", "add", "x", "--backend", "finna", "--url",
                  "https://x.finna.fi", "--no-check").exit_code == 0
    assert invoke("card", "add", "c", "--library", "x", "--number", "1", "--pin-stdin",
                  *(["--no-check"] if _card_add_has_no_check() else []),
                  input="1234\n").exit_code == 0
    refused = invoke("library", "remove", "x")
    assert refused.exit_code == 2 and "card remove" in refused.output
    assert invoke("card", "remove", "c").exit_code == 0
    assert invoke("library", "remove", "x").exit_code == 0
    assert "x" not in consortia()


def _card_add_has_no_check() -> bool:
    return "--no-check" in invoke("card", "add", "--help").output


@pytest.mark.parametrize("variant, order", [("sierra51,eng,mdy", "mdy"),
                                            ("sierra53,eng,ymd", "ymd")])
def test_a_user_added_webpac_library_reads_dates_in_its_order(variant, order, memory_keyring):
    from datetime import date

    from libcli.sandbox.app import Options

    server = LiveServer("tallinn", options=Options(webpac_variant=variant))
    try:
        added = invoke("library", "add", "abroad", "--backend", "webpac", "--url", server.url,
                       "--date-order", order, "--language", "eng")
        assert added.exit_code == 0, added.output
        patron = _patron("tallinn")
        assert invoke("card", "add", "me", "--library", "abroad", "--number", patron.card,
                      "--pin-stdin", input=patron.pin + "\n").exit_code == 0
        loans = invoke("loans", "--json")
        assert loans.exit_code == 0, loans.output
        got = sorted(date.fromisoformat(l["due_date"])
                     for l in json.loads(loans.stdout)["loans"])
        want = sorted(loan.due_date for loan in server.library.loans_of(patron.card))
        assert got == want  # every date read in the site's own order
        if order != "mdy":
            return  # yy-mm-dd read as dd-mm-yy is a valid date too: nothing to catch
        # A month-first site read day-first is an error, never a silent guess.
        assert invoke("library", "add", "wrong", "--backend", "webpac", "--url", server.url,
                      "--date-order", "dmy", "--language", "eng").exit_code == 0
        assert invoke("card", "add", "--no-check", "w", "--library", "wrong", "--number",
                      patron.card, "--pin-stdin", input=patron.pin + "\n").exit_code == 0
        wrong = invoke("loans", "--card", "w")
        assert wrong.exit_code == 6, wrong.output
        assert "date" in wrong.stderr
    finally:
        server.stop()
