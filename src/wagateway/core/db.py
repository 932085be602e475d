"""Database plumbing: declarative base, portable column types, engine and sessions.

SQLite (default, one process) and PostgreSQL (several nodes) run the same models. SQLite
specifics are confined here: WAL, a busy timeout, and BEGIN IMMEDIATE so that a read that
later writes never dies with "database is locked" half-way through a transaction.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import Context, ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Select,
    Table,
    event,
    func,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from wagateway.core.deferred_writes import install_deferred_writes
from wagateway.core.sqlite_driver import async_creator
from wagateway.core.text import repaired_json_loads

# Sequence columns: BIGINT on PostgreSQL, but SQLite only autoincrements "INTEGER PRIMARY KEY".
SeqType = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


# Seconds: work due "now" by the database's clock is taken on the loop's next round.
MIN_IDLE_WAIT = 0.005


def idle_wait(poll_interval: float, next_due: datetime | None) -> float:
    """How long an idle loop waits for a wake-up: until `next_due` (the earliest retry or
    scheduled work it saw) when that is sooner than the poll interval. Polling stays the
    fallback for work written without a wake-up (by another process)."""
    if next_due is None:
        return poll_interval
    return min(poll_interval, max(MIN_IDLE_WAIT, (next_due - utcnow()).total_seconds()))


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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # The text SQLAlchemy's SQLite DATETIME stores ("YYYY-MM-DD HH:MM:SS.ffffff"), made
        # by datetime's C code: SQLAlchemy's processor fills a %-format from a dict per
        # value; bound datetimes are a dozen per message.
        def process(value: datetime | None) -> str | None:
            naive = self.process_bind_param(value, dialect)  # the one place of the UTC rule
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements on hot paths (no ORM work per row)."""
    return cast(Table, model.__table__)


