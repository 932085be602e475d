"""The outbound queue: one paced sender per device, fed from the messages table.

A message row is claimed (`sending`, with a lease), paced, sent through the engine and
marked `sent` with its `message` and `receipt` events in one transaction. A crash between
the claim and that transaction leaves the row `sending`; at start the node takes its own
leases back and the message is sent again *with the same wa_message_id*, which WhatsApp
(and the sandbox) dedupe. One device's sender never waits for another's.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps import pacing
from wagateway.apps.models import App
from wagateway.cluster.signals import Signals
from wagateway.core.db import Database, Preload, idle_wait, lock_rows, locks_rows, utcnow
from wagateway.core.joined_writes import JoinedWrites
from wagateway.core.settings import Settings
from wagateway.devices import events as device_events
from wagateway.devices.models import Device
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.state import Connection, Status
from wagateway.engines.base import EngineError, OutboundMessage, SendError, SentMessage
from wagateway.media.store import MediaStore
from wagateway.messages import events, ingest
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.link_preview import fetch_preview
from wagateway.messages.models import Message
from wagateway.messages.states import MessageStatus
from wagateway.messages.status_writes import change_all_statuses, change_status

if TYPE_CHECKING:
    import aiohttp

log = structlog.get_logger(__name__)

MESSAGES_SENT = Counter("wagateway_messages_total", "Outbound messages by outcome", ["outcome"])
SEND_LATENCY = Histogram("wagateway_send_latency_seconds", "Engine send latency")
LEASE_SECONDS = 120
EXPIRY_SCAN_SECONDS = 1.0
# Messages one claim takes for an unpaced device; sent back to back, bookkept in groups.
UNPACED_RUN = 32


@dataclass
class Claim:
    device: Device
    app: App
    plan: pacing.Pacing
    messages: list[Message]


def _utc_midnight() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


class MediaFetchError(Exception):
    pass


# Signals between nodes (`cluster/signals.py`): work is due; a message changed (its id).
WORK_CHANNEL = "wagw_work"
MESSAGES_CHANNEL = "wagw_messages"

# What a send that the engine could not finish (its worker died mid-call) records.
ENGINE_UNAVAILABLE = "engine_unavailable"


class OutboundQueue:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        runtime: SessionRuntime,
        media: MediaStore,
        node_id: str,
        *,
        early_receipts: EarlyReceipts,
        signals: Signals | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._runtime = runtime
        self._early_receipts = early_receipts
        self._media = media
        self._node_id = node_id
        self._pacer = pacing.Pacer(rng)
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Devices whose sender left claims of this node unfinished (it died on an error, or
        # a `sent` could not be written: the database went away mid-run). They go back to
        # the queue before the device gets a sender again (`_put_back_orphaned_claims`).
        self._orphaned: set[str] = set()
        self._recheck: set[str] = set()
        self._next_expiry_scan = 0.0
        self._capped_until: dict[str, datetime] = {}
        self._next_due: datetime | None = None  # when the idle supervisor saw a message due
        # Sends of one device that finish while their `sent` bookkeeping waits join it.
        self._bookkeeping: JoinedWrites[str, tuple[Message, SentMessage]] = JoinedWrites(
            db, self._mark_sent, preload=lambda device_id: Preload(Device, device_id)
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        # A listener gets a message id, or None: look again at every message (signals were lost).
        self._status_listeners: list[Callable[[str | None], None]] = []
        # Other nodes: work accepted there for devices held here wakes this queue, and a
        # send waiting there (`wait=true`) hears of its message's changes made here.
        self._signals = signals
        if signals is not None:
            signals.subscribe(WORK_CHANNEL, lambda _: self._wake.set())
            signals.subscribe(MESSAGES_CHANNEL, self._announce_here)
        self.last_loop_at = 0.0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        # Our own leases from before a crash: send again, same wa_message_id.
        await self._requeue_claims(Message.claimed_by == self._node_id)
        self._runtime.on_takeover(self._take_back_sends)
        self._task = asyncio.create_task(self._supervise(), name="outbound-queue")

    async def _take_back_sends(self, device_ids: list[str]) -> None:
        """Devices this node takes over: the sends their previous owner had claimed and not
        finished go back to the queue, to be sent here again with the same wa_message_id
        (that node can no longer act for the device: it stopped, or is fenced)."""
        if not device_ids:
            return
        await self._requeue_claims(
            Message.device_id.in_(device_ids),
            or_(Message.claimed_by.is_(None), Message.claimed_by != self._node_id),
        )

    async def _requeue_claims(self, *where: ColumnElement[bool]) -> None:
        """The `sending` messages `where` selects go back to `queued`, their claims undone:
        sent again with the same wa_message_id, which WhatsApp dedupes."""
        async with self._db.transaction() as session:
            await change_all_statuses(
                session,
                MessageStatus.SENDING,
                MessageStatus.QUEUED,
                *where,
                claimed_by=None,
                claimed_until=None,
            )

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._workers.values()) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http:
            await self._http.close()

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """New work was accepted: look for it now, here and on the other nodes."""
        self._wake.set()
        if self._signals is not None:
            self._signals.publish(WORK_CHANNEL, "due")

    def on_status_change(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    def announce(self, message_id: str) -> None:
        """Tell whoever waits on the message (a send with `wait=true`) that it changed
        outside the queue (a cancel)."""
        self._announce(message_id)

    def _announce(self, message_id: str) -> None:
        self._announce_here(message_id)
        if self._signals is not None:
            self._signals.publish(MESSAGES_CHANNEL, message_id)

    def _announce_here(self, message_id: str | None) -> None:
        for listener in list(self._status_listeners):
            listener(message_id)

    # --- supervisor: expire, and start a sender for every device with due work -----------

    async def _supervise(self) -> None:
        while True:
            self.last_loop_at = time.monotonic()
            # Clear before looking: a message accepted while we look must not wait a poll.
            self._wake.clear()
            try:
                if time.monotonic() >= self._next_expiry_scan:
                    # TTLs are hours long: once a second is plenty, and a wake-up per
                    # accepted message must not cost a write transaction each.
                    self._next_expiry_scan = time.monotonic() + EXPIRY_SCAN_SECONDS
                    await self._expire_overdue()
                if self._orphaned:
                    await self._put_back_orphaned_claims()
                for device_id in await self._devices_with_due_work():
                    worker = self._workers.get(device_id)
                    if worker is None or worker.done():
                        worker = asyncio.create_task(
                            self._device_worker(device_id), name=f"sender:{device_id}"
                        )
                        worker.add_done_callback(functools.partial(self._sender_ended, device_id))
                        self._workers[device_id] = worker
                    else:
                        # It may be about to find its queue empty and stop: make it look again.
                        self._recheck.add(device_id)
            except Exception:
                log.exception("outbound_supervisor_failed")
            try:
                await asyncio.wait_for(
                    self._wake.wait(), idle_wait(self._settings.send_poll_interval, self._next_due)
                )
            except TimeoutError:
                pass

    def _sender_ended(self, device_id: str, worker: asyncio.Task[None]) -> None:
        if worker.cancelled() or worker.exception() is None:
            return
        log.error("sender_failed", device_id=device_id, error=repr(worker.exception()))
        self._orphaned.add(device_id)
        self._wake.set()

    async def _put_back_orphaned_claims(self) -> None:
        """The claims of this node that a sender left unfinished go back to the queue, to be
        sent again with the same wa_message_id (as after a crash: WhatsApp dedupes by it).
        None of those devices has a sender now; a failure (the database still away) leaves
        them for the next look. Claims another node took back are its own already."""
        devices = [d for d in self._orphaned if d not in self._workers or self._workers[d].done()]
        if not devices:
            return
        await self._requeue_claims(
            Message.claimed_by == self._node_id, Message.device_id.in_(devices)
        )
        self._orphaned.difference_update(devices)
        log.warning("orphaned_sends_put_back", devices=len(devices))

    async def _devices_with_due_work(self) -> list[str]:
        now = utcnow()
        self._next_due = None
        async with self._db.read() as session:
            ids = list((await session.execute(devices_with_due_messages(now))).scalars())
            # Another node's devices are its to send (CONTRACT §9).
            due = [
                d
                for d in ids
                if self._capped_until.get(d, now) <= now and self._runtime.may_send(d)
            ]
            if not due:  # idle: find when the next retry or scheduled send falls due
                earliest = (await session.execute(earliest_queued_per_device())).all()
                self._next_due = min(
                    (max(at, self._capped_until.get(d, at)) for d, at in earliest if at),
                    default=None,
                )
        return due

    async def _expire_overdue(self) -> None:
        now = utcnow()
        async with self._db.transaction() as session:
            rows = (
                (
                    await session.execute(
                        select(Message)
                        .where(Message.status == MessageStatus.QUEUED, Message.expires_at < now)
                        .limit(500)
                    )
                )
                .scalars()
                .all()
            )
            for message in rows:
                self._fail(session, message, "expired", "not sent before its TTL ran out")
        for message in rows:
            self._announce(message.id)

    # --- one device's sender ----------------------------------------------------------------

    async def _device_worker(self, device_id: str) -> None:
        while True:
            # Wait for our turn *before* claiming: a message waiting on pacing stays `queued`.
            await self._pacer.wait_turn(device_id)
            self._recheck.discard(device_id)
            claim = await self._claim(device_id)
            if claim is None:
                if device_id in self._recheck:
                    continue
                return
            if claim.plan.daily_cap and await self._sent_today(device_id) >= claim.plan.daily_cap:
                await self._release(claim.messages, utcnow(), count_attempt=False)
                await self._cap_reached(claim.device, claim.plan.daily_cap)
                return
            bookkeeping: list[asyncio.Future[None]] = []
            stopped = False
            for index, message in enumerate(claim.messages):
                outcome = await self._send(message, claim.device, claim.plan, bookkeeping)
                if outcome == "stop":
                    await self._release(claim.messages[index + 1 :], utcnow(), count_attempt=False)
                    stopped = True
                    break
            # The next claim must see this run's rows as written (and a failed write must not
            # pass silently: the lease then expires and the message is sent again, same id).
            for written in asyncio.as_completed(bookkeeping):
                try:
                    await written
                except Exception:
                    log.exception("mark_sent_failed", device_id=device_id)
                    self._orphaned.add(device_id)  # sent, but still `sending`
            if stopped:
                self._wake.set()  # what it handed back may fall due before the next poll
                return

    async def _claim(self, device_id: str) -> Claim | None:
        """Lease the device's next due messages: one when it is paced (each send waits its
        turn), a run of them when it is not (one claim, then sends back to back)."""
        now = utcnow()

        async def unit(session: AsyncSession) -> Claim | None:
            if not self._runtime.may_send(device_id):
                return None
            if not await self._still_owner(session, device_id):
                return None
            due = (
                select(Message)
                .where(
                    Message.device_id == device_id,
                    Message.status == MessageStatus.QUEUED,
                    Message.next_attempt_at <= now,
                    or_(Message.expires_at.is_(None), Message.expires_at >= now),
                )
                .order_by(Message.seq)
            )
            due = lock_rows(due, self._db, skip_locked=True)
            # The run at once (one query); "nothing left" is that one query too.
            due_messages = list((await session.execute(due.limit(UNPACED_RUN))).scalars())
            if not due_messages:
                return None
            device = await session.get(Device, device_id)
            if (
                device is None
                or device.status != Status.CONNECTED
                or device.connection != Connection.ONLINE
            ):
                return None
            app = await session.get(App, device.app_id)
            assert app is not None
            plan = pacing.resolve(self._settings, app.pacing, device.pacing)
            unpaced = not (plan.rate_per_second or plan.typing_seconds or plan.daily_cap)
            messages = due_messages if unpaced else due_messages[:1]
            for message in messages:
                change_status(
                    session,
                    message,
                    MessageStatus.SENDING,
                    claimed_by=self._node_id,
                    claimed_until=now + timedelta(seconds=LEASE_SECONDS),
                    attempts=message.attempts + 1,
                )
            return Claim(device, app, plan, messages)

        return await self._db.grouped(unit, preload=Preload(Device, device_id))

    async def _still_owner(self, session: AsyncSession, device_id: str) -> bool:
        """Whether this node owns the device, its owner row locked until the claim commits:
        a node taking the device over waits for the claim, then puts back what it claimed
        (`_take_back_sends`) before sending any of the device's later messages. So a claim
        never lands after a takeover, where it would hold a message back while the new
        owner sends the ones after it."""
        ownership = self._runtime.ownership
        return ownership is None or await ownership.owns_locked(session, device_id)

    async def _send(
        self,
        message: Message,
        device: Device,
        plan: pacing.Pacing,
        bookkeeping: list[asyncio.Future[None]],
    ) -> str:
        try:
            media = await self._load_media(message)
        except MediaFetchError as exc:
            await self._finish_failed(message, "media_error", str(exc))
            return "next"
        engine = self._runtime.engine_for(device.engine)
        preview = None
        if message.type == "text" and message.content.get("preview_url") is True:
            preview = await fetch_preview(
                self._outbound_http(), str(message.content.get("text", ""))
            )
        outbound = OutboundMessage(
            wa_message_id=message.wa_message_id or "",
            to_jid=message.chat,
            type=message.type,
            content=message.content,
            media=media,
            reply_to=message.reply_to,
            mentions=tuple(message.mentions or ()),
            **_quoted_fields(message.content),
            link_preview=preview,
        )
        if plan.typing_seconds > 0:
            try:
                await engine.send_typing(device.id, message.chat, plan.typing_seconds)
            except EngineError:
                pass  # typing is courtesy; never a reason not to send
            await asyncio.sleep(plan.typing_seconds)
        if not self._runtime.holds(device.id):
            # This node let go of the device (it moves to another node): the message waits
            # there, unsent by us, in its place in the device's order.
            await self._release([message], utcnow(), count_attempt=False)
            return "stop"
        started = time.perf_counter()
        try:
            sent = await engine.send(device.id, outbound)
        except SendError as exc:
            SEND_LATENCY.observe(time.perf_counter() - started)
            return await self._send_failed(message, device, exc)
        except EngineError as exc:
            # The engine itself went away mid-send (its worker process died): whether the
            # message reached WhatsApp is unknown, so it is sent again once the device is
            # back (a duplicate at worst, never a loss), and this device's run stops.
            SEND_LATENCY.observe(time.perf_counter() - started)
            unavailable = SendError(ENGINE_UNAVAILABLE, exc.message, permanent=False)
            return await self._send_failed(message, device, unavailable)
        SEND_LATENCY.observe(time.perf_counter() - started)
        self._pacer.sent(device.id, plan)
        # Submitted before anything else can run, so it is written before the receipts the
        # engine reports for this message (and a receipt that wins anyway implies `sent`).
        written = self._bookkeeping_for(device.id, message, sent)
        written.add_done_callback(lambda _: self._announce(message.id))
        written.add_done_callback(
            lambda done: self._forget_early_receipts(done, device.id, sent.wa_message_id)
        )
        bookkeeping.append(written)
        MESSAGES_SENT.labels("sent").inc()
        return "next"

    def _forget_early_receipts(
        self, written: asyncio.Future[None], device_id: str, wa_message_id: str
    ) -> None:
        # Only once committed: a group that failed retries this unit, which needs them again.
        if not written.cancelled() and written.exception() is None:
            self._early_receipts.discard(device_id, wa_message_id)

    def _bookkeeping_for(
        self, device_id: str, message: Message, sent: SentMessage
    ) -> asyncio.Future[None]:
        """Mark a sent message `sent`. Sends of one device that finish while their
        bookkeeping waits for its write join that write: one query for the lot."""
        return self._bookkeeping.add(device_id, (message, sent))

    async def _mark_sent(
        self,
        session: AsyncSession,
        device_id: str,
        sent_messages: list[tuple[Message, SentMessage]],
    ) -> None:
        # The claimed objects carry everything the events need: only their status is read
        # again (it may have moved on meanwhile), not the whole row.
        stmt = select(Message.seq, Message.status).where(
            Message.seq.in_([message.seq for message, _ in sent_messages])
        )
        stmt = lock_rows(stmt, self._db)
        status_of: dict[int, str] = dict((await session.execute(stmt)).all())
        device = await session.get(Device, device_id)
        if device is None:
            return
        for message, sent in sent_messages:
            if status_of.get(message.seq) != MessageStatus.SENDING:
                continue  # failed meanwhile (device deleted), or a receipt implied `sent`
            ingest.mark_sent(session, device, message, sent.wa_message_id, sent.sent_at)
            # Receipts that overtook this bookkeeping (whatsmeow: the id is new to us).
            for receipt in self._early_receipts.waiting(device.id, sent.wa_message_id):
                ingest.advance(session, device, message, receipt)

    async def _send_failed(self, message: Message, device: Device, exc: SendError) -> str:
        now = utcnow()
        if exc.code == "provider_rate_limit":
            backoff = exc.retry_after or self._settings.provider_backoff_seconds * (
                2 ** max(message.attempts - 1, 0)
            )
            self._pacer.hold(device.id, backoff)
            await self._warn(
                device.id,
                "provider_rate_limit",
                f"WhatsApp is throttling this device; sending paused for {backoff:g} s",
            )
        if exc.permanent or message.attempts >= self._settings.send_max_attempts:
            MESSAGES_SENT.labels("failed").inc()
            await self._finish_failed(message, exc.code, exc.message)
            return "next"
        retry_in = exc.retry_after or min(60.0, 2.0**message.attempts)
        await self._release([message], now + timedelta(seconds=retry_in), error=exc)
        stops = ("not_connected", "provider_rate_limit", ENGINE_UNAVAILABLE)
        return "stop" if exc.code in stops else "next"

    async def _release(
        self,
        messages: list[Message],
        next_attempt_at: datetime,
        error: EngineError | None = None,
        count_attempt: bool = True,
    ) -> None:
        if not messages:
            return
        async with self._db.transaction() as session:
            for message in messages:
                row = await session.get(Message, message.seq, with_for_update=locks_rows(self._db))
                if row is None or row.claimed_by != self._node_id:
                    # Taken back by the device's new owner (CONTRACT §9), perhaps claimed
                    # by it already: its claim, not ours to undo.
                    continue
                values: dict[str, Any] = {}
                if not count_attempt:
                    values["attempts"] = max(row.attempts - 1, 0)
                if error is not None:
                    values.update(error_code=error.code, error_message=error.message)
                # Only a message still `sending` goes back: one failed or sent meanwhile
                # stays as it is (the state machine refuses the move).
                change_status(
                    session,
                    row,
                    MessageStatus.QUEUED,
                    next_attempt_at=next_attempt_at,
                    claimed_by=None,
                    claimed_until=None,
                    **values,
                )

    async def _finish_failed(self, message: Message, code: str, detail: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(Message, message.seq, with_for_update=locks_rows(self._db))
            # Only a message not yet out of the device fails (the state machine's rule).
            if row is None or not self._fail(session, row, code, detail):
                return
        self._announce(message.id)

    @staticmethod
    def _fail(session: AsyncSession, row: Message, code: str, detail: str) -> bool:
        if not change_status(
            session,
            row,
            MessageStatus.FAILED,
            error_code=code,
            error_message=detail[:1000],
            claimed_by=None,
            claimed_until=None,
            updated_at=utcnow(),
        ):
            return False
        events.receipt_event(session, row)
        return True

    async def _sent_today(self, device_id: str) -> int:
        midnight = _utc_midnight()
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(
                    Message.device_id == device_id,
                    Message.direction == "outbound",
                    Message.sent_at >= midnight,
                    # what the gateway sent, not the owner's own messages from the phone
                    Message.source.in_(("api", "auto")),
                )
            )
        return int(count or 0)

    async def _cap_reached(self, device: Device, cap: int) -> None:
        tomorrow = _utc_midnight() + timedelta(days=1)
        if self._capped_until.get(device.id) == tomorrow:
            return
        self._capped_until[device.id] = tomorrow
        await self._warn(
            device.id,
            "daily_cap_reached",
            f"{cap} messages sent today; the rest wait until 00:00 UTC",
        )

    async def _warn(self, device_id: str, code: str, message: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(Device, device_id)
            if row is not None:
                device_events.warning(session, row, code, message)

    async def _load_media(self, message: Message) -> bytes | None:
        if message.media_key:
            try:
                return await self._media.get(message.media_key)
            except (FileNotFoundError, ValueError) as exc:
                raise MediaFetchError(f"stored media is missing: {exc}") from exc
            except OSError as exc:
                raise MediaFetchError(f"stored media could not be read: {exc}") from exc
        url = message.content.get("url")
        if not url:
            return None
        return await self.fetch_url(str(url))

    async def fetch_url(self, url: str) -> bytes:
        """A media source's `url`, fetched as a message's media is: under the outbound address
        rules, no redirects, at most WAGW_SEND_MEDIA_MAX_BYTES; MediaFetchError otherwise."""
        import aiohttp  # with the client (`_outbound_http`)

        try:
            # Redirects are not followed: the next hop would be a destination nobody checked
            # against the outbound address rules (and a 3xx is a failure, as for webhooks).
            async with self._outbound_http().get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    note = " (redirects are not followed)" if 300 <= resp.status < 400 else ""
                    raise MediaFetchError(f"fetching media answered HTTP {resp.status}{note}")
                return await self._read_media(resp)
        except TimeoutError as exc:
            raise MediaFetchError(
                f"fetching media timed out after {self._settings.webhook_timeout * 3:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise MediaFetchError(f"fetching media failed: {exc}") from exc

    def _outbound_http(self) -> aiohttp.ClientSession:
        """The client for media URLs and link previews, made by the first of them: most
        nodes never fetch one, and aiohttp's import is a good part of a node's start
        (core/guarded_http.py)."""
        if self._http is None:
            from wagateway.core.guarded_http import guarded_session

            self._http = guarded_session(
                self._settings.outbound_allowlist,
                self._settings.webhook_timeout * 3,
                source_address=self._settings.outbound_source_address,
            )
        return self._http

    async def _read_media(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, or MediaFetchError: over the cap (known from Content-Length, or
        as soon as the bytes read pass it), or cut short (the connection closed before the
        declared length or the final chunk). `read(n)` would return whatever had arrived."""
        import aiohttp  # with the client (`_outbound_http`)

        limit = self._settings.send_media_max_bytes
        too_large = MediaFetchError(f"media is larger than {limit} bytes")
        # Content-Length counts encoded bytes: only then is it the size of what we keep.
        declared = resp.content_length if not resp.headers.get("Content-Encoding") else None
        if declared is not None and declared > limit:
            raise too_large
        chunks: list[bytes] = []
        received = 0
        try:
            async for chunk in resp.content.iter_chunked(64 * 1024):
                received += len(chunk)
                if received > limit:
                    raise too_large  # leaving the `async with` drops the connection
                chunks.append(chunk)
        except aiohttp.ClientPayloadError as exc:
            of = f" of {declared}" if declared is not None else ""
            raise MediaFetchError(
                f"fetching media failed: the download broke off after {received}{of} bytes "
                f"({type(exc.__cause__ or exc).__name__})"
            ) from exc
        return b"".join(chunks)


