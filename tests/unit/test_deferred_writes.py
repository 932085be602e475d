"""Deferred Core updates (core/deferred_writes.py) against the real store (SQLite): the
object shows the new values at once, the row gets them before the session's next statement
on its table or at commit, several changes of one row become one UPDATE, and a rollback
writes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from tests.support.sql import recorded_statements
from wagateway.apps.models import App
from wagateway.core.db import Database, utcnow
from wagateway.core.migrate import upgrade_to_head
from wagateway.messages.models import Message
from wagateway.messages.status_writes import change_status


async def _store_with_messages(tmp_path: Path, count: int) -> Database:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        await session.flush()
        for n in range(count):
            session.add(
                Message(
                    id=f"m{n}",
                    app_id="app",
                    device_id="dev",
                    direction="outbound",
                    status="queued",
                    type="text",
                    chat="628123@s.whatsapp.net",
                    content={"text": str(n)},
                )
            )
    return db


async def _statuses(db: Database) -> dict[str, tuple[str, int]]:
    async with db.read() as session:
        rows = await session.execute(select(Message.id, Message.status, Message.attempts))
        return {row.id: (row.status, row.attempts) for row in rows}


def test_changes_show_at_once_merge_per_row_and_are_written_before_a_query(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[str], list[str], list[tuple[str, int]], dict, list]:
        db = await _store_with_messages(tmp_path, 3)
        async with db.transaction() as session:
            messages = list(
                (await session.execute(select(Message).order_by(Message.seq))).scalars()
            )
            statements = recorded_statements(db)
            for message in messages:
                change_status(session, message, status="sending", attempts=1)
            change_status(session, messages[0], status="sent", sent_at=utcnow())
            seen_on_objects = [m.status for m in messages]
            nothing_written_yet = list(statements)
            # A query on messages sees what the session changed before it.
            queried = (
                await session.execute(
                    select(Message.status, Message.attempts).order_by(Message.seq)
                )
            ).all()
            change_status(session, messages[2], status="failed")  # written at commit
            clean = not session.dirty
        updates = [s for s in statements if s.lstrip().startswith("UPDATE messages")]
        stored = await _statuses(db)
        await db.dispose()
        return (
            seen_on_objects,
            nothing_written_yet,
            [tuple(row) for row in queried],
            stored,
            [updates, clean],
        )

    seen, before, queried, stored, (updates, clean) = asyncio.run(scenario())
    assert seen == ["sent", "sending", "sending"]
    assert before == []
    assert queried == [("sent", 1), ("sending", 1), ("sending", 1)]
    assert stored == {"m0": ("sent", 1), "m1": ("sending", 1), "m2": ("failed", 1)}
    # m0's two changes merged into one row; one statement per set of columns changed.
    assert len(updates) == 3, updates
    assert clean, "the ORM has nothing of its own to flush for changed objects"


def test_a_rolled_back_transaction_writes_no_change(tmp_path: Path) -> None:
    async def scenario() -> dict[str, tuple[str, int]]:
        db = await _store_with_messages(tmp_path, 1)
        try:
            async with db.transaction() as session:
                message = (await session.execute(select(Message))).scalar_one()
                change_status(session, message, status="sent")
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        stored = await _statuses(db)
        await db.dispose()
        return stored

    assert asyncio.run(scenario()) == {"m0": ("queued", 0)}
