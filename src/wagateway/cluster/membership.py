"""This node's place among the nodes sharing the database: it joins (after the checks),
beats, and leaves; `view` lists the live ones for `/health`'s `checks.cluster`.

A node is live while its last heartbeat is younger than `WAGW_DEVICE_LEASE_SECONDS`; it
beats every third of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.cluster.keys import RefusedToJoin
from wagateway.cluster.models import ClusterNode
from wagateway.core.db import Database, utcnow

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
        self._lease = lease_seconds
        self._devices_owned = devices_owned
        self._task: asyncio.Task[None] | None = None
        self.displaced = False  # another process took this node id over (see `_beat`)

    @property
    def beat_seconds(self) -> float:
        return self._lease / 3

    async def join(self) -> None:
        """Take this node's row. A live row of another process with this node id from
        another host or data dir is a copy of this data dir: wait until it is stale (its
        process died: a restart elsewhere) or refuse once it beats again (it is alive)."""
        deadline = time.monotonic() + self._lease + self.beat_seconds
        first_seen: datetime | None = None
        while True:
            async with self._db.transaction() as session:
                row = await session.get(ClusterNode, self.node_id, with_for_update=True)
                now = utcnow()
                other = (
                    row is not None
                    and row.instance != self.instance
                    and (row.host, row.data_dir) != (self._host, self._data_dir)
                    and row.last_seen > now - timedelta(seconds=self._lease)
                )
                if not other:
                    self._write(session, row, now, self._devices_owned(), started=True)
                    log.info("cluster_joined", node_id=self.node_id, instance=self.instance)
                    return
                assert row is not None
                if first_seen is not None and row.last_seen != first_seen:
                    raise RefusedToJoin(
                        f"node id {self.node_id} is in use by a live process on {row.host} "
                        f"({row.data_dir}): this data dir is a copy of another node's. Give "
                        "each node its own data dir (delete the copied node-id file to get a "
                        "new id)"
                    )
                first_seen = row.last_seen
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

    async def stop(self) -> None:
        """Stop beating and leave: the others see this node gone at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
                await self._beat()
            except Exception:
                log.exception("cluster_heartbeat_failed", node_id=self.node_id)

    async def _beat(self) -> None:
        owned = self._devices_owned()
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
                return
            self._write(session, row, utcnow(), owned, started=False)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and not self.displaced

    async def view(self) -> list[NodeView]:
        """The live nodes, oldest first (this one included while it beats)."""
        since = utcnow() - timedelta(seconds=self._lease)
        async with self._db.read() as session:
            rows = await session.scalars(
                select(ClusterNode)
                .where(ClusterNode.last_seen > since)
                .order_by(ClusterNode.started_at, ClusterNode.node_id)
            )
            return [NodeView(r.node_id, r.last_seen, r.devices_owned) for r in rows]
