"""core/db.py's dialect helpers: rows are locked on PostgreSQL only, the upsert construct
is the database's own; asked of a Database or of a session alike."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import (
    Database,
    dialect_of,
    lock_rows,
    locks_rows,
    table_of,
    upsert_insert,
)
from wagateway.sandbox.models import SandboxReceived
from wagateway.webhooks.models import Event

URLS = {
    "sqlite": "sqlite+aiosqlite:///:memory:",
    "postgresql": "postgresql+asyncpg://nobody@127.0.0.1/never_connected",
}


def _sql(db: Database, stmt: Select[int]) -> str:
    return str(stmt.compile(dialect=db.engine.dialect))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_rows_are_locked_where_the_database_locks_rows(dialect: str) -> None:
    async def scenario() -> None:
        db = Database(URLS[dialect])  # no connection is opened: nothing is executed
        try:
            session = AsyncSession(db.engine)
            assert dialect_of(db) == dialect_of(session) == dialect
            assert locks_rows(db) is locks_rows(session) is (dialect == "postgresql")
            stmt = select(Event.seq).where(Event.seq == 1)
            locked = _sql(db, lock_rows(stmt, db))
            skipping = _sql(db, lock_rows(stmt, session, skip_locked=True))
            if dialect == "postgresql":
                assert locked.endswith("FOR UPDATE")
                assert skipping.endswith("FOR UPDATE SKIP LOCKED")
            else:
                assert lock_rows(stmt, db) is stmt  # left as it is
                assert "FOR UPDATE" not in locked + skipping
            await session.close()
        finally:
            await db.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "dialect,construct", [("sqlite", sqlite.Insert), ("postgresql", postgresql.Insert)]
)
def test_the_upsert_is_the_databases_own(dialect: str, construct: type) -> None:
    async def scenario() -> None:
        db = Database(URLS[dialect])
        try:
            table = table_of(SandboxReceived)
            upsert = upsert_insert(db, table)
            assert type(upsert) is construct
            sql = str(
                upsert.on_conflict_do_update(
                    index_elements=[table.c.wa_message_id],
                    set_={"times_received": table.c.times_received + 1},
                ).compile(dialect=db.engine.dialect)
            )
            assert "ON CONFLICT (wa_message_id) DO UPDATE" in sql
        finally:
            await db.dispose()

    asyncio.run(scenario())
