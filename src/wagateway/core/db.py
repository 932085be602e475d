"""Database plumbing: declarative base, portable column types, engine and sessions.

SQLite (default, one process) and PostgreSQL (several nodes) run the same models. SQLite
specifics are confined here: WAL, a busy timeout, and BEGIN IMMEDIATE so that a read that
later writes never dies with "database is locked" half-way through a transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Sequence columns: BIGINT on PostgreSQL, but SQLite only autoincrements "INTEGER PRIMARY KEY".
SeqType = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def create_engine(url: str, *, read_only: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine, read_only=read_only)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool = False) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE below is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")  # a write here is a bug: fail at once
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers take a WAL snapshot and never wait for the writer; writers go IMMEDIATE.
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_in_transaction: ContextVar[bool] = ContextVar("wagateway_in_transaction", default=False)


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Letting tasks race for it inside SQLite means sleeping in its
        # busy handler (up to 100 ms a try) while holding nothing useful; queueing them here
        # hands the database over the moment the previous transaction ends. The busy timeout
        # still covers other processes (the CLI).
        self._writer = asyncio.Lock() if url.startswith("sqlite") else None
        # Reads get their own pool on SQLite so they run beside the single writer.
        self._read_engine = create_engine(url, read_only=True) if self._writer else self.engine
        self._read_sessionmaker = async_sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success and rolled back on error.

        Transactions never nest: one inside another would deadlock on SQLite's single writer,
        so it is refused loudly everywhere.
        """
        if _in_transaction.get():
            raise RuntimeError("nested Database.transaction(): finish the outer one first")
        token = _in_transaction.set(True)
        try:
            if self._writer is None:
                async with self.sessionmaker() as session, session.begin():
                    yield session
            else:
                async with self._writer, self.sessionmaker() as session, session.begin():
                    yield session
        finally:
            _in_transaction.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A consistent read-only snapshot that never waits for writers (SQLite WAL) and may
        be used anywhere, also while a transaction is open. Writing through it fails."""
        async with self._read_sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
