"""This node's place among the nodes sharing the database: it joins (after the checks),
beats, and leaves; `view` lists the live ones for `/health`'s `checks.cluster`.

A node is live while its last heartbeat is younger than `WAGW_DEVICE_LEASE_SECONDS` by the
database's clock (the nodes' own clocks may disagree); it beats every fourth of that. A node
found dead has its row removed by another (`ownership.expel_dead`): its next beat finds the
row gone, and it joins again as a new instance once it has dropped what it held
(`on_expelled`). What rides on the beat (device placement) runs after each one
(`after_beat`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.cluster.keys import RefusedToJoin
from wagateway.cluster.models import ClusterNode
from wagateway.core.db import Database, database_now

log = structlog.get_logger(__name__)


@dataclass
class NodeView:
    node_id: str
    last_seen: datetime
    devices_owned: int


class Membership:
    def __init__(
        self,
        db: Database,
        node_id: str,
        data_dir: Path,
        lease_seconds: float,
        devices_owned: Callable[[], int] = lambda: 0,
    ) -> None:
        self._db = db
        self.node_id = node_id
        self.instance = str(uuid.uuid4())
        self._host = socket.gethostname()[:255]
        self._data_dir = str(data_dir.resolve())[:1000]
        self.lease_seconds = lease_seconds
        self._devices_owned = devices_owned
        self._task: asyncio.Task[None] | None = None
        self._after_beat_task: asyncio.Task[None] | None = None
        self.displaced = False  # another process took this node id over (see `_beat`)
        # When the last heartbeat that was written began (time.monotonic()): what this node
        # may still do for its devices counts from it (`ownership.py`).
        self.renewed_at: float | None = None
        self.after_beat: Callable[[], Awaitable[None]] | None = None
        # Told each time `renewed_at` moves on (engine workers get the new deadline).
        self.on_renewed: list[Callable[[], None]] = []
        self.on_expelled: Callable[[], Awaitable[None]] | None = None

    @property
    def beat_seconds(self) -> float:
        return self.lease_seconds / 4

    async def join(self) -> None:
        """Take this node's row. A live row of another process with this node id from
        another host or data dir is a copy of this data dir: wait until it is stale (its
        process died: a restart elsewhere) or refuse once it beats again (it is alive)."""
        deadline = time.monotonic() + self.lease_seconds + self.beat_seconds
        first_seen: datetime | None = None
        while True:
            started = time.monotonic()
            async with self._db.transaction() as session:
                row = await session.get(ClusterNode, self.node_id, with_for_update=True)
                now = await database_now(session)
                other = (
                    row is not None
                    and row.instance != self.instance
                    and (row.host, row.data_dir) != (self._host, self._data_dir)
                    and row.last_seen > now - timedelta(seconds=self.lease_seconds)
                )
                if not other:
                    self._write(session, row, now, self._devices_owned(), started=True)
                else:
                    assert row is not None
                    if first_seen is not None and row.last_seen != first_seen:
                        raise RefusedToJoin(
                            f"node id {self.node_id} is in use by a live process on {row.host} "
                            f"({row.data_dir}): this data dir is a copy of another node's. Give "
                            "each node its own data dir (delete the copied node-id file to get "
                            "a new id)"
                        )
                    first_seen = row.last_seen
            if not other:
                self._renewed(started)
                log.info("cluster_joined", node_id=self.node_id, instance=self.instance)
                return
            assert row is not None
            if time.monotonic() > deadline:
                raise RefusedToJoin(
                    f"node id {self.node_id} is held by {row.host} ({row.data_dir})"
                )
            await asyncio.sleep(min(1.0, self.beat_seconds / 2))

    def _write(
        self,
        session: AsyncSession,
        row: ClusterNode | None,
        now: datetime,
        owned: int,
        *,
        started: bool,
    ) -> None:
        if row is None:
            row = ClusterNode(node_id=self.node_id, started_at=now)
            session.add(row)
        row.instance = self.instance
        row.host, row.data_dir = self._host, self._data_dir
        if started:
            row.started_at = now
        row.last_seen = now
        row.devices_owned = owned

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cluster-heartbeat")

    async def stop_beating(self) -> None:
        for task in (self._task, self._after_beat_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def stop(self) -> None:
        """Stop beating and leave: the others see this node gone at once."""
        await self.stop_beating()
        if self.displaced:
            return
        with contextlib.suppress(Exception):  # the database may be gone: the row goes stale
            async with self._db.transaction() as session:
                await session.execute(
                    delete(ClusterNode).where(
                        ClusterNode.node_id == self.node_id,
                        ClusterNode.instance == self.instance,
                    )
                )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.beat_seconds)
            try:
                # A database that stopped answering (a black-holed connection) must not
                # hold the loop forever: the next beat tries on a fresh connection.
                beaten = await asyncio.wait_for(self._beat(), self.lease_seconds)
            except Exception as exc:
                log.warning("cluster_heartbeat_failed", node_id=self.node_id, error=repr(exc))
                continue
            # What rides on the beat runs beside the beats, never in their way: a pass that
            # waits (for a row another node's open transaction holds) must not delay the
            # beat that keeps this node's hold on its devices.
            if (
                beaten
                and self.after_beat is not None
                and (self._after_beat_task is None or self._after_beat_task.done())
            ):
                self._after_beat_task = asyncio.create_task(
                    self._run_after_beat(self.after_beat), name="cluster-after-beat"
                )

    async def _run_after_beat(self, after_beat: Callable[[], Awaitable[None]]) -> None:
        try:
            await after_beat()
        except Exception:
            log.exception("cluster_after_beat_failed", node_id=self.node_id)

    async def _beat(self) -> bool:
        """Renew this node's row; False when it must not act as a node (displaced)."""
        owned = self._devices_owned()
        started = time.monotonic()
        async with self._db.transaction() as session:
            row = await session.get(ClusterNode, self.node_id, with_for_update=True)
            if row is not None and row.instance != self.instance:
                if not self.displaced:
                    log.error(
                        "cluster_node_id_taken",
                        node_id=self.node_id,
                        by_host=row.host,
                        by_data_dir=row.data_dir,
                    )
                self.displaced = True
                return False
            expelled = row is None
            if not expelled:
                self._write(session, row, await database_now(session), owned, started=False)
        if expelled:
            await self._rejoin()
            return True
        self._renewed(started)
        return True

    def _renewed(self, started: float) -> None:
        self.renewed_at = started
        for listener in self.on_renewed:
            listener()

    async def _rejoin(self) -> None:
        """This node was found dead (its row removed): whatever it held is another's now.
        It lets go of all of it first, then joins as a new instance."""
        log.error("cluster_node_expelled", node_id=self.node_id, instance=self.instance)
        self.renewed_at = None
        if self.on_expelled is not None:
            await self.on_expelled()
        self.instance = str(uuid.uuid4())
        await self.join()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and not self.displaced

    async def view(self) -> list[NodeView]:
        """The live nodes, oldest first (this one included while it beats)."""
        async with self._db.read() as session:
            since = await database_now(session) - timedelta(seconds=self.lease_seconds)
            rows = await session.scalars(
                select(ClusterNode)
                .where(ClusterNode.last_seen > since)
                .order_by(ClusterNode.started_at, ClusterNode.node_id)
            )
            return [NodeView(r.node_id, r.last_seen, r.devices_owned) for r in rows]
