"""Alembic environment: runs on the async engine; configured in code (no alembic.ini)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from wagateway.core.db import create_engine
from wagateway.models import Base

# Any fixed number: every node runs migrations at start, the lock makes them take turns.
PG_MIGRATION_LOCK = 727_400_001

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a SQLite table by copy, drop and rename; with foreign keys on,
        # the drop deletes every row and ON DELETE CASCADE empties each table that refers
        # to it. The pragma is ignored inside a transaction: set it before Alembic's begins.
        # (tests/unit/test_migrations.py checks that no migration leaves a dangling row.)
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None and not connection.in_transaction()
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_async())
