"""The delivery log and redelivery, scoped to one app.

An event's delivery state is not stored with it: on each endpoint it follows from where the
endpoint's stream of that device stands (`webhooks/models.py`), the events it gave up on,
the redeliveries waiting, and the attempts in the log. `deliveries_of` works it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.audit import service as audit
from wagateway.audit.service import Actor
from wagateway.core.db import Database, table_of, utcnow
from wagateway.core.deferred_writes import write_deferred
from wagateway.core.errors import not_found, validation_error
from wagateway.core.opaque import opaque, unwrapped
from wagateway.core.timefmt import rfc3339
from wagateway.webhooks import endpoints
from wagateway.webhooks.event_names import TEST_EVENT
from wagateway.webhooks.models import (
    APP_LEVEL,
    Event,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookFailure,
    WebhookRedelivery,
    WebhookStream,
)
from wagateway.webhooks.outbox import mark_events_written, record_event
from wagateway.webhooks.states import EventState

STATES = tuple(EventState)
MAX_PAGE = 200


def encode_cursor(seq: int) -> str:
    return opaque(f"seq:{seq}")


# Sequence numbers are BIGINT: a cursor past them is none this API returned, and asked of
# the database it overflows (OverflowError on SQLite, DataError on PostgreSQL) into a 500.
_MAX_SEQ = 2**63 - 1
_MAX_CURSOR_CHARS = 64  # "seq:" and 19 digits, in base64


def decode_cursor(cursor: str) -> int:
    """The `seq` a page cursor stands for (the listings of deliveries, messages, and the
    dashboard's), or 400 `validation_error` on `cursor` for anything this API did not hand out."""
    try:
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise ValueError
        raw = unwrapped(cursor)
        prefix, _, value = raw.partition(":")
        if prefix != "seq" or not value.isascii() or not value.isdigit():
            raise ValueError
        seq = int(value)
        if not 0 < seq <= _MAX_SEQ:
            raise ValueError
        return seq
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error("cursor is not one this API returned", "cursor") from exc


@dataclass
class EndpointDelivery:
    """What became of an event on one endpoint."""

    endpoint_id: str
    state: str
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass
class Delivery:
    """An event with its delivery state: on each endpoint it is for (`endpoints`), and
    summed up (`state`: pending while any endpoint still has it to send, else failed when
    any gave up on it, else delivered; skipped when no endpoint was for it)."""

    event: Event
    endpoints: list[EndpointDelivery]
    attempts: list[WebhookAttempt]

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def id(self) -> str:
        return self.event.id

    @property
    def name(self) -> str:
        return self.event.event

    @property
    def device_id(self) -> str | None:
        return self.event.device_id

    @property
    def payload(self) -> dict[str, Any]:
        return self.event.payload

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at

    @property
    def archived(self) -> bool:
        return self.event.archived

    @property
    def state(self) -> str:
        states = {e.state for e in self.endpoints}
        for state in (EventState.PENDING, EventState.FAILED, EventState.DELIVERED):
            if state in states:
                return state
        return EventState.SKIPPED

    @property
    def attempt_count(self) -> int:
        return sum(e.attempt_count for e in self.endpoints)

    @property
    def last_status_code(self) -> int | None:
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def last_error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None

    @property
    def next_attempt_at(self) -> datetime | None:
        return min((e.next_attempt_at for e in self.endpoints if e.next_attempt_at), default=None)

    @property
    def delivered_at(self) -> datetime | None:
        return max((e.delivered_at for e in self.endpoints if e.delivered_at), default=None)


@dataclass
class DeliveryPage:
    events: list[Delivery]
    next_cursor: str | None


SCAN_CHUNK = 200


async def list_deliveries(
    session: AsyncSession,
    app_id: str,
    *,
    device_id: str | None = None,
    event: str | None = None,
    state: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    cursor: str | None = None,
    endpoint_id: str | None = None,
) -> DeliveryPage:
    """Events, newest first, with their delivery state; with `endpoint_id`, the events that
    endpoint has had to deliver (its delivery log), with its state of each."""
    if state is not None and state not in STATES:
        raise validation_error(f"state must be one of {', '.join(STATES)}", "state")
    if not 1 <= limit <= MAX_PAGE:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}", "limit")
    if endpoint_id is not None:
        await _endpoint(session, app_id, endpoint_id)
    stmt = select(Event).where(Event.app_id == app_id).order_by(Event.seq.desc())
    if device_id:
        stmt = stmt.where(Event.device_id == device_id)
    if event:
        stmt = stmt.where(Event.event == event)
    if not include_archived:
        stmt = stmt.where(Event.archived.is_(False))
    before = decode_cursor(cursor) if cursor else None
    found: list[Delivery] = []
    # The state is worked out, not stored: with a state or an endpoint to match, the events
    # are read in chunks and filtered here until the page is full.
    while len(found) <= limit:
        chunk = stmt if before is None else stmt.where(Event.seq < before)
        rows = list((await session.execute(chunk.limit(SCAN_CHUNK))).scalars())
        for delivery in await deliveries_of(session, app_id, rows, endpoint_id):
            if endpoint_id is not None and not delivery.endpoints:
                continue
            if state is None or delivery.state == state:
                found.append(delivery)
        if len(rows) < SCAN_CHUNK:
            break
        before = rows[-1].seq
    next_cursor = encode_cursor(found[limit - 1].seq) if len(found) > limit else None
    return DeliveryPage(events=found[:limit], next_cursor=next_cursor)


