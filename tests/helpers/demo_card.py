"""A card on a demo library served by LiveServer, added through the CLI."""

from click.testing import CliRunner

from libcli.cli import cli
from tests.helpers.live_server import LiveServer


def add_card(server: LiveServer, name: str = "me", number: str = "10000001",
             pin: str = "1234") -> None:
    r = CliRunner().invoke(cli, ["card", "add", "--no-check", name, "--library", server.view,
                                 "--number",
                                 number, "--url", server.url, "--pin-stdin"], input=pin + "\n")
    assert r.exit_code == 0, r.output


def served_with_card(view: str = "heili", **kw):
    """A generator for a fixture: the demo library with one card, stopped after."""
    server = LiveServer(view, **kw)
    try:
        add_card(server)
        yield server
    finally:
        server.stop()
