"""Claims on the delivery state: which streams have events due, and leasing them to this
process.

A stream is one endpoint's place in one device's events (`webhooks.models.WebhookStream`).
Ordering: a stream's events go out one after another from its position, and a failing head
holds back only that stream, so one endpoint that is down delays no other endpoint, and one
device no other device. Claims are leases (`claimed_by`, `claimed_until`) so several
gateway processes can share the tables; a process that restarts releases its own leases at
once, and a crash mid-POST means the same event (same request_id) is sent again: receivers
dedupe on it.

Announcing: events are written without any delivery row (the hot path writes one row per
event however many endpoints there are). A claim first looks at the events written since
the last one (`seq` above the endpoints' `announced_seq`, up to the horizon) and marks the
streams of the devices they belong to active, creating the streams a device does not have
yet. Then it leases due active streams and reads each one's next run of events.

The horizon: on SQLite, one writer at a time, events become visible in `seq` order. On
PostgreSQL two transactions can commit out of `seq` order; a position moved past a `seq`
whose transaction had not committed yet would skip that event for good. So there the claim
reads only up to the first gap in `seq` (an event not visible yet), and passes a gap only
once it has stayed open `SETTLE_SECONDS` (a rolled-back transaction's numbers, or deleted
events, never fill).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from wagateway.apps.models import App
from wagateway.core.db import Database, lock_rows, locks_rows, table_of
from wagateway.core.settings import Settings
from wagateway.webhooks.endpoints import stream_events
from wagateway.webhooks.models import (
    APP_LEVEL,
    Event,
    WebhookEndpoint,
    WebhookRedelivery,
    WebhookStream,
)

CLAIM_BATCH = 200  # streams (and redeliveries) per claim
RUN_LENGTH = 50  # events of one stream leased together and delivered one after another
HORIZON_SCAN = 5000  # event numbers looked at per claim for gaps (PostgreSQL)
SETTLE_SECONDS = 2.0


@dataclass(slots=True)
class Leased:
    """What delivering an event needs, read once when it is leased."""

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


@dataclass(slots=True)
class LeasedRun:
    """Events of one stream (or one redelivery, `stream` None) leased to this process, to
    go to one endpoint in order. `attempt_count`: failed attempts of the first one so far."""

    app_id: str
    endpoint_id: str
    device_key: str | None
    events: list[Leased]
    attempt_count: int

    @property
    def is_redelivery(self) -> bool:
        return self.device_key is None

    @property
    def key(self) -> tuple[str, str, str | int]:
        """The primary key of the row it was leased from: its stream's, or its
        redelivery's."""
        if self.device_key is None:
            return (self.app_id, self.endpoint_id, self.events[0].seq)
        return (self.app_id, self.endpoint_id, self.device_key)


@dataclass
class Claimed:
    runs: list[LeasedRun] = field(default_factory=list)
    apps: dict[str, App] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], WebhookEndpoint] = field(default_factory=dict)


class Horizon:
    """The newest `seq` up to which every event is visible (see the module's docstring)."""

    def __init__(self, settle_seconds: float = SETTLE_SECONDS) -> None:
        self._settle = settle_seconds
        self._gaps: dict[int, float] = {}  # first missing seq → when it was first seen missing

    def of(self, session: Session, low: int) -> int:
        if not locks_rows(session):  # SQLite: one writer, so commit order is seq order
            return int(session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)
        seqs = session.scalars(
            select(Event.seq).where(Event.seq > low).order_by(Event.seq).limit(HORIZON_SCAN)
        ).all()
        now = time.monotonic()
        reached = low
        for seq in seqs:
            if seq != reached + 1:
                first_seen = self._gaps.setdefault(reached + 1, now)
                if now - first_seen < self._settle:
                    break
            reached = seq
        self._gaps = {gap: at for gap, at in self._gaps.items() if gap > reached}
        return reached


