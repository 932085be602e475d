"""The sandbox's record of live sessions (sandbox/witness.py, CONTRACT §9) against a real
PostgreSQL database, with two witnesses as two nodes: a second live session of a device
replaces the first (what a broken fence looks like, and the replaced node's session ends),
a node that dies or falls silent has its session closed without its cooperation (no
"replaced"), and on one node (SQLite) the record follows the sessions. A session never
closes, in the record, after its successor opened."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.databases import DatabaseProvider, provider_for
from tests.support.migrated import migrated_url
from wagateway.cluster.signals import listen_dsn
from wagateway.core.db import Database
from wagateway.sandbox.witness import CONNECTION_LOST, REPLACED, SessionWitness

IDLE = 0.6  # the witness connection's idle timeout: it looks every 0.2 s


@pytest.fixture
def pg_url(postgresql: DatabaseProvider, tmp_path: Path) -> Iterator[str]:
    yield migrated_url(postgresql, tmp_path)


def _witness(db: Database, node: str) -> SessionWitness:
    return SessionWitness(
        db, node, lambda: f"{node}-instance", listen_dsn(db.url), idle_timeout=IDLE
    )


async def _reasons(witness: SessionWitness, device_id: str) -> list[tuple[str, str | None]]:
    records = await witness.sessions(device_id)
    # Whatever ended a session, the record never shows it closing after its successor
    # opened (a dead session's end is found only when the next one opens).
    for before, after in itertools.pairwise(records):
        assert before.closed_at is not None and before.closed_at <= after.opened_at
    return [(r.node_id, r.close_reason) for r in records]


def test_a_second_live_session_replaces_the_first_and_ends_it_there(pg_url: str) -> None:
    async def go() -> None:
        db = Database(pg_url)
        a, b = _witness(db, "a"), _witness(db, "b")
        ended: list[str] = []

        async def on_replaced(device_id: str) -> None:
            ended.append(device_id)

        a.on_replaced = on_replaced
        try:
            await a.start()
            await b.start()
            await a.opened("dev-1")
            assert await _reasons(b, "dev-1") == [("a", None)]  # live, seen from b
            # b opens a session of dev-1 while a's is live: a fence that failed.
            await b.opened("dev-1")
            assert await _reasons(b, "dev-1") == [("a", REPLACED), ("b", None)]
            for _ in range(50):  # a learns it at its next look
                if ended:
                    break
                await asyncio.sleep(0.05)
            assert ended == ["dev-1"]
            # A clean hand-over is no replacement.
            await b.closed("dev-1", "closed")
            await a.opened("dev-1")
            assert await _reasons(a, "dev-1") == [("a", REPLACED), ("b", "closed"), ("a", None)]
        finally:
            await a.stop()
            await b.stop()
            await db.dispose()

    asyncio.run(go())


class SlowToClose(SessionWitness):
    """A node whose closes take a while to be written (a busy database)."""

    async def _write_closes(self, session: AsyncSession, key: None, closes: Any) -> None:
        await asyncio.sleep(0.5)
        await super()._write_closes(session, key, closes)


def test_a_handover_waits_for_the_closes_so_the_next_owner_replaces_nothing(
    pg_url: str,
) -> None:
    """`closed` returns at once (a fenced node stops without waiting for the database); a node
    handing devices over waits for `closes_written` before it releases them
    (devices/placement.py): without that wait, the next owner finds the session live."""

    async def go() -> None:
        # A database each, as two nodes have (one process's writes queue behind each other).
        db, b_db = Database(pg_url), Database(pg_url)
        a = _witness(db, "a")
        b = SlowToClose(b_db, "b", lambda: "b-instance", listen_dsn(db.url), idle_timeout=IDLE)
        try:
            await a.start()
            await b.start()
            for device_id in ("dev-1", "dev-2"):
                await b.opened(device_id)
            # Not waited for: a's session opens while b's close is still being written.
            await b.closed("dev-1", "closed")
            await a.opened("dev-1")
            assert await _reasons(a, "dev-1") == [("b", REPLACED), ("a", None)]
            # Waited for, as a handover does.
            await b.closed("dev-2", "closed")
            await b.closes_written(5)
            await a.opened("dev-2")
            assert await _reasons(a, "dev-2") == [("b", "closed"), ("a", None)]
        finally:
            await a.stop()
            await b.stop()
            await db.dispose()
            await b_db.dispose()

    asyncio.run(go())


def test_a_node_that_dies_or_falls_silent_loses_its_sessions_without_a_replacement(
    pg_url: str,
) -> None:
    async def go() -> None:
        db = Database(pg_url)
        a, b, c = _witness(db, "a"), _witness(db, "b"), _witness(db, "c")
        try:
            for witness in (a, b, c):
                await witness.start()
            await a.opened("dev-1")
            await c.opened("dev-2")
            # a dies: its connection goes, and with it the session.
            await a.stop()
            await b.opened("dev-1")
            assert await _reasons(b, "dev-1") == [("a", CONNECTION_LOST), ("b", None)]
            # c freezes: its connection stays open but silent; the server ends it.
            assert c._task is not None
            c._task.cancel()
            async with db.read() as session:
                assert await session.scalar(text("SHOW idle_session_timeout")) == "0"
            await asyncio.sleep(IDLE * 3)
            await b.opened("dev-2")
            assert await _reasons(b, "dev-2") == [("c", CONNECTION_LOST), ("b", None)]
        finally:
            for witness in (a, b, c):
                await witness.stop()
            await db.dispose()

    asyncio.run(go())


def test_on_one_node_the_record_follows_the_sessions(tmp_path: Path) -> None:
    provider = provider_for("sqlite")
    try:
        url = migrated_url(provider, tmp_path)

        async def go() -> None:
            db = Database(url)
            witness = SessionWitness(db)
            try:
                await witness.start()
                await witness.opened("dev-1")
                assert await _reasons(witness, "dev-1") == [("local", None)]
                await witness.closed("dev-1", "dropped")
                await witness.opened("dev-1")
                await witness.opened("dev-1")  # opened again without a close: reconnected
                assert await _reasons(witness, "dev-1") == [
                    ("local", "dropped"),
                    ("local", "reconnected"),
                    ("local", None),
                ]
            finally:
                await witness.stop()
                await db.dispose()

        asyncio.run(go())
    finally:
        provider.cleanup()
