"""`libcli library check`: a report of what works, with no personal data."""

from __future__ import annotations

import asyncio
import json

import httpx
from click.testing import CliRunner

from libcli import checkup
from libcli.account import AccountService
from libcli.cli import cli
from libcli.errors import PageNotUnderstood
from libcli.model import Card
from libcli.sandbox.app import create_app
from libcli.sandbox.seed import DEMO_PATRONS


def patron(view):
    return next(p for p in DEMO_PATRONS if p.view == view)


class Rewrite:
    """The demo library behind a front that changes its pages' markup, as a
    site update would."""

    def __init__(self, app, path: str, old: bytes, new: bytes):
        self.app, self.path, self.old, self.new = app, path, old, new

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.path):
            return await self.app(scope, receive, send)

        async def rewriting(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [(k, v) for k, v in message["headers"]
                                      if k.lower() != b"content-length"]
            elif message["type"] == "http.response.body":
                message = dict(message, body=message.get("body", b"").replace(self.old, self.new))
            await send(message)

        return await self.app(scope, receive, rewriting)


def run_check(app, view):
    p = patron(view)
    card = Card("mine", view, p.card, url=f"http://{view}.localhost/")
    service = AccountService(transport=httpx.ASGITransport(app=app),
                             pin_source=lambda c: p.pin)

    async def main():
        async with service.open([card]) as run:
            return await checkup.check(run.backends[card.name])

    return asyncio.run(main()), p


def test_every_function_works_on_the_demo_library():
    app = create_app("heili")
    report, p = run_check(app, "heili")
    by = {s["function"]: s for s in report["checks"]}
    assert list(by) == ["login", "loans", "renew form", "holds", "cancel form", "fines",
                        "hold form"]
    assert all(s["ok"] is not False for s in report["checks"]), report
    assert by["loans"]["count"] > 0 and by["holds"]["count"] > 0
    assert report["library"] == "heili" and report["system"] == "finna"
    assert checkup.exit_code(report) == 0
    text = json.dumps(report, ensure_ascii=False)
    assert p.card not in text and p.pin not in text and "mine" not in text


def test_a_changed_page_is_named_with_its_missing_element_and_no_titles():
    app = create_app("heili")
    # A site update renames the holds page's template: the page is no longer
    # recognisable as the holds list.
    front = Rewrite(app, "/Holds/List", b"template-dir-holds template-name-list", b"template-dir-x template-name-y")
    report, p = run_check(front, "heili")
    by = {s["function"]: s for s in report["checks"]}
    assert by["login"]["ok"] and by["loans"]["ok"] and by["fines"]["ok"]
    assert by["holds"]["ok"] is False and by["holds"]["exit_code"] == 6
    assert by["holds"]["page"] and by["holds"]["missing"]
    assert "cancel form" not in by  # nothing to say about a page that was not read
    assert checkup.exit_code(report) == 6
    text = json.dumps(report, ensure_ascii=False)
    assert p.card not in text and p.pin not in text


def test_a_refused_login_stops_the_check_with_exit_4():
    app = create_app("heili")
    p = patron("heili")
    card = Card("mine", "heili", p.card, url="http://heili.localhost/")
    service = AccountService(transport=httpx.ASGITransport(app=app),
                             pin_source=lambda c: "0000" if p.pin != "0000" else "1111")

    async def main():
        async with service.open([card]) as run:
            return await checkup.check(run.backends[card.name])

    report = asyncio.run(main())
    assert [s["function"] for s in report["checks"]] == ["login"]
    assert report["checks"][0]["exit_code"] == 4
    assert p.card not in json.dumps(report)


def test_scrub_takes_out_quoted_titles_and_card_numbers():
    assert checkup.scrub("the renewal count of 'Puhdistus' (card 21000012345)") == \
        "the renewal count of '…' (card …)"


def test_page_not_understood_points_at_the_check():
    assert "libcli library check" in PageNotUnderstood("loans", "the table").hint


def test_the_command_on_a_demo_card(memory_keyring):
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    result = runner.invoke(cli, ["demo", "library", "check", "--card", "demo-heili", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["library"] == "heili" and len(report["checks"]) == 7
    table = runner.invoke(cli, ["demo", "library", "check", "--card", "demo-heili"])
    assert table.exit_code == 0 and "hold form" in table.output
