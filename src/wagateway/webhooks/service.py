"""The delivery log and redelivery, scoped to one app."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.audit import service as audit
from wagateway.audit.service import Actor
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import not_found, validation_error
from wagateway.core.opaque import opaque, unwrapped
from wagateway.core.timefmt import rfc3339
from wagateway.webhooks.models import Event, WebhookAttempt
from wagateway.webhooks.outbox import mark_events_written, record_event
from wagateway.webhooks.states import EventState, check_transition

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
class DeliveryPage:
    events: list[Event]
    next_cursor: str | None


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
) -> DeliveryPage:
    if state is not None and state not in STATES:
        raise validation_error(f"state must be one of {', '.join(STATES)}", "state")
    if not 1 <= limit <= MAX_PAGE:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}", "limit")
    stmt = select(Event).where(Event.app_id == app_id).order_by(Event.seq.desc()).limit(limit + 1)
    if device_id:
        stmt = stmt.where(Event.device_id == device_id)
    if event:
        stmt = stmt.where(Event.event == event)
    if state:
        stmt = stmt.where(Event.state == state)
    if not include_archived:
        stmt = stmt.where(Event.archived.is_(False))
    if cursor:
        stmt = stmt.where(Event.seq < decode_cursor(cursor))
    rows = list((await session.execute(stmt)).scalars())
    next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
    return DeliveryPage(events=rows[:limit], next_cursor=next_cursor)


async def get_delivery(session: AsyncSession, app_id: str, request_id: str) -> Event:
    event = (
        await session.execute(select(Event).where(Event.id == request_id, Event.app_id == app_id))
    ).scalar_one_or_none()
    if event is None:
        raise not_found("delivery")
    return event


async def attempts_of(
    session: AsyncSession, event_seqs: list[int]
) -> dict[int, list[WebhookAttempt]]:
    if not event_seqs:
        return {}
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.event_seq.in_(event_seqs))
        .order_by(WebhookAttempt.id)
    )
    grouped: dict[int, list[WebhookAttempt]] = {seq: [] for seq in event_seqs}
    for attempt in (await session.execute(stmt)).scalars():
        grouped[attempt.event_seq].append(attempt)
    return grouped


async def redeliver(session: AsyncSession, app_id: str, request_id: str) -> Event:
    """Queue a past event again, same request_id, with a fresh retry schedule.

    It takes its place in its device's order: newer pending events of the device wait for it.
    """
    event = await get_delivery(session, app_id, request_id)
    event.state = check_transition(event.state, EventState.PENDING)
    event.attempt_count = 0
    event.next_attempt_at = utcnow()
    event.claimed_by = event.claimed_until = None
    event.last_error = None
    mark_events_written(session)
    await session.flush()
    return event


async def redeliver_failed(session: AsyncSession, app_id: str, device_id: str | None = None) -> int:
    stmt = (
        update(Event)
        .where(Event.app_id == app_id, Event.state == EventState.FAILED)
        .values(
            state=check_transition(EventState.FAILED, EventState.PENDING),
            attempt_count=0,
            next_attempt_at=utcnow(),
            claimed_by=None,
            claimed_until=None,
        )
    )
    if device_id:
        stmt = stmt.where(Event.device_id == device_id)
    result = await session.execute(stmt)
    mark_events_written(session)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


TEST_EVENT = "webhook_test"


def send_test_event(session: AsyncSession, app_id: str) -> str:
    """A `webhook_test` event (no device) through the normal outbox: signed, retried and
    logged like any other, so an operator can check the receiver end to end."""
    return record_event(
        session,
        app_id=app_id,
        device_id=None,
        event=TEST_EVENT,
        payload={"message": "a test event sent from the dashboard", "sent_at": rfc3339(utcnow())},
    )


# --- for the API and the dashboard: each opens its own transaction; an operator's action
# (`actor`) writes its audit entry in it, an app acting with its own token (None) none -----


@dataclass
class DeliveriesWithAttempts:
    page: DeliveryPage
    attempts: dict[int, list[WebhookAttempt]]


async def deliveries_with_attempts(
    db: Database,
    app_id: str,
    *,
    device_id: str | None = None,
    event: str | None = None,
    state: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> DeliveriesWithAttempts:
    """A page of the delivery log (`list_deliveries`), each event with its attempts."""
    async with db.read() as session:
        page = await list_deliveries(
            session,
            app_id,
            device_id=device_id,
            event=event,
            state=state,
            include_archived=include_archived,
            limit=limit,
            cursor=cursor,
        )
        return DeliveriesWithAttempts(
            page, await attempts_of(session, [e.seq for e in page.events])
        )


async def delivery_with_attempts(
    db: Database, app_id: str, request_id: str
) -> tuple[Event, list[WebhookAttempt]]:
    async with db.read() as session:
        event = await get_delivery(session, app_id, request_id)
        return event, (await attempts_of(session, [event.seq]))[event.seq]


async def redeliver_as(
    db: Database, actor: Actor | None, app_id: str, request_id: str
) -> tuple[Event, list[WebhookAttempt]]:
    """`redeliver`, with the event's attempts so far."""
    async with db.transaction() as session:
        event = await redeliver(session, app_id, request_id)
        attempts = (await attempts_of(session, [event.seq]))[event.seq]
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook.redeliver",
                app_id=app_id,
                device_id=event.device_id,
                detail={"request_id": request_id},
            )
    return event, attempts


async def redeliver_failed_as(
    db: Database, actor: Actor | None, app_id: str, device_id: str | None = None
) -> int:
    async with db.transaction() as session:
        count = await redeliver_failed(session, app_id, device_id)
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook.redeliver_failed",
                app_id=app_id,
                detail={"requeued": count},
            )
    return count


async def send_test_event_as(db: Database, actor: Actor, app_id: str) -> str:
    async with db.transaction() as session:
        event_id = send_test_event(session, app_id)
        audit.record(session, actor, "webhook.test", app_id=app_id)
    return event_id


async def events_after(
    db: Database, app_id: str, device_id: str, after_seq: int, limit: int
) -> DeliveriesWithAttempts:
    """A batch of the device's events, archived or not, oldest first, after `after_seq`, with
    their attempts (no cursor: the caller pages on by the last `seq`)."""
    async with db.read() as session:
        stmt = (
            select(Event)
            .where(Event.app_id == app_id, Event.device_id == device_id, Event.seq > after_seq)
            .order_by(Event.seq)
            .limit(limit)
        )
        rows = list((await session.execute(stmt)).scalars())
        return DeliveriesWithAttempts(
            DeliveryPage(rows, None), await attempts_of(session, [e.seq for e in rows])
        )


async def pending_event_count(db: Database) -> int:
    """Events of every app waiting for delivery (the metrics' queue depth)."""
    async with db.read() as session:
        stmt = select(func.count()).select_from(Event).where(Event.state == EventState.PENDING)
        return int(await session.scalar(stmt) or 0)