class Leases:
    """This process's leases on the delivery state (`node_id` is the name they are held
    under)."""

    def __init__(self, settings: Settings, db: Database, node_id: str) -> None:
        self._settings = settings
        self._db = db
        self._node_id = node_id
        self._horizon = Horizon()

    async def release_all(self) -> None:
        """Hand back every lease held under our name: a restart means nothing is under way."""
        async with self._db.transaction() as session:
            for model in (WebhookStream, WebhookRedelivery):
                await session.execute(
                    update(model)
                    .where(model.claimed_by == self._node_id)
                    .values(claimed_by=None, claimed_until=None)
                )

    async def next_due(self, now: datetime) -> datetime | None:
        """When the next work becomes due (`now` or earlier: it is due already), None when
        there is none. Looked up from the read pool (on SQLite the writer is the one
        everything else waits for). An idle dispatcher sleeps until then instead of polling
        for a retry that is seconds or hours away."""
        async with self._db.read() as session:
            return await session.run_sync(lambda s: next_due(s, now))

    def until(self, now: datetime) -> datetime:
        """When a lease taken now lapses: after the longest attempt, with a margin."""
        return now + timedelta(seconds=self._settings.webhook_timeout + 30)

    def lease(self, session: Session, now: datetime) -> Claimed:
        """Announce new events, then lease the due streams' next runs and the due
        redeliveries, with their apps and endpoints. Synchronous: one transaction at once
        (`Database.write_at_once`)."""
        horizon = self._announce(session, now)
        claimed = Claimed()
        self._lease_streams(session, now, horizon, claimed)
        self._lease_redeliveries(session, now, claimed)
        if claimed.runs:
            app_ids = {run.app_id for run in claimed.runs}
            claimed.apps = {
                app.id: app for app in session.scalars(select(App).where(App.id.in_(app_ids)))
            }
        return claimed

    # --- announcing ---------------------------------------------------------------------

    def _announce(self, session: Session, now: datetime) -> int:
        """Activate (or create) the streams of the devices with events since the endpoints
        last looked; returns the horizon runs read up to."""
        enabled = WebhookEndpoint.enabled.is_(True)
        low = session.scalar(select(func.min(WebhookEndpoint.announced_seq)).where(enabled))
        if low is None:
            # No endpoint: nothing to announce, and no stream to read either.
            return int(session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)
        horizon = self._horizon.of(session, low)
        if horizon <= low:
            return horizon
        seen = session.execute(
            select(Event.app_id, Event.device_id, func.max(Event.seq))
            .where(Event.seq > low, Event.seq <= horizon)
            .group_by(Event.app_id, Event.device_id)
        ).all()
        lagging = session.scalars(
            lock_rows(
                select(WebhookEndpoint).where(
                    enabled,
                    WebhookEndpoint.announced_seq < horizon,
                    WebhookEndpoint.app_id.in_({app_id for app_id, _, _ in seen}),
                ),
                session,
            )
        ).all()
        wanted: dict[tuple[str, str, str], int] = {}  # stream key → its position if new
        for endpoint in lagging:
            for app_id, device_id, newest in seen:
                if app_id != endpoint.app_id or newest <= endpoint.announced_seq:
                    continue
                if not endpoint.takes_device(device_id):
                    continue
                key = (app_id, endpoint.endpoint_id, device_id or APP_LEVEL)
                wanted[key] = endpoint.announced_seq
        if wanted:
            self._activate(session, wanted, now)
        session.execute(
            update(WebhookEndpoint)
            .where(enabled, WebhookEndpoint.announced_seq < horizon)
            .values(announced_seq=horizon)
            .execution_options(synchronize_session=False)
        )
        return horizon

    @staticmethod
    def _activate(session: Session, wanted: dict[tuple[str, str, str], int], now: datetime) -> None:
        keys = list(wanted)
        key = tuple_(WebhookStream.app_id, WebhookStream.endpoint_id, WebhookStream.device_key)
        existing: set[tuple[str, str, str]] = set()
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            existing.update(
                (a, e, d)
                for a, e, d in session.execute(
                    select(
                        WebhookStream.app_id, WebhookStream.endpoint_id, WebhookStream.device_key
                    ).where(key.in_(chunk))
                )
            )
            session.execute(
                update(WebhookStream)
                .where(key.in_(chunk), WebhookStream.active.is_(False))
                .values(active=True)
                .execution_options(synchronize_session=False)
            )
        new = [
            {
                "app_id": app_id,
                "endpoint_id": endpoint_id,
                "device_key": device_key,
                "position": wanted[(app_id, endpoint_id, device_key)],
                "attempt_count": 0,
                "next_attempt_at": now,
                "active": True,
            }
            for app_id, endpoint_id, device_key in keys
            if (app_id, endpoint_id, device_key) not in existing
        ]
        if new:
            session.execute(insert(table_of(WebhookStream)), new)

    # --- leasing --------------------------------------------------------------------------

    def _lease_streams(
        self, session: Session, now: datetime, horizon: int, claimed: Claimed
    ) -> None:
        due = _due(session, WebhookStream, now, WebhookStream.active.is_(True))
        if not due:
            return
        endpoints = self._endpoints(session, {(s.app_id, s.endpoint_id) for s in due})
        claimed.endpoints.update(endpoints)
        readable: list[tuple[WebhookStream, WebhookEndpoint]] = []
        for stream in due:
            endpoint = endpoints.get((stream.app_id, stream.endpoint_id))
            if (
                endpoint is None
                or not endpoint.enabled
                or not endpoint.takes_device(stream.device_key or None)
            ):
                session.delete(stream)  # its endpoint no longer takes this device's events
                continue
            readable.append((stream, endpoint))
        if not readable:
            session.flush()
            return
        runs = [
            run_of(index, stream, endpoint, horizon).subquery()
            for index, (stream, endpoint) in enumerate(readable)
        ]
        events: dict[int, list[Leased]] = {}
        for row in session.execute(union_all(*(select(*run.c) for run in runs))):
            events.setdefault(row[-1], []).append(Leased(*row[:-1]))
        until = self.until(now)
        for index, (stream, _) in enumerate(readable):
            run = sorted(events.get(index, []), key=lambda e: e.seq)
            if not run:
                stream.active = False  # nothing after its position (up to the horizon)
                continue
            stream.claimed_by, stream.claimed_until = self._node_id, until
            claimed.runs.append(
                LeasedRun(
                    stream.app_id, stream.endpoint_id, stream.device_key, run, stream.attempt_count
                )
            )
        session.flush()

    def _lease_redeliveries(self, session: Session, now: datetime, claimed: Claimed) -> None:
        due = _due(session, WebhookRedelivery, now)
        if not due:
            return
        missing = {(r.app_id, r.endpoint_id) for r in due} - set(claimed.endpoints)
        claimed.endpoints.update(self._endpoints(session, missing))
        events = {
            row.seq: Leased(*row)
            for row in session.execute(
                select(*LEASED_COLUMNS).where(Event.seq.in_({r.event_seq for r in due}))
            )
        }
        until = self.until(now)
        for redelivery in due:
            event = events.get(redelivery.event_seq)
            endpoint = claimed.endpoints.get((redelivery.app_id, redelivery.endpoint_id))
            if event is None or endpoint is None or not endpoint.enabled:
                session.delete(redelivery)  # a disabled endpoint gets nothing
                continue
            redelivery.claimed_by, redelivery.claimed_until = self._node_id, until
            claimed.runs.append(
                LeasedRun(
                    redelivery.app_id,
                    redelivery.endpoint_id,
                    None,
                    [event],
                    redelivery.attempt_count,
                )
            )
        session.flush()

    @staticmethod
    def _endpoints(
        session: Session, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], WebhookEndpoint]:
        if not keys:
            return {}
        rows = session.scalars(
            select(WebhookEndpoint).where(
                tuple_(WebhookEndpoint.app_id, WebhookEndpoint.endpoint_id).in_(list(keys))
            )
        )
        return {(e.app_id, e.endpoint_id): e for e in rows}


