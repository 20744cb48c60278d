"""A warm run that changed nothing writes no file: no session, no snapshot
(each write is a temporary file, an fsync and a rename)."""

from __future__ import annotations

import asyncio

import httpx

from tests.finna_sandbox import demo
from libcli.account import AccountService, session_path
from libcli.snapshot import save_snapshot, snapshot_path
from libcli.model import Card


def test_a_warm_run_rewrites_neither_session_nor_snapshot(isolated):
    d = demo("helmet")
    card = Card(name="mine", library="helmet", number=d.main_card(), url="http://127.0.0.1:8000")
    service = AccountService(transport=httpx.ASGITransport(app=d.app), pin_source=lambda c: "1234")

    async def read():
        async with service.open([card]) as run:
            [result] = await run.gather(lambda b: b.loans())
            assert result.ok, result.error
            save_snapshot(card, loans=result.value)

    asyncio.run(read())
    session = session_path(card, card.url)
    snapshot = snapshot_path(card.name)
    first = (session.stat().st_mtime_ns, snapshot.stat().st_mtime_ns)
    asyncio.run(read())
    assert (session.stat().st_mtime_ns, snapshot.stat().st_mtime_ns) == first
    d.expire_sessions()
    asyncio.run(read())  # logged in again: a new session cookie is saved
    assert session.stat().st_mtime_ns != first[0]