class _Unindexed(ColumnElement[Any]):
    """See `unindexed`."""

    inherit_cache = True
    # Part of the statement cache key: two columns must never share compiled SQL.
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any]) -> None:
        if isinstance(column, QueryableAttribute):
            column = column.__clause_element__()
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _compile_unindexed(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return cast(str, compiler.process(element.column, **kw))


@compiles(_Unindexed, "sqlite")
def _compile_unindexed_sqlite(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + cast(str, compiler.process(element.column, **kw))


def unindexed(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[Any]:
    """`column`, kept from choosing the index on SQLite: there a unary `+` is a no-op that
    disqualifies the term from index use (sqlite.org/optoverview.html, "Disqualifying
    WHERE clause terms"). For `seq IN (a few keys) AND state = 'pending'` SQLite, with no
    statistics, prefers the index on `state` and scans every pending row instead of
    looking up the keys: milliseconds per query once thousands wait. PostgreSQL plans from
    statistics and gets the column unchanged."""
    return _Unindexed(column)


DEFAULT_READ_POOL_SIZE = 40


# PostgreSQL ends a session idle inside a transaction for this long (see `create_engine`).
IDLE_IN_TRANSACTION_MS = 5000


def create_engine(
    url: str,
    *,
    read_only: bool = False,
    read_pool_size: int = DEFAULT_READ_POOL_SIZE,
    application_name: str | None = None,
) -> AsyncEngine:
    # hide_parameters: a database error's message would otherwise quote the statement's
    # values (a session's CSRF token, a flash message…) into whatever logs the error.
    # json_deserializer: rows stored before lone surrogates were refused read back repaired
    # (`core/text.py`), so no listing, export or webhook of them fails to encode.
    common = {"hide_parameters": True, "json_deserializer": repaired_json_loads}
    if url.startswith("sqlite"):
        path = make_url(url).database
        # Every API request reads (its token) while others are in flight. Past the pool's
        # size SQLAlchemy opens an overflow connection and closes it on return, and on SQLite
        # each is a new thread, a new connection and its PRAGMAs: readers get a pool that
        # holds the requests in flight (benchmarks/README.md, decisions log: the read pool).
        # The writer serves one transaction at a time (Database._writer): default pool.
        pool = {"pool_size": read_pool_size, "max_overflow": read_pool_size} if read_only else {}
        if path and path != ":memory:":
            creator = async_creator(path, inline=not read_only, timeout=30)
            engine = create_async_engine(url, async_creator=creator, **common, **pool)
        else:
            engine = create_async_engine(url, connect_args={"timeout": 30}, **common)
        _configure_sqlite(engine.sync_engine, read_only=read_only)
        return engine
    # A transaction left open by a process that froze or lost its way (several nodes) would
    # hold its row locks, and with them the other nodes' takeover of its devices: the server
    # ends it after a while, long after any transaction of ours that is still working.
    settings = {
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
        "application_name": application_name or connection_label(),
    }
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"server_settings": settings},
        **common,
    )


def connection_label() -> str:
    """The `application_name` of this process's PostgreSQL connections, unless it names them
    itself (a node: `cluster/ownership.py`): `pg_stat_activity` then says which process (a
    node, its webhook worker, a command) each connection is."""
    return f"wagateway pid {os.getpid()}"


def _configure_sqlite(sync_engine: Engine, *, read_only: bool = False) -> None:
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


class WritersLock:
    """An exclusive lock shared by every process that writes one SQLite file (`flock`).

    Taken without leaving the event loop when free; otherwise the wait runs in a thread,
    and a waiter that is cancelled hands the lock back as soon as that thread gets it. The
    kernel wakes the waiting process when the holder lets go, so writers take turns instead
    of polling.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    async def acquire(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self._fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(
                lambda done: (
                    self.release() if not done.cancelled() and not done.exception() else None
                )
            )
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


_in_transaction: ContextVar[bool] = ContextVar("wagateway_in_transaction", default=False)

T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[Any]]


class Preload(NamedTuple):
    """A row a unit will `session.get` (or `get_locked`, if `locked`). The group loads the
    rows its units name with one query per class before running them, instead of one query
    each; those to be locked, with FOR UPDATE where rows are locked (`locks_rows`)."""

    entity: type[Any]
    key: Any
    locked: bool = False


# session.info: the (class, key) of the rows a group's preload read locked.
_LOCKED_BY_PRELOAD = "wagateway.locked_by_preload"
MAX_GROUP = 256


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(
        self,
        url: str,
        read_pool_size: int = DEFAULT_READ_POOL_SIZE,
        *,
        application_name: str | None = None,
    ) -> None:
        self.url = url
        # What its PostgreSQL connections are called (`connection_label`).
        self.application_name = application_name or connection_label()
        self.engine = create_engine(url, application_name=self.application_name)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        install_deferred_writes()
        # SQLite has one writer. Letting tasks race for it inside SQLite means sleeping in its
        # busy handler (up to 100 ms a try) while holding nothing useful; queueing them here
        # hands the database over the moment the previous transaction ends. The busy timeout
        # still covers other processes (the CLI).
        self._writer = asyncio.Lock() if url.startswith("sqlite") else None
        # The same for the gateway's other processes (the webhook worker, the CLI): a lock
        # file taken around every write transaction. SQLite's own busy handler only sleeps
        # and retries, so a process that commits back to back starves the others.
        path = make_url(url).database if self._writer else None
        self._writers_lock = (
            WritersLock(f"{path}-writers.lock") if path and path != ":memory:" else None
        )
        # Reads get their own pool on SQLite so they run beside the single writer.
        self._read_engine = (
            create_engine(url, read_only=True, read_pool_size=read_pool_size)
            if self._writer
            else self.engine
        )
        self._read_sessionmaker = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._pending: list[tuple[Unit, asyncio.Future[Any], Preload | None]] = []
        self._pending_ready: asyncio.Event | None = None
        self._group_task: asyncio.Task[None] | None = None

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
                # The lock file is let go right after COMMIT: returning the connection to
                # the pool awaits, and other processes need not wait for that.
                async with self._writer, self.sessionmaker() as session:
                    async with self._other_writers(), session.begin():
                        yield session
        finally:
            _in_transaction.reset(token)

    @asynccontextmanager
    async def _other_writers(self) -> AsyncIterator[None]:
        if self._writers_lock is None:
            yield
            return
        await self._writers_lock.acquire()
        try:
            yield
        finally:
            self._writers_lock.release()

    async def write_at_once(self, work: Callable[[Session], T]) -> T:
        """Run `work` (synchronous, on an ORM Session) as one write transaction that does not
        interleave with the event loop.

        In a transaction of `transaction()`, a unit that awaits anything but the database lets
        the event loop run other tasks while SQLite's one writer stays taken. `work` cannot
        await: on SQLite, whose writer runs its statements inline (`InlineConnection`), the
        transaction holds the writer for its own statements only, from BEGIN to COMMIT.
        """
        if _in_transaction.get():  # as `grouped`: the writer it waits for is held here
            raise RuntimeError("Database.write_at_once() inside a transaction: finish that first")
        async with self.transaction() as session:
            return await session.run_sync(work)

    async def ping(self) -> None:
        """Raises unless the database answers a query."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A consistent read-only snapshot that never waits for writers (SQLite WAL) and may
        be used anywhere, also while a transaction is open. Writing through it fails."""
        async with self._read_sessionmaker() as session, session.begin():
            yield session

    def submit(
        self, unit: Callable[[AsyncSession], Awaitable[T]], preload: Preload | None = None
    ) -> asyncio.Future[T]:
        """Run `unit` in a transaction shared with every other unit submitted meanwhile, and
        return its result once that transaction has committed (group commit).

        The hot paths (accepting a message, marking it sent, applying receipts) write a
        few rows each; a transaction of their own costs more than the rows. Grouping turns
        hundreds of commits a second into a few dozen, and on SQLite hands the single writer
        over once per group instead of once per unit.

        Rules for a unit: it may raise only *before* it changes anything (a domain error
        such as a 409 then fails that unit alone, and the rest of the group commits). A
        database error fails the group; each of its units is then retried in a transaction
        of its own, so one bad unit cannot take the others down with it.

        Autoflush is off inside a group: a unit that queries rows an earlier unit of the
        same group may have written must `await session.flush()` first.

        Units run in the order they were submitted (submitting is synchronous, so two
        submissions from one task keep their order). `preload` names a row the unit will
        `session.get` (see `Preload`).
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((unit, future, preload))
        if self._group_task is None or self._group_task.done():
            self._pending_ready = asyncio.Event()
            # A fresh context: the task outlives this caller and must not carry its request id.
            self._group_task = asyncio.create_task(
                self._run_groups(), name="db-group-commit", context=Context()
            )
        assert self._pending_ready is not None
        self._pending_ready.set()
        return future

    async def grouped(
        self, unit: Callable[[AsyncSession], Awaitable[T]], preload: Preload | None = None
    ) -> T:
        """`submit` and wait for the commit (never from inside a transaction: it would wait
        for a group that waits for the writer that transaction holds)."""
        if _in_transaction.get():
            raise RuntimeError("Database.grouped() inside a transaction: finish that first")
        return await self.submit(unit, preload)

    async def _run_groups(self) -> None:
        assert self._pending_ready is not None
        while True:
            await self._pending_ready.wait()
            self._pending_ready.clear()
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                await self._commit_group(group)

    async def _commit_group(
        self, group: list[tuple[Unit, asyncio.Future[Any], Preload | None]]
    ) -> None:
        live = [(unit, fut, preload) for unit, fut, preload in group if not fut.done()]
        if not live:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            async with self.transaction() as session:
                # One flush at commit: the group's inserts and updates go out as a few
                # multi-row statements instead of a flush before every unit's first query.
                # A unit that must read rows written earlier in the group flushes first.
                with session.no_autoflush:
                    await _preload(session, [p for _, _, p in live if p is not None])
                    for unit, _, _ in live:
                        try:
                            outcomes.append((True, await unit(session)))
                        except SQLAlchemyError:
                            raise
                        except Exception as exc:  # a domain refusal: this unit only
                            outcomes.append((False, exc))
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0][1], False, exc)
                return
            for unit, fut, preload in live:  # find the culprit: each on its own
                await self._commit_group([(unit, fut, preload)])
            return
        for (_, fut, _), (ok, value) in zip(live, outcomes, strict=True):
            _settle(fut, ok, value)

    async def dispose(self) -> None:
        if self._group_task is not None:
            self._group_task.cancel()
            await asyncio.gather(self._group_task, return_exceptions=True)
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
        if self._writers_lock is not None:
            self._writers_lock.close()