async def _endpoint(session: AsyncSession, app_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await endpoints.endpoint_of(session, app_id, endpoint_id)
    if endpoint is None:
        raise not_found("endpoint")
    return endpoint


async def deliveries_of(
    session: AsyncSession, app_id: str, events: list[Event], endpoint_id: str | None = None
) -> list[Delivery]:
    """Each event with its state on each endpoint (or on `endpoint_id` only)."""
    if not events:
        return []
    seqs = [e.seq for e in events]
    known = await endpoints.endpoints_of(session, app_id)
    if endpoint_id is not None:
        known = [e for e in known if e.endpoint_id == endpoint_id]
    streams = {
        (s.endpoint_id, s.device_key): s
        for s in await session.scalars(
            select(WebhookStream).where(
                WebhookStream.app_id == app_id,
                WebhookStream.endpoint_id.in_([e.endpoint_id for e in known]),
                WebhookStream.device_key.in_({e.device_id or APP_LEVEL for e in events}),
            )
        )
    }
    failures = {
        (f.endpoint_id, f.event_seq)
        for f in await session.scalars(
            select(WebhookFailure).where(
                WebhookFailure.app_id == app_id, WebhookFailure.event_seq.in_(seqs)
            )
        )
    }
    redeliveries = {
        (r.endpoint_id, r.event_seq): r
        for r in await session.scalars(
            select(WebhookRedelivery).where(
                WebhookRedelivery.app_id == app_id, WebhookRedelivery.event_seq.in_(seqs)
            )
        )
    }
    attempts = select(WebhookAttempt).where(WebhookAttempt.event_seq.in_(seqs))
    if endpoint_id is not None:
        attempts = attempts.where(WebhookAttempt.endpoint_id == endpoint_id)
    log: dict[int, list[WebhookAttempt]] = {seq: [] for seq in seqs}
    for attempt in await session.scalars(attempts.order_by(WebhookAttempt.id)):
        log[attempt.event_seq].append(attempt)
    found: list[Delivery] = []
    for event in events:
        per_endpoint: list[EndpointDelivery] = []
        for endpoint in known:
            tried = [a for a in log[event.seq] if a.endpoint_id == endpoint.endpoint_id]
            key = (endpoint.endpoint_id, event.seq)
            stream = streams.get((endpoint.endpoint_id, event.device_id or APP_LEVEL))
            redelivery = redeliveries.get(key)
            if redelivery is not None:
                again_at = redelivery.next_attempt_at
                per_endpoint.append(_state(endpoint, EventState.PENDING, tried, again_at))
            elif key in failures:
                per_endpoint.append(_state(endpoint, EventState.FAILED, tried))
            elif _waiting(endpoint, event, stream):
                retry = stream.next_attempt_at if stream is not None and tried else None
                per_endpoint.append(_state(endpoint, EventState.PENDING, tried, retry))
            elif tried:
                done = EventState.DELIVERED if tried[-1].succeeded else EventState.FAILED
                per_endpoint.append(_state(endpoint, done, tried))
        found.append(Delivery(event, per_endpoint, log[event.seq]))
    return found


def _waiting(endpoint: WebhookEndpoint, event: Event, stream: WebhookStream | None) -> bool:
    """Whether the event is still ahead of the endpoint's place in its device's events."""
    if not endpoint.enabled or event.event == TEST_EVENT:
        return False
    if not endpoint.wants(event.event, event.device_id):
        return False
    position = stream.position if stream is not None else endpoint.announced_seq
    return event.seq > position


def _state(
    endpoint: WebhookEndpoint,
    state: EventState,
    tried: list[WebhookAttempt],
    next_attempt_at: datetime | None = None,
) -> EndpointDelivery:
    delivered = [a.started_at for a in tried if a.succeeded]
    return EndpointDelivery(
        endpoint_id=endpoint.endpoint_id,
        state=state,
        attempt_count=len(tried),
        last_status_code=tried[-1].status_code if tried else None,
        last_error=tried[-1].error if tried else None,
        next_attempt_at=next_attempt_at,
        delivered_at=delivered[-1] if delivered and state == EventState.DELIVERED else None,
    )


async def get_delivery(
    session: AsyncSession, app_id: str, request_id: str, endpoint_id: str | None = None
) -> Delivery:
    event = (
        await session.execute(select(Event).where(Event.id == request_id, Event.app_id == app_id))
    ).scalar_one_or_none()
    if event is None:
        raise not_found("delivery")
    if endpoint_id is not None:
        await _endpoint(session, app_id, endpoint_id)
    return (await deliveries_of(session, app_id, [event], endpoint_id))[0]


async def redeliver(
    session: AsyncSession, app_id: str, request_id: str, endpoint_id: str | None = None
) -> Delivery:
    """Send a past event again, same request_id, with a fresh retry schedule: to
    `endpoint_id` (whatever its filters), or else to every enabled endpoint whose filters
    let it through.

    An event an endpoint has still to send in its device's order stays in that order (when
    it is the one being retried, its retry is now); any other goes again on its own."""
    event = (await get_delivery(session, app_id, request_id)).event
    if endpoint_id is not None:
        targets = [await _endpoint(session, app_id, endpoint_id)]
        if not targets[0].enabled:
            raise validation_error("the endpoint is disabled", "endpoint_id")
    else:
        targets = [
            e
            for e in await endpoints.endpoints_of(session, app_id)
            if e.enabled and e.wants(event.event, event.device_id)
        ]
    now = utcnow()
    for endpoint in targets:
        await _send_again(session, endpoint, event, now)
    mark_events_written(session)
    await session.flush()
    return (await deliveries_of(session, app_id, [event], endpoint_id))[0]


async def _send_again(
    session: AsyncSession, endpoint: WebhookEndpoint, event: Event, now: datetime
) -> None:
    device_key = event.device_id or APP_LEVEL
    stream = await session.get(WebhookStream, (endpoint.app_id, endpoint.endpoint_id, device_key))
    if stream is not None and _waiting(endpoint, event, stream):
        head = await session.scalar(
            endpoints.stream_events(endpoint, device_key, stream.position, Event.seq).limit(1)
        )
        if head == event.seq:
            stream.attempt_count, stream.next_attempt_at = 0, now
        return  # it goes in its device's order
    key = (endpoint.app_id, endpoint.endpoint_id, event.seq)
    redelivery = await session.get(WebhookRedelivery, key)
    if redelivery is None:
        session.add(_redelivery(endpoint.app_id, endpoint.endpoint_id, event.seq, now))
    else:
        redelivery.attempt_count, redelivery.next_attempt_at = 0, now
        redelivery.claimed_by = redelivery.claimed_until = None
    await session.execute(
        delete(WebhookFailure).where(
            WebhookFailure.app_id == endpoint.app_id,
            WebhookFailure.endpoint_id == endpoint.endpoint_id,
            WebhookFailure.event_seq == event.seq,
        )
    )


def _redelivery(app_id: str, endpoint_id: str, seq: int, now: datetime) -> WebhookRedelivery:
    """An event to send to an endpoint on its own, from now, with a fresh retry schedule."""
    return WebhookRedelivery(
        app_id=app_id,
        endpoint_id=endpoint_id,
        event_seq=seq,
        attempt_count=0,
        next_attempt_at=now,
        requested_at=now,
    )


async def redeliver_failed(
    session: AsyncSession,
    app_id: str,
    device_id: str | None = None,
    endpoint_id: str | None = None,
) -> int:
    """Queue every event an endpoint gave up on again (of one device, of one endpoint)."""
    stmt = select(WebhookFailure).where(WebhookFailure.app_id == app_id)
    if device_id:
        stmt = stmt.where(WebhookFailure.device_id == device_id)
    if endpoint_id is not None:
        await _endpoint(session, app_id, endpoint_id)
        stmt = stmt.where(WebhookFailure.endpoint_id == endpoint_id)
    failed = list(await session.scalars(stmt))
    now = utcnow()
    for failure in failed:
        waiting = await session.get(
            WebhookRedelivery, (failure.app_id, failure.endpoint_id, failure.event_seq)
        )
        if waiting is None:
            session.add(_redelivery(failure.app_id, failure.endpoint_id, failure.event_seq, now))
        await session.delete(failure)
    mark_events_written(session)
    await session.flush()
    return len(failed)


async def send_test_event(
    session: AsyncSession, app_id: str, endpoint_id: str | None = None
) -> str:
    """A `webhook_test` event (no device), signed, retried and logged like any other, sent to
    `endpoint_id` or else to every enabled endpoint, so an operator can check a receiver end
    to end. A test event is in no device's order: each endpoint gets it on its own."""
    if endpoint_id is not None:
        targets = [await _endpoint(session, app_id, endpoint_id)]
        if not targets[0].enabled:
            raise validation_error("the endpoint is disabled", "endpoint_id")
    else:
        targets = [e for e in await endpoints.endpoints_of(session, app_id) if e.enabled]
    request_id = record_event(
        session,
        app_id=app_id,
        device_id=None,
        event=TEST_EVENT,
        payload={
            "message": "a test event sent from the dashboard",
            "sent_at": rfc3339(utcnow()),
            "endpoint_id": endpoint_id,
        },
    )
    await session.run_sync(write_deferred, table_of(Event))
    seq = int(await session.scalar(select(Event.seq).where(Event.id == request_id)) or 0)
    now = utcnow()
    for endpoint in targets:
        session.add(_redelivery(app_id, endpoint.endpoint_id, seq, now))
    await session.flush()
    return request_id


# --- for the API and the dashboard: each opens its own transaction; an operator's action
# (`actor`) writes its audit entry in it, an app acting with its own token (None) none -----


async def deliveries_page(
    db: Database,
    app_id: str,
    *,
    device_id: str | None = None,
    event: str | None = None,
    state: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    cursor: str | None = None,
    endpoint_id: str | None = None,
) -> DeliveryPage:
    """A page of the delivery log (`list_deliveries`), each event with its attempts."""
    async with db.read() as session:
        return await list_deliveries(
            session,
            app_id,
            device_id=device_id,
            event=event,
            state=state,
            include_archived=include_archived,
            limit=limit,
            cursor=cursor,
            endpoint_id=endpoint_id,
        )


async def delivery(
    db: Database, app_id: str, request_id: str, endpoint_id: str | None = None
) -> Delivery:
    async with db.read() as session:
        return await get_delivery(session, app_id, request_id, endpoint_id)


async def redeliver_as(
    db: Database,
    actor: Actor | None,
    app_id: str,
    request_id: str,
    endpoint_id: str | None = None,
) -> Delivery:
    async with db.transaction() as session:
        found = await redeliver(session, app_id, request_id, endpoint_id)
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook.redeliver",
                app_id=app_id,
                device_id=found.device_id,
                detail={"request_id": request_id, "endpoint_id": endpoint_id},
            )
    return found


