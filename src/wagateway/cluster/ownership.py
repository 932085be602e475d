"""Which node holds each device's WhatsApp session (CONTRACT §9): exactly one at a time,
fenced, taken over when its node dies.

The rules, and why they fence:
- A node acts for a device (a send, any engine call) only while it *holds* it: its owner
  row names this process, and the node's last heartbeat began less than `FENCE_FRACTION`
  of the lease ago by its own monotonic clock (`Membership.renewed_at`, taken before the
  beat was sent).
- The others count a node dead only once its last heartbeat is a whole lease old by the
  database's clock (written after the beat was sent). So a node that cannot renew stops
  acting, and stops its sessions, at least a third of the lease before anyone may take its
  devices; WhatsApp checks no token for us, so the node checks itself before each call.
- Finding a node dead is deleting its row (`expel_dead`), re-checked under the row lock its
  own beat takes: a beat that wins keeps the node alive, one that loses finds its row gone
  and knows it was expelled (it drops every session and joins as a new instance).
- Finding a node dead also ends its connections to the database (PostgreSQL; they are named
  after it, `connections_label`). A frozen process's transaction holds its row locks until
  the server ends it, and the server's idle-in-transaction timeout misses one frozen in the
  middle of a statement's messages (seen: `active`, waiting to read from its client, for
  over 30 s); the takeover would wait for it (the owner rows, the messages it was sending).
- A device is taken by compare-and-set on its owner row: only from the owner seen free (no
  row, released, or an instance without a node row, which never comes back), so two nodes
  taking at once cannot both win. `token` counts the changes of owner.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, func, or_, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wagateway.cluster.membership import Membership
from wagateway.cluster.models import ClusterNode, DeviceOwner
from wagateway.core.db import dialect_of, locks_rows, upsert_insert

log = structlog.get_logger(__name__)

# What part of the lease a node may act on after its last heartbeat began: the rest is
# the time its sessions have to stop before another node may take the devices over.
FENCE_FRACTION = 2 / 3
# An owner row no process holds: released on drain or rebalancing.
RELEASED = ""


class Ownership:
    """This node's devices, and whether it may still act for them."""

    def __init__(self, membership: Membership) -> None:
        self._membership = membership
        self._held: dict[str, int] = {}  # device id → token

    @property
    def node_id(self) -> str:
        return self._membership.node_id

    @property
    def instance(self) -> str:
        return self._membership.instance

    @property
    def valid_until(self) -> float:
        """The monotonic time after which this node may no longer act for its devices,
        unless a heartbeat renews it before."""
        renewed = self._membership.renewed_at
        if renewed is None:
            return 0.0
        return renewed + self._membership.lease_seconds * FENCE_FRACTION

    def holds(self, device_id: str) -> bool:
        return device_id in self._held and time.monotonic() < self.valid_until

    def has(self, device_id: str) -> bool:
        """Held, whether or not the hold is still valid."""
        return device_id in self._held

    def held(self) -> dict[str, int]:
        return dict(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def add(self, device_id: str, token: int) -> None:
        self._held[device_id] = token

    def drop(self, device_id: str) -> None:
        self._held.pop(device_id, None)

    # --- the owner rows -------------------------------------------------------------------

    async def owned(self, session: AsyncSession) -> dict[str, int]:
        """The devices the database says this process owns, with their tokens."""
        rows = await session.execute(
            select(DeviceOwner.device_id, DeviceOwner.token).where(
                DeviceOwner.instance == self.instance
            )
        )
        return {device_id: token for device_id, token in rows}

    async def owns_locked(self, session: AsyncSession, device_id: str) -> bool:
        """Whether the database says this process owns the device, the owner row locked
        (shared) until `session`'s transaction ends: no other node can take the device
        meanwhile, and one taking it waits for that transaction."""
        stmt = select(DeviceOwner.device_id).where(
            DeviceOwner.device_id == device_id, DeviceOwner.instance == self.instance
        )
        if locks_rows(session):
            stmt = stmt.with_for_update(read=True)
        return await session.scalar(stmt) is not None

    def _as_owner(self, now: datetime) -> dict[str, object]:
        """An owner row's columns that name this process as the owner since `now`."""
        return {"node_id": self.node_id, "instance": self.instance, "since": now}

    async def take_for_session(self, session: AsyncSession, device_id: str, now: datetime) -> int:
        """Own a device that starts a session here (a pairing window), whoever owned it: the
        caller holds the device's row and the device had no session, so no node holds one.
        Its token: the caller holds it (`add`) once this has committed."""
        insert = upsert_insert(session, DeviceOwner.__table__)  # type: ignore[arg-type]
        stmt = insert.values(device_id=device_id, token=1, **self._as_owner(now))
        stmt = stmt.on_conflict_do_update(
            index_elements=[DeviceOwner.device_id],
            set_={**self._as_owner(now), "token": DeviceOwner.token + 1},
        )
        token = await session.scalar(stmt.returning(DeviceOwner.token))
        assert token is not None
        return int(token)

    async def take_free(
        self, session: AsyncSession, seen: Iterable[tuple[str, str | None]], now: datetime
    ) -> dict[str, int]:
        """Take the devices `seen` free, each from the owner it was seen with (None: no
        row yet). Those another node took meanwhile are left out. Not yet held: the caller
        holds them once it may act for them."""
        seen = list(seen)
        fresh = [device_id for device_id, owner in seen if owner is None]
        taken: dict[str, int] = {}
        if fresh:
            insert = upsert_insert(session, DeviceOwner.__table__)  # type: ignore[arg-type]
            stmt = insert.on_conflict_do_nothing(index_elements=[DeviceOwner.device_id]).returning(
                DeviceOwner.device_id, DeviceOwner.token
            )
            # Parameters apart from the statement: one statement compiled once and cached,
            # the rows sent in batches by SQLAlchemy ("insertmanyvalues"), where a VALUES
            # list of thousands of rows would be compiled anew each time.
            owner = self._as_owner(now)
            rows = [{"device_id": d, "token": 1, **owner} for d in fresh]
            taken.update({d: t for d, t in await session.execute(stmt, rows)})
        pairs = [(device_id, owner) for device_id, owner in seen if owner is not None]
        if pairs:
            moved = (
                update(DeviceOwner)
                .where(tuple_(DeviceOwner.device_id, DeviceOwner.instance).in_(pairs))
                .values(**self._as_owner(now), token=DeviceOwner.token + 1)
                .returning(DeviceOwner.device_id, DeviceOwner.token)
                .execution_options(synchronize_session=False)
            )
            taken.update({d: t for d, t in await session.execute(moved)})
        return taken

    async def release(self, session: AsyncSession, device_ids: Iterable[str]) -> None:
        """Give devices up (their sessions here are stopped already): any node may take
        them from now on."""
        device_ids = list(device_ids)
        if not device_ids:
            return
        await session.execute(
            update(DeviceOwner)
            .where(DeviceOwner.device_id.in_(device_ids), DeviceOwner.instance == self.instance)
            .values(instance=RELEASED)
            .execution_options(synchronize_session=False)
        )


def free_owner() -> ColumnElement[bool]:
    """The condition on an owner row (outer-joined: NULL when there is none) that no live
    process holds its device."""
    live = select(ClusterNode.instance).scalar_subquery()
    return or_(
        DeviceOwner.instance.is_(None),
        DeviceOwner.instance == RELEASED,
        DeviceOwner.instance.not_in(live),
    )


def connections_label(node_id: str) -> str:
    """The `application_name` of a node's own connections to the database: another node
    that finds it dead ends them by it (`expel_dead`)."""
    return f"wagateway node {node_id}"


async def expel_dead(session: AsyncSession, now: datetime, lease_seconds: float) -> list[str]:
    """Remove the rows of nodes whose last heartbeat is over a lease old (they died, froze,
    or lost the database), and end their connections: their devices are free from now on,
    and nothing they left half done holds a row the takeover needs. The node ids removed."""
    stale = now - timedelta(seconds=lease_seconds)
    removed = await session.execute(
        delete(ClusterNode).where(ClusterNode.last_seen < stale).returning(ClusterNode.node_id)
    )
    dead = list(removed.scalars())
    if dead and dialect_of(session) == "postgresql":  # SQLite has one node
        try:
            async with session.begin_nested():  # refused, it must not undo the removal
                await session.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND application_name = ANY(:names)"
                    ),
                    {"names": [connections_label(node_id) for node_id in dead]},
                )
        except DBAPIError as exc:  # nodes connecting as roles that may not end each other's
            log.warning("dead_node_connections_not_ended", node_ids=dead, error=str(exc.orig))
    return dead


async def live_node_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ClusterNode)) or 0)
