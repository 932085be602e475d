"""The simulated WhatsApp's record of each device's live sessions (CONTRACT §9), kept the way
WhatsApp's servers know them: by the connection, not by what the nodes claim.

A node's sandbox records every session it opens (`sandbox_session_records`) and holds a
session-level advisory lock for it on a PostgreSQL connection of its own, which it keeps
busy; that connection is the session's "socket". The server ends it when it falls silent
(`idle_session_timeout`, a third of the lease: the node died, froze, or lost the network),
and with it the lock. So an open record counts as live only while its lock is held, and a
node that dies closes its sessions without its cooperation.

WhatsApp's rule: a device's newest session replaces any other live one. Opening a session
closes the device's older records: "replaced" when the record was live (two sessions at once:
what fencing must prevent, and what this record exists to show), "connection_lost" when its
node's connection had already gone. A node learns that a session of its own was replaced at
its next look (every ping) and ends it there (`device_disconnected`, reason "replaced").

A node whose witness connection comes back opens its sessions again (as a phone's client
reconnects), those of the devices it still holds only. On SQLite (one node) a record is
live while this process has it open.

Timeouts here are `asyncio.timeout`, never `wait_for`: on Python 3.11 `wait_for` can swallow
a cancel that lands as its call completes, and `stop` then waited for the connection's loop
forever (seen once: a test hung until its 300 s timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, utcnow
from wagateway.core.joined_writes import JoinedWrites
from wagateway.sandbox.models import SandboxSessionRecord

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

# The advisory locks' first key: "WAGW", so they never meet another application's.
LOCK_NAMESPACE = 0x57414757
REPLACED = "replaced"
CONNECTION_LOST = "connection_lost"
RECONNECT_SECONDS = 0.5
# How long stopping waits for the closes of the sessions ended last to be written.
STOP_WAIT_SECONDS = 5.0
# Rows per statement (SQLite allows 32,766 parameters to one).
STATEMENT_ROWS = 500


def _lock_key(record_id: int) -> int:
    return record_id & 0x7FFFFFFF


class SessionWitness:
    def __init__(
        self,
        db: Database,
        node_id: str = "local",
        instance: Callable[[], str] = lambda: "local",
        dsn: str | None = None,
        *,
        idle_timeout: float = 5.0,
    ) -> None:
        self._db = db
        self._node_id = node_id
        self._instance = instance
        self._dsn = dsn
        self._idle_timeout = idle_timeout
        self._open: dict[str, int] = {}  # device id → its open record
        # Records of sessions ended here whose close is still being written (`closed`).
        self._closing: set[int] = set()
        self._settling: set[asyncio.Task[None]] = set()
        self._connection: asyncpg.Connection | None = None
        self._talking = asyncio.Lock()  # one statement at a time on the connection
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._opens: JoinedWrites[None, str] = JoinedWrites(db, self._write_opens)
        self._closes: JoinedWrites[None, tuple[int, str]] = JoinedWrites(db, self._write_closes)
        # Set by the engine: end a session another replaced; whether a session may open
        # again after the connection came back (the node still holds the device).
        self.on_replaced: Callable[[str], Awaitable[None]] | None = None
        self.may_reopen: Callable[[str], bool] = lambda _: True

    async def start(self) -> None:
        """Connect (waiting a little for it: sessions opened before are recorded again once
        it is up)."""
        if self._dsn is not None:
            self._task = asyncio.create_task(self._keep_connection(), name="sandbox-witness")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self._connected.wait()

    async def stop(self) -> None:
        await self.closes_written(STOP_WAIT_SECONDS)  # a drain's are recorded as closed
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()

    # --- the engine's sessions --------------------------------------------------------------

    async def opened(self, device_id: str) -> None:
        """A session of the device went live here. Never raises: the record is the
        network's business, not the session's. Opens that arrive while one is written join
        it (a restart restores thousands at once)."""
        try:
            await self._open_record(device_id)
        except Exception as exc:
            log.warning("sandbox_session_not_recorded", device_id=device_id, error=repr(exc))

    async def closes_written(self, timeout: float) -> None:
        """Wait (at most `timeout`) until the closes of the sessions ended so far are written
        and their locks let go of: a node handing devices over waits for it, so that the next
        owner does not find them live."""
        if self._settling:
            await asyncio.wait(set(self._settling), timeout=timeout)

    async def closed(self, device_id: str, reason: str) -> None:
        """A session of the device ended here. Returns at once: the record's close is
        written, and its lock let go of, in the background (in order with this node's later
        opens), so a session ends without waiting for the database, which may be out of
        reach (a node that lost its hold must stop every session at once)."""
        record_id = self._open.pop(device_id, None)
        if record_id is None:
            return
        written = self._closes.add(None, (record_id, reason))
        self._closing.add(record_id)
        task = asyncio.create_task(self._settle_close(device_id, record_id, written))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle_close(
        self, device_id: str, record_id: int, written: asyncio.Future[None]
    ) -> None:
        try:
            await written
            await self._talk_all("pg_advisory_unlock", [record_id])
        except Exception as exc:  # the database is out of reach: the lock goes with it
            log.warning("sandbox_session_close_not_recorded", device_id=device_id, error=repr(exc))
        finally:
            self._closing.discard(record_id)

    async def _write_closes(
        self, session: AsyncSession, _: None, closes: list[tuple[int, str]]
    ) -> None:
        by_reason: dict[str, list[int]] = {}
        for record_id, reason in closes:
            by_reason.setdefault(reason, []).append(record_id)
        for reason, record_ids in by_reason.items():
            for start in range(0, len(record_ids), STATEMENT_ROWS):
                await self._close(session, record_ids[start : start + STATEMENT_ROWS], reason)

    async def _write_opens(self, session: AsyncSession, _: None, device_ids: list[str]) -> None:
        unique = list(dict.fromkeys(device_ids))
        opened: list[int] = []
        for start in range(0, len(unique), STATEMENT_ROWS):  # a statement's parameters are few
            opened += await self._write_some_opens(session, unique[start : start + STATEMENT_ROWS])
        # Their locks in one statement, before the commit shows the records: live as soon as
        # another node can see them, and the thousands of opens of a restart cost a round
        # trip per write, not one each (benchmarks/README.md, "Start-up with many devices").
        try:
            await self._lock_all(opened)
        except Exception as exc:  # a unit may not raise once it has written
            log.warning("sandbox_session_locks_not_taken", count=len(opened), error=repr(exc))

    async def _write_some_opens(self, session: AsyncSession, device_ids: list[str]) -> list[int]:
        """Record the sessions, and settle each device's older open records: `replaced`
        when live, `connection_lost` when their node's connection had gone. The new
        records' ids."""
        previous = [self._open[d] for d in device_ids if d in self._open]
        if previous:
            await self._close(session, previous, "reconnected")
        now = utcnow()
        inserted = await session.execute(
            insert(SandboxSessionRecord)
            .values(
                [
                    {
                        "device_id": d,
                        "node_id": self._node_id,
                        "instance": self._instance(),
                        "opened_at": now,
                    }
                    for d in device_ids
                ]
            )
            .returning(SandboxSessionRecord.id, SandboxSessionRecord.device_id)
        )
        new_ids = {device_id: record_id for record_id, device_id in inserted}
        older = list(
            await session.scalars(
                select(SandboxSessionRecord).where(
                    SandboxSessionRecord.device_id.in_(device_ids),
                    SandboxSessionRecord.closed_at.is_(None),
                    SandboxSessionRecord.id.not_in(list(new_ids.values())),
                )
            )
        )
        self._open.update(new_ids)
        older = [row for row in older if row.id < new_ids[row.device_id]]
        try:
            live = await self._live(older)
        except ConnectionError:
            return list(new_ids.values())  # settled by the next open, or a read of the record
        replaced = [row for row in older if row.id in live]
        for row in replaced:
            log.warning(
                "sandbox_session_replaced",
                device_id=row.device_id,
                replaced_node=row.node_id,
                by_node=self._node_id,
            )
        # Ended no later than the new session opened (a dead one's end is only found now):
        # the record never shows a session closing after its successor opened.
        await self._close(session, [row.id for row in replaced], REPLACED, at=now)
        dead = [row.id for row in older if row.id not in live]
        await self._close(session, dead, CONNECTION_LOST, at=now)
        return list(new_ids.values())

    async def _open_record(self, device_id: str) -> None:
        await self._opens.add(None, device_id)  # recorded, its lock taken (`_write_opens`)

    async def _lock_all(self, record_ids: list[int]) -> None:
        await self._talk_all("pg_advisory_lock", record_ids)

    async def sessions(self, device_id: str) -> list[SandboxSessionRecord]:
        """The device's sessions, oldest first; an open one whose lock is gone is closed
        now (`connection_lost`)."""
        async with self._db.transaction() as session:
            rows = list(
                await session.scalars(
                    select(SandboxSessionRecord)
                    .where(SandboxSessionRecord.device_id == device_id)
                    .order_by(SandboxSessionRecord.id)
                )
            )
            still_open = [row for row in rows if row.closed_at is None]
            try:
                live = await self._live(still_open)
            except ConnectionError:
                return rows  # liveness unknown for now: shown open
            opened_next = {before.id: after.opened_at for before, after in itertools.pairwise(rows)}
            for row in still_open:
                if row.id not in live:
                    # Found dead only now: it ended no later than the next session opened.
                    row.closed_at = opened_next.get(row.id) or utcnow()
                    row.close_reason = CONNECTION_LOST
            return rows

    async def _live(self, rows: list[SandboxSessionRecord]) -> set[int]:
        """Which of these open records are live. Ours: while we have them open. Another
        node's (PostgreSQL): while its lock is held, which a try of the lock tells (taken:
        nobody held it; let go of at once)."""
        mine = set(self._open.values()) | self._closing  # a closing one: its write is due
        live = {row.id for row in rows if row.instance == self._instance() and row.id in mine}
        if self._dsn is None:
            return live
        for row in rows:
            if row.id in live or row.instance == self._instance():
                continue
            if not await self._try_lock(_lock_key(row.id)):
                live.add(row.id)
        return live

    async def _try_lock(self, key: int) -> bool:
        async with self._talking:
            if self._connection is None:
                raise ConnectionError("the witness connection is down: liveness unknown")
            async with asyncio.timeout(5):
                taken = await self._connection.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", LOCK_NAMESPACE, key
                )
            if taken:
                async with asyncio.timeout(5):
                    await self._connection.execute(
                        "SELECT pg_advisory_unlock($1, $2)", LOCK_NAMESPACE, key
                    )
            return bool(taken)

    @staticmethod
    async def _close(
        session: AsyncSession, record_ids: list[int], reason: str, at: datetime | None = None
    ) -> None:
        """Close these records, at `at` (default: now)."""
        if not record_ids:
            return
        await session.execute(
            update(SandboxSessionRecord)
            .where(
                SandboxSessionRecord.id.in_(record_ids), SandboxSessionRecord.closed_at.is_(None)
            )
            .values(closed_at=at or utcnow(), close_reason=reason)
        )

    # --- the connection that is the sessions' socket ----------------------------------------

    async def _talk_all(self, function: str, record_ids: list[int]) -> None:
        """`function` (an advisory lock function) on every record's key, in one statement."""
        if self._dsn is None or not record_ids:
            return
        async with self._talking:
            if self._connection is None:
                return  # the locks are taken again when it comes back
            async with asyncio.timeout(5):
                await self._connection.execute(
                    f"SELECT {function}($1, k) FROM unnest($2::int[]) AS k",
                    LOCK_NAMESPACE,
                    [_lock_key(r) for r in record_ids],
                )

    async def _keep_connection(self) -> None:
        import asyncpg  # here: only PostgreSQL needs it, and SQLite nodes start sooner

        assert self._dsn is not None
        while True:
            try:
                async with asyncio.timeout(10):
                    connection = await asyncpg.connect(
                        self._dsn,
                        server_settings={
                            "idle_session_timeout": str(int(self._idle_timeout * 1000)),
                            "application_name": self._db.application_name,
                        },
                    )
                async with self._talking:
                    self._connection = connection
                await self._reopen_all()
                self._connected.set()
                while True:
                    await asyncio.sleep(self._idle_timeout / 3)
                    await self._look()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sandbox_witness_connection_lost", error=repr(exc))
            await self._disconnect()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _disconnect(self) -> None:
        async with self._talking:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def _reopen_all(self) -> None:
        """The connection is new: the sessions open here lost their locks with the old one.
        Those of devices this node still holds open again (a reconnect); the others end."""
        held = [d for d in self._open if self.may_reopen(d)]
        for device_id in [d for d in self._open if d not in held]:
            await self.closed(device_id, CONNECTION_LOST)
        await asyncio.gather(*(self._open_record(device_id) for device_id in held))

    async def _look(self) -> None:
        """Keep the connection busy, and learn which sessions of ours others replaced."""
        mine = {record_id: device_id for device_id, record_id in self._open.items()}
        async with self._talking:
            assert self._connection is not None
            async with asyncio.timeout(5):
                rows = await self._connection.fetch(
                    "SELECT id, close_reason FROM sandbox_session_records"
                    " WHERE id = ANY($1::bigint[]) AND closed_at IS NOT NULL",
                    list(mine),
                )
        for row in rows:
            device_id = mine[row["id"]]
            if self._open.get(device_id) != row["id"]:
                continue  # closed or opened again here meanwhile
            if row["close_reason"] != REPLACED:
                # Seen without its lock (opened while the connection was down): open it
                # again, as a reconnecting client would.
                if self.may_reopen(device_id):
                    await self._open_record(device_id)
                continue
            del self._open[device_id]
            if self.on_replaced is not None:
                await self.on_replaced(device_id)