async def redeliver_failed_as(
    db: Database,
    actor: Actor | None,
    app_id: str,
    device_id: str | None = None,
    endpoint_id: str | None = None,
) -> int:
    async with db.transaction() as session:
        count = await redeliver_failed(session, app_id, device_id, endpoint_id)
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook.redeliver_failed",
                app_id=app_id,
                detail={"requeued": count, "endpoint_id": endpoint_id},
            )
    return count


async def send_test_event_as(
    db: Database, actor: Actor, app_id: str, endpoint_id: str | None = None
) -> str:
    async with db.transaction() as session:
        event_id = await send_test_event(session, app_id, endpoint_id)
        audit.record(
            session, actor, "webhook.test", app_id=app_id, detail={"endpoint_id": endpoint_id}
        )
    return event_id


async def events_after(
    db: Database, app_id: str, device_id: str, after_seq: int, limit: int
) -> list[Delivery]:
    """A batch of the device's events, archived or not, oldest first, after `after_seq`, with
    their delivery state (no cursor: the caller pages on by the last `seq`)."""
    async with db.read() as session:
        stmt = (
            select(Event)
            .where(Event.app_id == app_id, Event.device_id == device_id, Event.seq > after_seq)
            .order_by(Event.seq)
            .limit(limit)
        )
        rows = list((await session.execute(stmt)).scalars())
        return await deliveries_of(session, app_id, rows)


async def pending_event_count(db: Database) -> int:
    """Events waiting for delivery, counted per endpoint (the metrics' queue depth): those
    after each active stream's position (before the endpoint's filters), and redeliveries."""
    async with db.read() as session:
        device_events = and_(
            Event.app_id == WebhookStream.app_id,
            Event.seq > WebhookStream.position,
            or_(
                Event.device_id == WebhookStream.device_key,
                and_(WebhookStream.device_key == APP_LEVEL, Event.device_id.is_(None)),
            ),
        )
        in_streams = await session.scalar(
            select(func.count())
            .select_from(WebhookStream)
            .join(Event, device_events)
            .where(WebhookStream.active.is_(True))
        )
        again = await session.scalar(select(func.count()).select_from(WebhookRedelivery))
        return int(in_streams or 0) + int(again or 0)
