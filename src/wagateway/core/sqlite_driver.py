"""aiosqlite, one trip per statement.

aiosqlite runs each sqlite3 call in the connection's own thread and hands the result back
through the event loop. SQLAlchemy's adapter makes four such calls per statement (open a
cursor, execute, fetch, close), and on the messaging hot path those hand-overs, not SQLite,
were most of the database time. This connection does the four in one trip: the cursor it
gives out executes and fetches together in the thread and keeps the rows, so fetching and
closing need no trip at all. Everything else (commit, rollback, close) is aiosqlite's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Outcome = tuple[Any, list[Any], int, int | None]


def _execute(conn: sqlite3.Connection, sql: str, parameters: Any) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(conn: sqlite3.Connection, sql: str, seq_of_parameters: Iterable[Any]) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, seq_of_parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """The cursor surface SQLAlchemy's aiosqlite adapter uses, over rows fetched at once."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = ()) -> OneTripCursor:
        self._take(await self._connection.run(_execute, sql, parameters))
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> OneTripCursor:
        self._take(await self._connection.run(_executemany, sql, list(seq_of_parameters)))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self._rows, self.rowcount, self.lastrowid = outcome

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = size or self.arraysize
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def run(self, fn: Callable[..., _Outcome], *args: Any) -> Awaitable[_Outcome]:
        # Resolved in the connection's thread, where the sqlite3 connection lives.
        return self._execute(lambda: fn(self._conn, *args))  # type: ignore[no-untyped-call]


class InlineConnection(OneTripConnection):
    """Statements, commits and rollbacks run at once on the calling (event loop) thread.

    For the SQLite writer only. Awaiting a trip to the connection's thread lets the event
    loop run other tasks in the middle of a write transaction, and SQLite's one writer
    stays taken all that time, several times longer than the SQL itself (benchmarks/README.md).
    Inline, a transaction holds it for its own work only. The writer never waits inside
    SQLite: every writer of the file takes `WritersLock` before BEGIN.
    """

    async def run(self, fn: Callable[..., _Outcome], *args: Any) -> _Outcome:
        return fn(self._conn, *args)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()


def async_creator(
    path: str, *, inline: bool = False, **connect_kwargs: Any
) -> Callable[[], Awaitable[OneTripConnection]]:
    """For `create_async_engine(..., async_creator=...)`: a new connection to `path`
    (`inline`: see `InlineConnection`)."""
    connection_class = InlineConnection if inline else OneTripConnection

    async def connect() -> OneTripConnection:
        connection = connection_class(
            partial(sqlite3.connect, path, check_same_thread=False, **connect_kwargs),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy does: never block interpreter exit
        await connection
        return connection

    return connect