def run_of(
    index: int, stream: WebhookStream, endpoint: WebhookEndpoint, horizon: int
) -> Select[Any]:
    """A stream's next run: its first RUN_LENGTH events after its position, tagged `index`."""
    return (
        stream_events(endpoint, stream.device_key, stream.position, *LEASED_COLUMNS, up_to=horizon)
        .add_columns(literal(index).label("run"))
        .limit(RUN_LENGTH)
    )


def next_due(session: Session, now: datetime) -> datetime | None:
    """See `Leases.next_due`."""
    newest = session.scalar(select(func.max(Event.seq)))
    behind = session.scalar(
        select(func.min(WebhookEndpoint.announced_seq)).where(WebhookEndpoint.enabled.is_(True))
    )
    if newest is not None and behind is not None and newest > behind:
        return now  # events no endpoint has looked at yet
    candidates: list[datetime] = []
    for model, active in (
        (WebhookStream, WebhookStream.active.is_(True)),
        (WebhookRedelivery, literal(True)),
    ):
        due = session.scalar(
            select(func.min(model.next_attempt_at)).where(active, _unleased(model, now))
        )
        if due is not None:
            candidates.append(due)
        leased = session.scalar(
            select(func.min(model.claimed_until)).where(active, model.claimed_until >= now)
        )
        if leased is not None:
            candidates.append(leased)
    return min(candidates, default=None)


Claimable = type[WebhookStream] | type[WebhookRedelivery]


def _unleased(model: Claimable, now: datetime) -> ColumnElement[bool]:
    """Not leased, or its lease has lapsed."""
    return or_(model.claimed_until.is_(None), model.claimed_until < now)


def _due(session: Session, model: Claimable, now: datetime, *where: Any) -> list[Any]:
    """Up to CLAIM_BATCH rows of `model` due and not leased, soonest first, locked (skipping
    rows another claim holds)."""
    stmt = (
        select(model)
        .where(*where, model.next_attempt_at <= now, _unleased(model, now))
        .order_by(model.next_attempt_at)
        .limit(CLAIM_BATCH)
    )
    return list(session.scalars(lock_rows(stmt, session, skip_locked=True)))
