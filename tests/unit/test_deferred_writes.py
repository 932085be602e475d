"""Deferred Core updates (core/deferred_writes.py) against the real store (SQLite): the
object shows the new values at once, the row gets them before the session's next statement
on its table or at commit, several changes of one row become one UPDATE, and a rollback
writes nothing. The listeners are installed explicitly, once, and what they cannot see (a
Core SELECT around deferred rows) is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support.sql import recorded_statements
from wagateway.apps.models import App
from wagateway.core import deferred_writes
from wagateway.core.db import Database, table_of, utcnow
from wagateway.core.deferred_writes import (
    _before_commit,
    _before_statement,
    defer_insert,
    install_deferred_writes,
)
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


def test_the_listeners_are_installed_once_however_many_databases_are_built(
    tmp_path: Path,
) -> None:
    first = Database(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    second = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    install_deferred_writes()
    session = Session()
    assert [f for f in session.dispatch.before_commit if f is _before_commit] == [_before_commit]
    assert [f for f in session.dispatch.do_orm_execute if f is _before_statement] == [
        _before_statement
    ]
    session.close()
    asyncio.run(first.dispose())
    asyncio.run(second.dispose())


def test_a_deferred_write_is_refused_until_the_listeners_are_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deferred_writes, "_installed", False)
    with Session() as session, pytest.raises(AssertionError, match="install_deferred_writes"):
        defer_insert(session, table_of(Message), {"id": "m"})
    assert deferred_writes._PENDING not in session.info


def test_a_core_select_cannot_read_a_table_around_its_deferred_rows(tmp_path: Path) -> None:
    """Deferred rows are written before the statements the listeners see coming (ORM ones,
    Core DML); a Core SELECT would read the table without them, so it is refused loudly."""

    async def scenario() -> tuple[str, dict[str, tuple[str, int]]]:
        db = await _store_with_messages(tmp_path, 1)
        messages = table_of(Message)
        try:
            async with db.transaction() as session:
                message = (await session.execute(select(Message))).scalar_one()
                change_status(session, message, status="sent")
                await session.execute(select(App.id))  # another table: allowed
                await session.execute(select(messages.c.status))
        except AssertionError as refused:
            stored = await _statuses(db)
            await db.dispose()
            return str(refused), stored
        raise AssertionError("the Core SELECT was allowed")

    refusal, stored = asyncio.run(scenario())
    assert "a Core SELECT reads messages while this session holds deferred writes" in refusal
    assert stored == {"m0": ("queued", 0)}
