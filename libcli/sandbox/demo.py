"""The demo library in process, for ``libcli demo`` and tests.

``demo_transport(state_file)`` is an ``httpx.ASGITransport`` over one ASGI
app that dispatches by Host: ``http://heili.localhost/`` is the heili view,
likewise ``tuni``, ``helmet`` and ``tallinn``. All views keep their state in
that one SQLite file, so a renewal made now is still there on the next run.
Views are built on first use, so a view whose face is missing does not stop
the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from .seed import DEMO_PATRONS, VIEWS
from .store import Store


@dataclass(frozen=True)
class DemoCard:
    name: str
    view: str
    number: str
    pin: str  # public demo data, printed in the README
    url: str


def demo_url(view: str) -> str:
    return f"http://{view}.localhost"


def _cards() -> tuple[DemoCard, ...]:
    out, seen = [], {}
    for p in DEMO_PATRONS:
        seen[p.view] = seen.get(p.view, 0) + 1
        name = f"demo-{p.view}" if seen[p.view] == 1 else f"demo-{p.view}-{seen[p.view]}"
        out.append(DemoCard(name, p.view, p.card, p.pin, demo_url(p.view)))
    return tuple(out)


DEMO_CARDS: tuple[DemoCard, ...] = _cards()


class HostDispatch:
    """An ASGI app that hands each request to the view named by its Host."""

    def __init__(self, state_file: Path | None, options=None):
        self.store = Store(state_file)
        self.options = options
        self.apps: dict[str, object] = {}

    def app_for(self, view: str):
        if view not in self.apps:
            from .app import create_app

            self.apps[view] = create_app(view, options=self.options, store=self.store)
        return self.apps[view]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            return
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        view = host.split(":", 1)[0].removesuffix(".localhost")
        if view not in VIEWS:
            body = f"unknown demo library host {host!r}; use one of " + ", ".join(
                f"{v}.localhost" for v in VIEWS)
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app_for(view)(scope, receive, send)


def demo_app(state_file: Path | None, options=None) -> HostDispatch:
    return HostDispatch(state_file, options)


def demo_transport(state_file: Path | None, options=None) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=demo_app(state_file, options))


async def pay_at_provider(client: httpx.AsyncClient, url: str) -> None:
    """Press "Pay" on the simulated provider page (`url`, as the library's
    payment redirect gave it), as the patron would in a browser: the
    in-process demo has no browser to open."""
    from selectolax.lexbor import LexborHTMLParser

    page = await client.get(url)
    form = LexborHTMLParser(page.text).css_first("form#provider-form")
    if form is None:
        raise RuntimeError("the demo payment provider page has no form#provider-form")
    data = {i.attributes.get("name"): i.attributes.get("value") or ""
            for i in form.css("input[type=hidden]")}
    data["action"] = "pay"
    from urllib.parse import urljoin

    await client.post(urljoin(str(page.url), form.attributes.get("action") or url), data=data)