def devices_with_due_messages(now: datetime) -> Select[str]:
    """The connected, online devices with a queued message due by `now`.

    From the devices, one index probe each (status, device_id, next_attempt_at): a join
    from the messages read every queued message, slow with a few thousand queued, and the
    supervisor looks on every wake-up, i.e. after every accepted burst."""
    due = (
        select(Message.seq)
        .where(
            Message.device_id == Device.id,
            Message.status == MessageStatus.QUEUED,
            Message.next_attempt_at <= now,
        )
        .exists()
    )
    return select(Device.id).where(
        Device.status == Status.CONNECTED, Device.connection == Connection.ONLINE, due
    )


def earliest_queued_per_device() -> Select[str, datetime]:
    """Each connected, online device and when its earliest queued message is due: one index
    probe per device (status, device_id, next_attempt_at), like `devices_with_due_messages`."""
    earliest = (
        select(func.min(Message.next_attempt_at))
        .where(Message.device_id == Device.id, Message.status == MessageStatus.QUEUED)
        .scalar_subquery()
    )
    return select(Device.id, earliest).where(
        Device.status == Status.CONNECTED, Device.connection == Connection.ONLINE
    )


def _quoted_fields(content: dict[str, Any]) -> dict[str, Any]:
    """OutboundMessage's quoted_* fields from the `quoted` record resolved at accept time
    (`messages/quoting.py`)."""
    quoted = content.get("quoted")
    if not isinstance(quoted, dict):
        return {}
    return {
        "quoted_sender": quoted.get("sender"),
        "quoted_from_me": bool(quoted.get("from_me")),
        "quoted_text": quoted.get("text"),
    }
