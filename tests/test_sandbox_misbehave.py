"""Each of the demo library's misbehaviour switches, flipped on a running app."""

from __future__ import annotations

import time
from datetime import date

import httpx
import pytest

from libcli.sandbox.app import Options, create_app
from libcli.sandbox.circulation import Clock
from libcli.sandbox.misbehave import DroppedConnection
from libcli.sandbox.seed import build_library
from tests.sandbox_client import Browser, body_classes, flashes, html

TODAY = date(2025, 3, 10)


@pytest.fixture
def heili():
    lib = build_library("heili", Clock(TODAY))
    app = create_app("heili", library=lib, options=Options())
    b = Browser(app)
    yield b, app.state.options, lib
    b.close()


def test_latency(heili):
    b, options, lib = heili
    options.latency_ms = 150
    start = time.monotonic()
    assert b.get("/AJAX/JSON?method=keepAlive").status_code == 200
    assert time.monotonic() - start >= 0.15
    options.latency_ms = 0
    start = time.monotonic()
    b.get("/AJAX/JSON?method=keepAlive")
    assert time.monotonic() - start < 0.15


def test_error_rate_answers_500_and_changes_nothing(heili):
    b, options, lib = heili
    b.login("10000001", "1234")
    options.error_rate = 1.0
    loan = lib.loans_of("10000001")[-1]
    before = loan.due_date
    r = b.post("/MyResearch/CheckedOut", data={"renewAll": "1",
                                              "renewAllIDS[]": f"{loan.loan_id}|{loan.item_id}"})
    assert r.status_code == 500 and r.text == "Internal Server Error"
    assert loan.due_date == before
    options.error_rate = 0.0
    assert b.get("/MyResearch/CheckedOut").status_code == 200


def test_dropped_connection_surfaces_as_an_httpx_transport_error(heili):
    b, options, lib = heili
    options.drop_rate = 1.0
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        b.get("/MyResearch/UserLogin")
    assert isinstance(caught.value, DroppedConnection)
    assert isinstance(caught.value, httpx.TransportError)
    options.drop_rate = 0.0
    assert b.get("/MyResearch/UserLogin").status_code == 200


def outcomes(seed: int, n: int = 40) -> list[str]:
    lib = build_library("heili", Clock(TODAY))
    app = create_app("heili", library=lib, options=Options(error_rate=0.3, drop_rate=0.2, seed=seed))
    b = Browser(app)
    out = []
    for _ in range(n):
        try:
            out.append(str(b.get("/AJAX/JSON?method=keepAlive").status_code))
        except httpx.RemoteProtocolError:
            out.append("drop")
    b.close()
    return out


def test_faults_are_deterministic_under_a_seed():
    first = outcomes(7)
    assert first == outcomes(7)
    assert first != outcomes(8)
    assert {"200", "500", "drop"} <= set(first)


def test_session_expiry(heili):
    b, options, lib = heili
    b.login("10000001", "1234")
    assert "template-name-checkedout" in body_classes(b.get("/MyResearch/CheckedOut"))
    options.session_ttl = 0.05
    time.sleep(0.1)
    r = b.get("/MyResearch/CheckedOut")
    assert r.status_code == 200  # no redirect: expiry shows only in the content
    assert "template-name-login" in body_classes(r)
    assert html(r).css_first("form#loginForm")
    assert flashes(r, "danger") == ["Kirjaudu sisään ensin"]
    assert b.get("/AJAX/JSON?method=getUserFines").status_code == 401


def test_session_expire_all(heili):
    b, options, lib = heili
    b.login("10000001", "1234")
    from libcli.sandbox.finna_face import COOKIE

    b.app.state.ctx.sessions(COOKIE).expire_all()  # the jar still sends the old PHPSESSID
    assert "template-name-login" in body_classes(b.get("/MyResearch/CheckedOut"))


def test_refuse_csrf_once(heili):
    b, options, lib = heili
    options.refuse_csrf_once = True
    r = b.login("10000001", "1234")
    assert r.status_code == 200
    assert flashes(r, "danger") == ["Sisäänkirjautuminen epäonnistui. Yritä uudestaan hetken kuluttua."]
    assert options.refuse_csrf_once is False
    assert b.login("10000001", "1234").status_code == 302


def test_markup_variant_switch_on_a_running_app(heili):
    b, options, lib = heili
    b.login("10000001", "1234")
    assert html(b.get("/Holds/List")).css_first("tr.sr-only.myresearch-row")
    options.finna_variant = "bs5"
    doc = html(b.get("/Holds/List"))
    assert doc.css_first("tr.sr-only") is None and doc.css_first("tr.visually-hidden.myresearch-row")
