"""The event stream (CONTRACT §10): an app's events, as the webhook envelopes, to consumers
that keep a connection open (`GET /events/stream`, Server-Sent Events; `/events/ws`).

The events table (the durable outbox) is the only source: a consumer reads its app's rows by
`seq`, after a cursor, with its filters. This node's commits that wrote events wake every
consumer at once (`webhooks.outbox.on_commit_with_events`, the wake-up the dispatcher uses);
an idle consumer also looks again every `WAGW_STREAM_RECHECK_SECONDS`, so events another
gateway committed to the same database arrive too. A cursor is the opaque form of a `seq`: a
consumer that comes back with the last one it saw reads on from there (as far back as
`WAGW_STREAM_RETENTION_SECONDS` reaches) and misses nothing.

Back-pressure: each consumer's reader fills a bounded buffer (`WAGW_STREAM_BUFFER_EVENTS`)
that its connection drains. The reader never waits for the connection: when the buffer is
full the consumer is cut off (`consumer_too_slow`), and its reader stops. Nothing is shared
between consumers but the database, and the webhook dispatcher never sees them: a consumer
that stops reading slows no one.

Streams have a budget of their own (`WAGW_STREAM_MAX_CONNECTIONS`), and `close_all` ends
every one of them when the server shuts down.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select

from wagateway.core.db import Database, utcnow
from wagateway.core.opaque import opaque, unwrapped
from wagateway.core.settings import Settings
from wagateway.delivery.http import envelope
from wagateway.delivery.leases import LEASED_COLUMNS, Leased
from wagateway.media.links import MediaLinks
from wagateway.webhooks.models import Event
from wagateway.webhooks.outbox import on_commit_with_events

log = structlog.get_logger(__name__)

READ_BATCH = 500
SETTLE_SECONDS = 2.0
TICKET_SECONDS = 60

# Why a stream ended, as its last message says.
TOO_SLOW = "consumer_too_slow"
SHUTTING_DOWN = "server_shutting_down"


# --- cursors ------------------------------------------------------------------------------


def encode_cursor(seq: int) -> str:
    """The opaque cursor of an event: SSE `id:`, `Last-Event-ID`, a WebSocket frame's `id`."""
    return opaque(f"e{seq}")


def decode_cursor(cursor: str) -> int | None:
    """The `seq` a cursor names, or None when it is not one of ours."""
    text = cursor.strip()
    try:
        raw = unwrapped(text)
    except ValueError:
        return None
    if not raw.isascii() or not raw.startswith("e") or not raw[1:].isdigit() or len(raw) > 21:
        return None
    return int(raw[1:])


# --- tickets ------------------------------------------------------------------------------


class StreamTickets:
    """Short-lived, single-use stream tickets for browsers, which cannot send a Bearer header
    on an EventSource or a WebSocket. A ticket is signed (HMAC-SHA256 with a key derived from
    the master key, its own HKDF `info`) and names its app and expiry, so any node can check
    it; single use is remembered by the node that redeemed it."""

    def __init__(
        self,
        master_key: bytes,
        lifetime: int = TICKET_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"wagateway", info=b"stream-tickets"
        ).derive(master_key)
        self._lifetime = lifetime
        self._clock = clock
        self._used: dict[str, float] = {}  # nonce -> its expiry, until then

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, app_id: str) -> tuple[str, float]:
        """A new ticket for `app_id` and when it expires (Unix seconds)."""
        expires = int(self._clock()) + self._lifetime
        body = f"{app_id}.{expires}.{secrets.token_urlsafe(16)}"
        packed = opaque(body)
        return f"st_{packed}.{self._sign(body)}", float(expires)

    def redeem(self, ticket: str) -> str | None:
        """The app of a genuine, current ticket used for the first time; None otherwise."""
        now = self._clock()
        self._used = {n: exp for n, exp in self._used.items() if exp > now}
        packed, _, sig = ticket.removeprefix("st_").partition(".")
        try:
            body = unwrapped(packed)
        except ValueError:
            return None
        if not ticket.startswith("st_") or not hmac.compare_digest(
            self._sign(body).encode(), sig.encode("utf-8", "replace")
        ):
            return None
        app_id, _, rest = body.partition(".")
        expires_text, _, nonce = rest.partition(".")
        if not expires_text.isdigit() or int(expires_text) <= now or nonce in self._used:
            return None
        self._used[nonce] = float(expires_text)
        return app_id