async def _preload(session: AsyncSession, rows: list[Preload]) -> None:
    """Load the rows a group's units will `session.get` into the session, one query per
    class (and per locked or not); a single row is left to its unit's own `get` (the same
    one query). A row any unit locks is read locked, in key order (as every reader that locks
    several rows does: no two of them wait for each other)."""
    locked_if_any: dict[tuple[type[Any], Any], bool] = {}
    for entity, key, locked in rows:
        locked_if_any[entity, key] = locked_if_any.get((entity, key), False) or locked
    keys_of: dict[tuple[type[Any], bool], list[Any]] = {}
    for (entity, key), locked in locked_if_any.items():
        keys_of.setdefault((entity, locked), []).append(key)
    for (entity, locked), keys in keys_of.items():
        if len(keys) < 2:
            continue
        primary_key = inspect(entity).primary_key[0]
        stmt = select(entity).where(primary_key.in_(keys))
        if locked:
            stmt = lock_rows(stmt.order_by(primary_key), session)
        rows_read = list((await session.execute(stmt)).scalars())
        keep_for_the_group(session, rows_read)
        if locked:
            locked_here = session.info.setdefault(_LOCKED_BY_PRELOAD, set())
            locked_here.update((entity, getattr(row, primary_key.key)) for row in rows_read)


