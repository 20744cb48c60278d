"""A small synchronous browser over the demo library's ASGI app, for the
sandbox tests: the same httpx.ASGITransport that ``libcli demo`` uses, with a
cookie jar, no redirect following and selectolax parsing."""

from __future__ import annotations

import asyncio
import re

import httpx
from selectolax.lexbor import LexborHTMLParser as HTMLParser


class Browser:
    def __init__(self, app, base_url: str = "http://heili.localhost"):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url=base_url, follow_redirects=False)
        self.last: httpx.Response | None = None

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        self.last = self.loop.run_until_complete(self.client.request(method, url, **kwargs))
        return self.last

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data=None, **kwargs) -> httpx.Response:
        return self.request("POST", url, data=data, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    def login(self, card: str, pin: str, target: str | None = None, follow: str = "/MyResearch/CheckedOut"):
        page = self.get(follow)
        doc = html(page)
        form = doc.css_first("form#loginForm")
        data = {
            "csrf": form.css_first("input[name=csrf]").attributes["value"],
            "auth_method": "MultiILS",
            "target": target or form.css_first("input[name=target]").attributes["value"],
            "username": card,
            "password": pin,
            "processLogin": "Login",
        }
        return self.post("/MyResearch/Home", data=data)


def html(response: httpx.Response) -> HTMLParser:
    return HTMLParser(response.text)


def body_classes(response: httpx.Response) -> set[str]:
    return set(html(response).css_first("body").attributes.get("class", "").split())


def alerts(response: httpx.Response, kind: str | None = None) -> list[str]:
    doc = html(response)
    sel = f"div.alert-{kind}" if kind else "div.alert"
    return [re.sub(r"\s+", " ", n.text()).strip() for n in doc.css(sel)]


def flashes(response: httpx.Response, kind: str | None = None) -> list[str]:
    doc = html(response)
    sel = "div.flash-message" + (f".alert-{kind}" if kind else "")
    return [re.sub(r"\s+", " ", n.text()).strip() for n in doc.css(sel)]