# --- consumers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamFilter:
    events: frozenset[str] = frozenset()  # empty: all
    device_id: str | None = None


@dataclass(frozen=True)
class Delivered:
    """One event for a consumer: its cursor and the envelope, as a webhook's body."""

    cursor: str
    body: str


@dataclass(frozen=True)
class Notice:
    """A word from the stream itself: `retention_gap` (first), or why it ended (last)."""

    code: str
    message: str

    def json(self) -> str:
        return json.dumps({"code": self.code, "message": self.message})


class Consumer:
    """One open stream: a reader task filling a bounded buffer, drained by `next()`."""

    def __init__(
        self,
        streams: EventStreams,
        app_id: str,
        flt: StreamFilter,
        after: int,
        first: Notice | None,
        replay_until: int = 0,
    ) -> None:
        self._streams = streams
        self.app_id = app_id
        self._filter = flt
        self._after = after
        self._replay_until = replay_until  # the newest event when a resumed consumer opened
        # PostgreSQL (`_late`): the events sent above `_floor`, and when.
        self._floor = max(after, replay_until)
        self._recent: dict[int, float] = {}
        self._buffer: asyncio.Queue[Delivered | Notice] = asyncio.Queue(
            streams.settings.stream_buffer_events
        )
        self._wake = asyncio.Event()
        self._ended: Notice | None = None
        self._ended_event = asyncio.Event()
        if first is not None:
            self._buffer.put_nowait(first)
        self._reader = asyncio.create_task(self._read())

    def wake(self) -> None:
        self._wake.set()

    def end(self, notice: Notice) -> None:
        """Stop reading: the consumer gets `notice` next, ahead of anything still buffered
        (a consumer cut off for being slow is not owed the rest of its buffer)."""
        if self._ended is None:
            self._ended = notice
            self._ended_event.set()
            self._reader.cancel()

    @property
    def ended(self) -> Notice | None:
        return self._ended

    async def wait_ended(self) -> None:
        await self._ended_event.wait()

    async def next(self, timeout: float) -> Delivered | Notice | None:
        """The next event, or the notice that ends the stream, or None after `timeout`
        seconds with nothing (time for a keep-alive)."""
        item = await self._next(timeout)
        if self._after < self._replay_until:
            self._wake.set()  # room in the buffer again, for the replay waiting on it
        return item

    async def _next(self, timeout: float) -> Delivered | Notice | None:
        if self._ended is not None:
            return self._ended
        if not self._buffer.empty():
            return self._buffer.get_nowait()
        get = asyncio.ensure_future(self._buffer.get())
        ended = asyncio.ensure_future(self._ended_event.wait())
        try:
            done, _ = await asyncio.wait(
                {get, ended}, timeout=timeout, return_when="FIRST_COMPLETED"
            )
        finally:
            ended.cancel()
            if not get.done():
                get.cancel()
        if get in done:
            return get.result()
        return self._ended

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        self._streams.release(self)

    def _send(self, row: Leased) -> None:
        self._buffer.put_nowait(Delivered(encode_cursor(row.seq), self._streams.body_of(row)))
        if self._streams.late_commits and row.seq > self._floor:
            self._recent[row.seq] = time.monotonic()

    async def _late(self) -> bool:
        """PostgreSQL: events that became visible after an event of a higher `seq` was sent
        (two transactions committing at the same moment), sent now; False when the consumer
        had no room for them (and is cut off). Events sent more than `SETTLE_SECONDS` ago are
        final: no transaction stays open that long between writing its events and committing
        (they are inserted at commit, `webhooks/outbox.py`)."""
        now = time.monotonic()
        settled = [seq for seq, at in self._recent.items() if now - at > SETTLE_SECONDS]
        if settled:
            self._floor = max(self._floor, *settled)
            self._recent = {seq: at for seq, at in self._recent.items() if seq > self._floor}
        late = await self._streams.late_rows(
            self.app_id, self._floor, self._after, self._filter, set(self._recent)
        )
        if len(late) > self._streams.settings.stream_buffer_events - self._buffer.qsize():
            self._cut_off()
            return False
        for row in late:
            self._send(row)
        return True

    def _cut_off(self) -> None:
        size = self._streams.settings.stream_buffer_events
        log.info("stream_consumer_cut_off", app_id=self.app_id, reason=TOO_SLOW)
        self.end(
            Notice(
                TOO_SLOW,
                f"the consumer fell more than {size} events behind; reconnect with the last "
                "id it got to resume",
            )
        )

    async def _read(self) -> None:
        settings = self._streams.settings
        size = settings.stream_buffer_events
        try:
            while True:
                self._wake.clear()  # before reading: a commit during the read wakes it again
                free = size - self._buffer.qsize()
                replaying = self._after < self._replay_until
                # Replaying what a resumed consumer missed goes at the consumer's pace (its
                # `next()` wakes the reader). Live, one more than fits: more events waiting
                # than the buffer has room for means the consumer is too far behind.
                limit = min(READ_BATCH, free if replaying else free + 1)
                rows = (
                    await self._streams.read(self.app_id, self._after, self._filter, limit)
                    if limit
                    else []
                )
                # Measured again: the consumer may have taken some while the read ran.
                if not replaying and len(rows) > size - self._buffer.qsize():
                    self._cut_off()
                    return
                for row in rows:
                    self._after = row.seq
                    self._send(row)
                if not replaying and self._streams.late_commits and not await self._late():
                    return
                if rows and len(rows) == limit:
                    continue
                if replaying and not rows and limit:
                    self._replay_until = 0  # nothing left of it that the filters let through
                    continue
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
                # cancellation that closes the consumer.
                try:
                    async with asyncio.timeout(settings.stream_recheck_seconds):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception:  # the database went away: end the stream, the consumer resumes
            log.exception("stream_read_failed", app_id=self.app_id)
            self.end(Notice("internal_error", "the stream could not read events; reconnect"))


