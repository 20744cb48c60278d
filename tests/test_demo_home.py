"""The demo keeps a home of its own: its cards never mix with the user's."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from libcli.cards import CardStore
from libcli.cli import cli
from libcli.demo import demo_home
from libcli.model import Card
from libcli.sandbox.seed import DEMO_PATRONS
from tests.helpers.live_server import LiveServer


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_the_demo_adds_nothing_to_the_users_cards():
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "demo-heili" in result.stdout
    assert CardStore().cards() == []
    # A cron job on the user's own cards sees no demo loans.
    assert run("remind").exit_code == 2
    loans = run("loans")
    assert loans.exit_code == 2 and "no cards yet" in loans.output


def test_commands_after_demo_run_on_the_demo_cards_and_leave_the_environment_alone():
    before = {k: v for k, v in os.environ.items() if k.startswith("LIBCLI_")}
    result = run("demo", "loans", "--json", "--card", "demo-helmet")
    assert result.exit_code == 0, result.output
    loans = json.loads(result.stdout)["loans"]
    assert loans and {loan["card"] for loan in loans} == {"demo-helmet"}
    assert {k: v for k, v in os.environ.items() if k.startswith("LIBCLI_")} == before
    assert run("demo", "demo").exit_code == 2


def test_the_readme_local_card_works_after_the_demo(memory_keyring):
    # README: `card add local --library helmet --number … --url http://127.0.0.1:8000`
    # after `libcli demo`: the demo card of the same number lives elsewhere.
    assert run("demo").exit_code == 0
    server = LiveServer("helmet")
    try:
        patron = next(p for p in DEMO_PATRONS if p.view == "helmet")
        added = run("card", "add", "local", "--library", "helmet", "--number", patron.card,
                    "--url", server.url, "--pin-stdin", input=patron.pin + "\n")
        assert added.exit_code == 0, added.output
        loans = run("loans", "--json")
        assert loans.exit_code == 0, loans.output
        assert {loan["card"] for loan in json.loads(loans.stdout)["loans"]} == {"local"}
    finally:
        server.stop()


def test_one_number_on_two_sites_is_two_cards(memory_keyring):
    store = CardStore()
    store.add(Card("a", "helmet", "123", url="http://127.0.0.1:8000/", pin_command="echo 1"))
    store.add(Card("b", "helmet", "123", pin_command="echo 1"))
    assert [c.name for c in store.cards()] == ["a", "b"]


def test_demo_cards_left_among_the_users_cards_by_an_earlier_version_move_out(memory_keyring):
    store = CardStore()
    store.add(Card("demo-heili", "heili", DEMO_PATRONS[0].card, url="http://heili.localhost/",
                   demo=True))
    store.add(Card("mine", "heili", "555", pin_command="echo 1234"))
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert [c.name for c in CardStore().cards()] == ["mine"]
    assert "Moved the demo cards" in result.stderr


def test_remove_deletes_the_demo_home():
    assert run("demo").exit_code == 0
    assert demo_home().exists()
    removed = run("demo", "--remove")
    assert removed.exit_code == 0 and not demo_home().exists()
    assert "no demo library" in run("demo", "--remove").stderr


def test_ids_stay_put_when_a_card_is_renamed():
    assert run("demo").exit_code == 0
    before = json.loads(run("demo", "loans", "--json", "--card", "demo-heili").stdout)["loans"]
    holds = json.loads(run("demo", "holds", "--json", "--card", "demo-heili").stdout)["holds"]
    renamed = run("demo", "card", "rename", "demo-heili", "home")
    assert renamed.exit_code == 0, renamed.output
    after = json.loads(run("demo", "loans", "--json", "--card", "home").stdout)["loans"]
    assert {l["title"]: l["id"] for l in before} == {l["title"]: l["id"] for l in after}
    again = json.loads(run("demo", "holds", "--json", "--card", "home").stdout)["holds"]
    assert {h["title"]: h["id"] for h in holds} == {h["title"]: h["id"] for h in again}
    # And an ID from before the rename still renews.
    loan = next(l for l in before if l["renewable"])
    assert run("demo", "renew", loan["id"]).exit_code in (0, 3)


def test_messages_name_the_demo_commands_only_inside_the_demo(isolated):
    """Backends and the library code name commands plainly (they know nothing
    of the demo); the printers make them what the user can type."""
    from libcli.backends.shared import ANSWER_LOST
    from libcli.demo import in_demo_home, typed

    assert typed(ANSWER_LOST) == ANSWER_LOST
    with in_demo_home():
        shown = typed(ANSWER_LOST)
        assert "(libcli demo loans, libcli demo holds)" in shown
        assert typed("run libcli demo renew 3fa") == "run libcli demo renew 3fa"
        assert typed("libcli: error") == "libcli: error"
