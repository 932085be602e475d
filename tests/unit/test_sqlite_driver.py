"""The one-trip aiosqlite connection behind every SQLite engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

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
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}])
        nonlocal trips
        async with engine.connect() as conn:
            before = trips
            rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).all()
            assert trips - before == 2, "BEGIN, then the SELECT with its rows: one trip each"
            assert [r.name for r in rows] == ["a", "b"]
            inserted = await conn.execute(
                text("INSERT INTO t (name) VALUES ('c') RETURNING id, name")
            )
            assert inserted.one() == (3, "c")
            streamed = await conn.stream(text("SELECT name FROM t ORDER BY id"))
            assert [r.name async for r in streamed] == ["a", "b", "c"]
            updated = await conn.execute(text("UPDATE t SET name = 'x' WHERE id < 3"))
            assert updated.rowcount == 2
        await engine.dispose()

    asyncio.run(scenario())