class EventStreams:
    """Every open stream of this node, within the budget; woken by this node's commits."""

    def __init__(self, settings: Settings, db: Database, links: MediaLinks | None = None) -> None:
        self.settings = settings
        self._db = db
        self._links = links
        self._consumers: set[Consumer] = set()
        self._unregister: Callable[[], None] = lambda: None
        self.closing = False
        # Only PostgreSQL lets concurrent writers commit events out of `seq` order (SQLite
        # serialises writers).
        self.late_commits = db.dialect == "postgresql"

    def start(self) -> None:
        self._unregister = on_commit_with_events(self._wake_all)

    def _wake_all(self) -> None:
        for consumer in self._consumers:
            consumer.wake()

    @property
    def open_count(self) -> int:
        return len(self._consumers)

    def has_room(self) -> bool:
        return not self.closing and len(self._consumers) < self.settings.stream_max_connections

    async def open(
        self, app_id: str, flt: StreamFilter, last_event_id: int | None
    ) -> Consumer | None:
        """A consumer of `app_id`'s events after `last_event_id` (None: from now on), or None
        when the budget is spent. A cursor older than the retention reads on from the oldest
        event within it, and the stream says so first (`retention_gap`)."""
        if not self.has_room():
            return None
        first: Notice | None = None
        newest = await self._newest_seq()
        if last_event_id is None:
            after = newest
        else:
            after = last_event_id
            floor = await self._oldest_retained_seq(app_id, after)
            if floor is not None and floor - 1 > after:
                after = floor - 1
                first = Notice(
                    "retention_gap",
                    "events older than the stream's retention "
                    f"({self.settings.stream_retention_seconds} s) were not replayed",
                )
        if not self.has_room():  # others came in meanwhile
            return None
        consumer = Consumer(self, app_id, flt, after, first, replay_until=newest)
        self._consumers.add(consumer)
        return consumer

    def release(self, consumer: Consumer) -> None:
        self._consumers.discard(consumer)

    def close_all(self) -> None:
        """Server shutdown: end every stream now, so none holds the shutdown up."""
        self.closing = True
        for consumer in list(self._consumers):
            consumer.end(Notice(SHUTTING_DOWN, "the server is shutting down; reconnect"))

    async def stop(self) -> None:
        self._unregister()
        self.close_all()

    # --- reading -------------------------------------------------------------------------

    async def _newest_seq(self) -> int:
        async with self._db.read() as session:
            return int(await session.scalar(select(func.max(Event.seq))) or 0)

    async def _oldest_retained_seq(self, app_id: str, after: int) -> int | None:
        """The first event of `app_id` after `after` that is within the retention, when one
        before it (and after `after`) is not; None when nothing was left out."""
        since = utcnow() - timedelta(seconds=self.settings.stream_retention_seconds)
        async with self._db.read() as session:
            first_after = (
                await session.execute(
                    select(Event.seq, Event.occurred_at)
                    .where(Event.app_id == app_id, Event.seq > after)
                    .order_by(Event.seq)
                    .limit(1)
                )
            ).first()
            if first_after is None or first_after.occurred_at >= since:
                return None
            oldest: int | None = await session.scalar(
                select(func.min(Event.seq)).where(
                    Event.app_id == app_id, Event.seq > after, Event.occurred_at >= since
                )
            )
        return oldest if oldest is not None else await self._newest_seq() + 1

    async def read(
        self, app_id: str, after: int, flt: StreamFilter, limit: int = READ_BATCH
    ) -> list[Leased]:
        query = self._filtered(
            select(*LEASED_COLUMNS).where(Event.app_id == app_id, Event.seq > after), flt
        )
        async with self._db.read() as session:
            rows = (await session.execute(query.order_by(Event.seq).limit(limit))).all()
        return [Leased(*row) for row in rows]

    async def late_rows(
        self, app_id: str, floor: int, high: int, flt: StreamFilter, sent: set[int]
    ) -> list[Leased]:
        """The events in (`floor`, `high`] not in `sent`: one count when there are none."""
        if high <= floor:
            return []
        query = self._filtered(
            select(*LEASED_COLUMNS).where(
                Event.app_id == app_id, Event.seq > floor, Event.seq <= high
            ),
            flt,
        )
        async with self._db.read() as session:
            visible = await session.scalar(select(func.count()).select_from(query.subquery()))
            if visible == len(sent):
                return []
            rows = (await session.execute(query.order_by(Event.seq))).all()
        return [Leased(*row) for row in rows if row.seq not in sent]

    def _filtered(self, query: Any, flt: StreamFilter) -> Any:
        if flt.events:
            query = query.where(Event.event.in_(sorted(flt.events)))
        if flt.device_id is not None:
            query = query.where(Event.device_id == flt.device_id)
        return query

    def body_of(self, row: Leased) -> str:
        """The envelope, byte for byte as a webhook of this event carries it (a fresh
        `media_url`, as each webhook attempt signs one)."""
        return envelope(row, self._links).decode()


def frame(item: Delivered | Notice) -> dict[str, Any]:
    """A WebSocket text frame's JSON: `{"type": "event", "id", "event": envelope}` or
    `{"type": code, "message"}`."""
    if isinstance(item, Delivered):
        return {"type": "event", "id": item.cursor, "event": json.loads(item.body)}
    return {"type": item.code, "message": item.message}
