"""The demo library as a real server on 127.0.0.1, and the in-process demo
transport whose state survives between runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from libcli.sandbox.app import create_app
from libcli.sandbox.demo import DEMO_CARDS, demo_transport
from libcli.sandbox.seed import DEMO_PATRONS


from tests.helpers.sandbox_server import Server


@pytest.fixture
def server(request):
    servers = []

    def start(*args):
        s = Server(*args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def csrf(response: httpx.Response) -> str:
    return LexborHTMLParser(response.text).css_first("form#loginForm input[name=csrf]").attributes["value"]


@pytest.mark.socket
def test_real_server_login_over_a_socket(server, tmp_path):
    s = server("--view", "heili", "--state", str(tmp_path / "state.sqlite"))
    assert s.cards == [(p.card, p.pin, p.view) for p in DEMO_PATRONS if p.view == "heili"]
    card, pin, _ = s.cards[0]
    with httpx.Client(base_url=s.url, follow_redirects=False, timeout=10) as c:
        page = c.get("/MyResearch/CheckedOut")
        assert "template-name-login" in page.text
        r = c.post("/MyResearch/Home", data={"csrf": csrf(page), "auth_method": "MultiILS",
                                             "target": "heili", "username": card, "password": pin,
                                             "processLogin": "x"})
        assert r.status_code == 302 and r.headers["location"] == "/MyResearch/CheckedOut"
        assert "PHPSESSID" in c.cookies
        loans = c.get("/MyResearch/CheckedOut")
        assert "template-name-checkedout" in loans.text and 'id="renewals"' in loans.text
        assert c.get("/api/v1/search?lookfor=Kalevala").json()["status"] == "OK"


@pytest.mark.socket
def test_real_server_drops_connections_for_real(server):
    s = server("--view", "helmet", "--drop-rate", "1")
    with httpx.Client(base_url=s.url, timeout=10) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/MyResearch/UserLogin")


@pytest.mark.socket
def test_real_server_binds_loopback_only(server):
    s = server("--view", "heili")
    port = int(s.url.rsplit(":", 1)[1])
    # /proc/net/tcp lists listening sockets as hex "address:port", state 0A.
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]
    ours = [a for a in listening if int(a.split(":")[1], 16) == port]
    assert ours == ["0100007F:%04X" % port]


def run(coro):
    return asyncio.run(coro)


async def login_and_renew(state: Path, view: str, card: str, pin: str) -> tuple[str, str]:
    async with httpx.AsyncClient(transport=demo_transport(state), base_url=f"http://{view}.localhost",
                                 follow_redirects=False) as c:
        page = await c.get("/MyResearch/CheckedOut")
        r = await c.post("/MyResearch/Home", data={"csrf": csrf(page), "auth_method": "MultiILS",
                                                   "target": view, "username": card,
                                                   "password": pin, "processLogin": "x"})
        assert r.status_code == 302
        doc = LexborHTMLParser((await c.get("/MyResearch/CheckedOut")).text)
        value = doc.css_first("input[name='renewSelectedIDS[]']").attributes["value"]
        r = await c.post("/MyResearch/CheckedOut", data={"renewSelected": "1",
                                                        "renewSelectedIDS[]": value})
        row = LexborHTMLParser(r.text).css_first("tr.myresearch-row .alert-success")
        assert row is not None, r.text
        return value, LexborHTMLParser(r.text).css_first("div.useraccount-header h2").text()


async def renewals_left(state: Path, view: str, card: str, pin: str, value: str) -> str:
    async with httpx.AsyncClient(transport=demo_transport(state), base_url=f"http://{view}.localhost",
                                 follow_redirects=False) as c:
        page = await c.get("/MyResearch/CheckedOut")
        await c.post("/MyResearch/Home", data={"csrf": csrf(page), "auth_method": "MultiILS",
                                               "target": view, "username": card, "password": pin,
                                               "processLogin": "x"})
        doc = LexborHTMLParser((await c.get("/MyResearch/CheckedOut")).text)
        box = doc.css_first(f"input[value='{value}']")
        node = box
        while node is not None and node.tag != "tr":
            node = node.parent
        return node.css_first("div.status-column").text()


def test_demo_transport_dispatches_by_host_and_keeps_state_between_runs(tmp_path):
    state = tmp_path / "demo.sqlite"
    card = next(c for c in DEMO_CARDS if c.view == "helmet")
    assert card.url == "http://helmet.localhost" and card.name == "demo-helmet"
    value, header = run(login_and_renew(state, "helmet", card.number, card.pin))
    # A new transport (a new `libcli demo` run) reads the same file.
    status = run(renewals_left(state, "helmet", card.number, card.pin, value))
    assert re.search(r"Uusimiskertoja jäljellä: \d", status)
    loan_id = value.split("|")[0]
    app = create_app("helmet", state_file=state)
    assert app.state.library.loans[loan_id].renewals >= 1


def test_demo_transport_unknown_host(tmp_path):
    async def go():
        async with httpx.AsyncClient(transport=demo_transport(tmp_path / "s.sqlite"),
                                     base_url="http://nowhere.localhost") as c:
            return await c.get("/")

    r = run(go())
    assert r.status_code == 404 and "heili.localhost" in r.text


def test_demo_cards_cover_every_view():
    assert {c.view for c in DEMO_CARDS} == {"heili", "tuni", "helmet", "tallinn"}
    assert len({c.name for c in DEMO_CARDS}) == len(DEMO_CARDS)
