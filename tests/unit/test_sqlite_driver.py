"""The one-trip aiosqlite connection behind every SQLite engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from wagateway.core.db import create_engine
from wagateway.core.sqlite_driver import OneTripConnection


def test_a_statement_is_one_trip_to_the_sqlite_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = 0
    real = OneTripConnection._execute

    async def counted(self: OneTripConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return await real(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(OneTripConnection, "_execute", counted)

    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
        writer = create_engine(url)
        async with writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}])
        await writer.dispose()
        nonlocal trips
        # Readers: the connection's own thread, one trip per statement.
        engine = create_engine(url, read_only=True)
        async with engine.connect() as conn:
            before = trips
            rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).all()
            assert trips - before == 2, "BEGIN, then the SELECT with its rows: one trip each"
            assert [r.name for r in rows] == ["a", "b"]
            streamed = await conn.stream(text("SELECT name FROM t ORDER BY id"))
            assert [r.name async for r in streamed] == ["a", "b"]
        await engine.dispose()
        writer = create_engine(url)
        async with writer.begin() as conn:
            inserted = await conn.execute(
                text("INSERT INTO t (name) VALUES ('c') RETURNING id, name")
            )
            assert inserted.one() == (3, "c")
            updated = await conn.execute(text("UPDATE t SET name = 'x' WHERE id < 3"))
            assert updated.rowcount == 2
        await writer.dispose()

    asyncio.run(scenario())


def test_the_writer_runs_its_transaction_without_letting_other_tasks_in(tmp_path: Path) -> None:
    """The SQLite writer's statements run inline (`InlineConnection`): between BEGIN and
    COMMIT no other task of the event loop runs, so a transaction holds SQLite's one writer
    for its own work only. Readers still go to their thread and let the loop run."""
    ticks: list[str] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append("tick")
            await asyncio.sleep(0)

    async def scenario() -> tuple[list[str], int]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"
        writer = create_engine(url)
        reader = create_engine(url, read_only=True)
        event.listen(writer.sync_engine, "commit", lambda _conn: ticks.append("commit"))
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        await asyncio.sleep(0)
        async with writer.begin() as conn:
            ticks.append("begin")
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            for n in range(20):
                await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": str(n)})
            ticks.append("statements done")
        ticks.append("committed")
        before = len(ticks)
        async with reader.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
        read_ticks = ticks[before:].count("tick")
        stop.set()
        await task
        await writer.dispose()
        await reader.dispose()
        assert count == 20
        return ticks, read_ticks

    ticks_seen, read_ticks = asyncio.run(scenario())
    inside = ticks_seen[ticks_seen.index("begin") : ticks_seen.index("commit")]
    assert "tick" not in inside, inside
    assert read_ticks > 0, "a read awaits its thread and lets other tasks run"
