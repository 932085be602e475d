"""The outbox (webhooks/outbox.py) against the real store (SQLite): recorded events are
written in the order they were recorded, before the session's next statement or at its
commit, and not at all if the transaction rolls back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.webhooks.models import Event
from wagateway.webhooks.outbox import on_commit_with_events, record_event


async def _store(tmp_path: Path) -> Database:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
    return db


def _record(session: AsyncSession, name: str) -> str:
    return record_event(
        session,
        app_id="app",
        device_id="dev",
        event=name,
        payload={"n": name},
    )


async def _events(db: Database) -> list[tuple[str, str, bool]]:
    async with db.read() as session:
        rows = await session.execute(
            select(Event.id, Event.event, Event.archived).order_by(Event.seq)
        )
        return [(row.id, row.event, row.archived) for row in rows]


def test_events_keep_their_order_and_a_statement_sees_those_recorded_before_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[str], list[tuple[str, str, bool]], int]:
        db = await _store(tmp_path)
        woken: list[int] = []
        unregister = on_commit_with_events(lambda: woken.append(1))
        async with db.transaction() as session:
            ids = [_record(session, "first"), _record(session, "second")]
            # Like deleting a device: archive its events, the ones just recorded included.
            await session.execute(
                update(Event).where(Event.device_id == "dev").values(archived=True)
            )
            ids.append(_record(session, "third"))  # after the statement: written at commit
        unregister()
        rows = await _events(db)
        await db.dispose()
        return ids, rows, len(woken)

    ids, rows, wakes = asyncio.run(scenario())
    assert rows == [(ids[0], "first", True), (ids[1], "second", True), (ids[2], "third", False)]
    assert wakes == 1


def test_a_rolled_back_transaction_writes_no_event(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, str, bool]]:
        db = await _store(tmp_path)
        try:
            async with db.transaction() as session:
                _record(session, "never")
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        async with db.transaction() as session:
            _record(session, "kept")
        rows = await _events(db)
        await db.dispose()
        return rows

    assert [event for _, event, _ in asyncio.run(scenario())] == ["kept"]
