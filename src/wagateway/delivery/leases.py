"""Claims on the outbox: which events are due, and leasing them to this process.

Ordering: only the oldest pending event of each device is ever eligible (its "head"), so
a device's events reach the receiver in the order they happened, retries included.
Claims are leases (`claimed_by`, `claimed_until`) so several gateway processes can share
the table; a process that restarts releases its own leases at once, and a crash mid-POST
means the same event (same request_id) is sent again: receivers dedupe on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Select, func, or_, select, union_all, update
from sqlalchemy.orm import Session

from wagateway.apps.models import App
from wagateway.core.db import Database, lock_rows, unindexed
from wagateway.core.settings import Settings
from wagateway.webhooks.models import Event
from wagateway.webhooks.states import EventState

CLAIM_BATCH = 200  # devices per claim
RUN_LENGTH = 50  # events of one device leased together and delivered one after another


@dataclass(slots=True)
class Leased:
    """What delivering an event needs, read once when it is leased (no ORM instance: the
    dispatcher writes its outcome back by `seq` with Core statements)."""

    seq: int
    id: str
    app_id: str
    device_id: str | None
    event: str
    payload: dict[str, Any]
    occurred_at: datetime


LEASED_COLUMNS = (
    Event.seq,
    Event.id,
    Event.app_id,
    Event.device_id,
    Event.event,
    Event.payload,
    Event.occurred_at,
)


class Leases:
    """This process's leases on the outbox (`node_id` is the name they are held under)."""

    def __init__(self, settings: Settings, db: Database, node_id: str) -> None:
        self._settings = settings
        self._db = db
        self._node_id = node_id

    async def release_all(self) -> None:
        """Hand back every lease held under our name: a restart means nothing is under way."""
        async with self._db.transaction() as session:
            await session.execute(
                update(Event)
                .where(Event.claimed_by == self._node_id)
                .values(claimed_by=None, claimed_until=None)
            )

    async def next_due(self, now: datetime) -> datetime | None:
        """When the first device's head becomes due and unleased (`now` or earlier: it is
        due already), None when nothing is pending. Looked up from the read pool (on SQLite
        the writer is the one everything else waits for). An idle dispatcher sleeps until
        then instead of polling for a retry that is seconds or hours away."""
        async with self._db.read() as session:
            found = await session.run_sync(heads)
            if not found:
                return None
            rows = await session.execute(
                select(Event.next_attempt_at, Event.claimed_until).where(
                    Event.seq.in_(found),
                    unindexed(Event.state) == EventState.PENDING,  # look the heads up by key
                )
            )
            return min(
                (
                    max(due, leased) if leased is not None and leased >= now else due
                    for due, leased in rows
                ),
                default=None,
            )

    def until(self, now: datetime) -> datetime:
        """When a lease taken now lapses: after the longest attempt, with a margin."""
        return now + timedelta(seconds=self._settings.webhook_timeout + 30)

    def lease(self, session: Session, now: datetime) -> tuple[list[Leased], dict[str, App]]:
        """Lease, for every device whose oldest pending event is due and not leased, that
        event and up to RUN_LENGTH-1 of its successors: a run delivered one after another,
        with the apps they belong to.

        Only a device's head can be a retry (a failed event blocks the ones behind it), so
        the rest of a run is always due at once. Synchronous: one transaction at once
        (`Database.write_at_once`).
        """
        # The heads first, then which of them are due: two plain queries. As one (heads as
        # an IN subquery) PostgreSQL planned a nested loop on a young table, slow enough per
        # claim once thousands of events waited to starve delivery.
        found = heads(session)
        if not found:
            return [], {}
        due = session.execute(lock_rows(due_heads(found, now), self._db, skip_locked=True)).all()
        if not due:
            return [], {}
        # Each due device's first RUN_LENGTH pending events: one index range per device
        # (state, device_id, seq). A window function ranking every pending event of those
        # devices did the same in time proportional to the whole backlog, while holding
        # the one writer.
        runs = [run_of(device).subquery() for device in {device for _, device in due}]
        stmt = union_all(*(select(*run.c) for run in runs))
        rows = sorted((Leased(*row) for row in session.execute(stmt)), key=lambda r: r.seq)
        session.execute(
            update(Event)
            .where(Event.seq.in_([row.seq for row in rows]))
            .values(claimed_by=self._node_id, claimed_until=self.until(now))
            # Nothing of these rows is in the session: skip looking for it.
            .execution_options(synchronize_session=False)
        )
        apps = session.execute(select(App).where(App.id.in_({r.app_id for r in rows})))
        return rows, {app.id: app for app in apps.scalars()}


def _heads_query() -> CompoundSelect[Any]:
    """Each device's oldest pending event: its head, the only one that may be delivered next.

    A loose index scan: walk the devices with pending events in order through the index
    (state, device_id, seq), one probe each, then take each one's first seq with one more.
    `min(seq) ... GROUP BY device_id` read every pending event instead, on every claim and
    every outcome write, while holding the one writer. App-level events (no device) are a
    stream of their own: the last branch. A NULL in the answer means "none"."""
    pending = Event.state == EventState.PENDING
    first = select(func.min(Event.device_id)).where(pending).scalar_subquery()
    devices = select(first.label("device_id")).cte("pending_devices", recursive=True)
    following = (
        select(func.min(Event.device_id))
        .where(pending, Event.device_id > devices.c.device_id)
        .scalar_subquery()
    )
    devices = devices.union_all(select(following).where(devices.c.device_id.is_not(None)))
    head = (
        select(func.min(Event.seq))
        .where(pending, Event.device_id == devices.c.device_id)
        .scalar_subquery()
    )
    return union_all(
        select(head).where(devices.c.device_id.is_not(None)),
        select(func.min(Event.seq)).where(pending, Event.device_id.is_(None)),
    )


HEADS = _heads_query()


def heads(session: Session) -> list[int]:
    """The seq of each device's head (and of the app-level stream's)."""
    return [seq for seq in session.execute(HEADS).scalars() if seq is not None]


def run_of(device_id: str | None) -> Select[Any]:
    """A device's next run: its first RUN_LENGTH pending events (app-level events, with no
    device, are one stream of their own)."""
    device = Event.device_id.is_(None) if device_id is None else Event.device_id == device_id
    return (
        select(*LEASED_COLUMNS)
        .where(Event.state == EventState.PENDING, device)
        .order_by(Event.seq)
        .limit(RUN_LENGTH)
    )


def due_heads(heads: list[int], now: datetime) -> Select[int, str | None]:
    """Which of the heads are due and not leased, oldest first."""
    return (
        select(Event.seq, Event.device_id)
        .where(
            Event.seq.in_(heads),
            unindexed(Event.state) == EventState.PENDING,  # look the heads up by key
            Event.next_attempt_at <= now,
            or_(Event.claimed_until.is_(None), Event.claimed_until < now),
        )
        .order_by(Event.seq)
        .limit(CLAIM_BATCH)
    )