async def get_locked(session: AsyncSession, entity: type[T], key: Any) -> T | None:
    """The row, locked until the transaction ends where rows are locked (`locks_rows`): from
    the group's preload when it read it so (`Preload(..., locked=True)`), else read FOR
    UPDATE now (`Session.get` with a lock always queries, the identity map notwithstanding)."""
    if (entity, key) in session.info.get(_LOCKED_BY_PRELOAD, ()):
        return await session.get(entity, key)
    return await session.get(entity, key, with_for_update=locks_rows(session))


def keep_for_the_group(session: AsyncSession, rows: Iterable[Any]) -> None:
    """Keep these rows in the session's identity map while its transaction lasts, for the
    `session.get`s of the group's later units: the map holds clean rows weakly, so a row no
    unit still refers to would be read again."""
    held: list[Any] = session.info.setdefault("wagateway.preloaded", [])
    held.extend(rows)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


# --- Dialect differences --------------------------------------------------------------------
# Row locks: PostgreSQL lets several transactions write at once, so one that reads rows to
# change them locks them (SELECT ... FOR UPDATE). SQLite has one writer at a time (every
# write transaction begins IMMEDIATE), which already holds everything a row lock would;
# its compiler drops FOR UPDATE. Asking `Session.get` for a lock is not free there either:
# it bypasses the identity map (and so the rows a group commit preloaded) for a SELECT.

_Statement = TypeVar("_Statement", bound="Select[*tuple[Any, ...]]")


def dialect_of(where: Database | AsyncSession | Session) -> str:
    """ "sqlite" or "postgresql": of a database, or of the one a session talks to."""
    if isinstance(where, Database):
        return where.dialect
    return where.get_bind().dialect.name


def locks_rows(where: Database | AsyncSession | Session) -> bool:
    """Whether a transaction must lock the rows it reads to change (PostgreSQL): the value
    for `Session.get(..., with_for_update=...)`."""
    return dialect_of(where) == "postgresql"


def lock_rows(
    stmt: _Statement, where: Database | AsyncSession | Session, *, skip_locked: bool = False
) -> _Statement:
    """`stmt` as SELECT ... FOR UPDATE [SKIP LOCKED] where rows are locked (PostgreSQL), as
    it is elsewhere."""
    if locks_rows(where):
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt


def upsert_insert(
    where: Database | AsyncSession | Session, table: Table
) -> sqlite_dialect.Insert | postgresql_dialect.Insert:
    """An INSERT into `table` that can take `.on_conflict_do_update(...)` (the two dialects
    each have their own construct; the statement they compile to is the same)."""
    if dialect_of(where) == "sqlite":
        return sqlite_dialect.insert(table)
    return postgresql_dialect.insert(table)


async def database_now(session: AsyncSession) -> datetime:
    """The database's clock (PostgreSQL's `now()`: the transaction's start), for times that
    several nodes compare, such as heartbeats: their own clocks may disagree. SQLite's
    database is one machine's, whose clock is this one."""
    if dialect_of(session) == "postgresql":
        now = await session.scalar(select(func.now()))
        assert isinstance(now, datetime)
        return now.astimezone(UTC)
    return utcnow()


def utc_hour_of(column: Any, dialect: str) -> ColumnElement[str]:
    """A timestamp column's UTC hour as text, 'YYYY-MM-DD HH', to group rows by hour."""
    if dialect == "postgresql":
        return func.to_char(
            func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM-DD HH24'")
        )
    return func.substr(column, 1, 13)  # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS…'
