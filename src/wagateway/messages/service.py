"""Sending and reading messages (CONTRACT §3): the rules the REST API and the ops CLI share."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.tokens import DeferredTokenCheck
from wagateway.core.db import Database, Preload, new_id, table_of, utcnow
from wagateway.core.deferred_writes import RowDefaults, defer_insert
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Status
from wagateway.media.store import MediaStore
from wagateway.messages.models import IdempotencyKey, Message
from wagateway.messages.queue import OutboundQueue
from wagateway.messages.quoting import quoted
from wagateway.messages.schemas import SendAccepted, SendMessageRequest, error_of
from wagateway.messages.states import MessageStatus
from wagateway.messages.validation import prepare
from wagateway.webhooks.service import decode_cursor, encode_cursor

IDEMPOTENCY_WINDOW = timedelta(hours=24)
FINAL_FOR_WAIT = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.PLAYED,
    MessageStatus.FAILED,
}
MAX_PAGE = 200
# `source` of a message (CONTRACT §8.2; `contact`: an inbound message from someone else).
MESSAGE_SOURCES = ("api", "auto", "phone", "history", "contact")
_MESSAGES = table_of(Message)
_OUTBOUND_ROW = RowDefaults(_MESSAGES)


def new_wa_message_id() -> str:
    # Shaped like whatsmeow's GenerateMessageID: chosen before sending, reused on a resend.
    return "3EB0" + secrets.token_hex(9).upper()


def request_fingerprint(device_id: str, body: SendMessageRequest) -> str:
    canonical = json.dumps(
        {"device_id": device_id, **body.model_dump(mode="json", exclude_none=True)}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class SendResult:
    status_code: int
    body: SendAccepted


def outbound_row(*, created_at: datetime, **values: Any) -> dict[str, Any]:
    """A new queued outbound message as a row of every column but `seq` (one executemany
    inserts a group's rows, and each row must name the same columns): `values`, and the
    column definitions' defaults for the columns they leave out."""
    return _OUTBOUND_ROW.complete(
        {
            "direction": "outbound",
            "status": MessageStatus.QUEUED,
            **values,
            "created_at": created_at,
            "updated_at": created_at,
        }
    )


def accepted_of(message: Message) -> SendAccepted:
    return SendAccepted(
        message_id=message.id,
        status=message.status,
        device_id=message.device_id,
        to=message.chat,
        type=message.type,
        created_at=message.created_at,
        wa_message_id=message.wa_message_id if message.status != MessageStatus.QUEUED else None,
        error=error_of(message),
    )


class MessageService:
    def __init__(
        self, settings: Settings, db: Database, media: MediaStore, queue: OutboundQueue
    ) -> None:
        self._settings = settings
        self._db = db
        self._media = media
        self._queue = queue

    async def send(
        self,
        app_id: str,
        device_id: str,
        body: SendMessageRequest,
        idempotency_key: str | None = None,
        wait: bool = False,
        *,
        token_check: DeferredTokenCheck | None = None,
        source: str = "api",
    ) -> SendResult:
        """Accept a message into the device's queue (202), or answer once it left (`wait`).

        `source` is stored with the message and reported in its events: `api` for what the
        app sends, `auto` for what the gateway sends by itself (a call policy's reply).

        `token_check`: the caller's token check, deferred to this send (`apps/tokens.py`).
        Every transaction the send opens runs it first, so a refused token stores nothing
        (no message, no media). The caller owes it until settled (`api/owed_checks.py`)
        and settles it on any path that does not get this far.
        """
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise validation_error("Idempotency-Key must be 1-255 characters", "Idempotency-Key")
        # Scoping first: another app's (or an unknown) device is 404 whatever the body. The
        # accepting unit checks it too, so the hot path (a valid body) reads it only there.
        try:
            prepared = prepare(body, self._settings.send_media_max_bytes)
        except ApiError:
            await self._check_device(app_id, device_id, token_check)
            raise
        if prepared.media is not None:  # about to store media: make sure it may
            await self._check_device(app_id, device_id, token_check)
        # Only a keyed request is ever compared with another one.
        fingerprint = request_fingerprint(device_id, body) if idempotency_key is not None else ""
        message_id = new_id()
        media_key = None
        if prepared.media is not None:
            media_key = f"outbound/{app_id}/{message_id}"
            await self._media.put(media_key, prepared.media)

        async def accept(session: AsyncSession) -> SendResult | None:
            """One group-committed unit; it raises only before writing anything."""
            if token_check is not None:
                await token_check.confirm(session)
            device = await DeviceService.load(session, app_id, device_id)
            earlier = None
            if idempotency_key is not None:
                earlier = await session.get(IdempotencyKey, (app_id, idempotency_key))
                if earlier is not None and earlier.created_at > utcnow() - IDEMPOTENCY_WINDOW:
                    if earlier.request_hash != fingerprint:
                        raise ApiError(
                            409,
                            "conflict",
                            "this Idempotency-Key was used with a different request",
                            {"field": "Idempotency-Key"},
                        )
                    return SendResult(202, SendAccepted.model_validate(earlier.response))
            if device.status != Status.CONNECTED:
                raise ApiError(
                    409,
                    "device_not_connected",
                    f"the device is {device.status}; messages need a connected device",
                    {"status": device.status},
                )
            if earlier is not None:  # expired: the key may be used again
                await session.delete(earlier)
                await session.flush()
            now = utcnow()
            content = dict(prepared.content)
            if prepared.media_url:
                content["url"] = prepared.media_url
            reply_to = prepared.reply_to
            # Either id names the quoted / reacted-to message; its WhatsApp id is what is sent.
            target_ref = reply_to or (
                str(content["message_id"]) if prepared.type == "reaction" else None
            )
            if target_ref:
                target = await quoted(session, app_id, device, target_ref)
                if target is not None:
                    content["quoted"] = target
                    if reply_to:
                        reply_to = target["wa_message_id"]
                    else:
                        content["message_id"] = target["wa_message_id"]
            # A plain row, inserted with the group's other messages by one Core statement
            # (`core/deferred_writes.py`): nothing reads it back as an ORM object.
            defer_insert(
                session,
                _MESSAGES,
                outbound_row(
                    id=message_id,
                    app_id=app_id,
                    device_id=device_id,
                    type=prepared.type,
                    chat=prepared.chat,
                    sender=device.wa_number,
                    content=content,
                    media_key=media_key,
                    reply_to=reply_to,
                    mentions=prepared.mentions,
                    source=source,
                    wa_message_id=new_wa_message_id(),
                    next_attempt_at=now,
                    expires_at=now + timedelta(seconds=self._settings.message_ttl_seconds),
                    created_at=now,
                ),
            )
            answer = SendAccepted(
                message_id=message_id,
                status=MessageStatus.QUEUED,
                device_id=device_id,
                to=prepared.chat,
                type=prepared.type,
                created_at=now,
            )
            if idempotency_key is not None:
                session.add(
                    IdempotencyKey(
                        app_id=app_id,
                        key=idempotency_key,
                        request_hash=fingerprint,
                        message_id=message_id,
                        response=answer.model_dump(mode="json"),
                    )
                )
            return None if wait else SendResult(202, answer)

        try:
            result = await self._db.grouped(accept, preload=Preload(Device, device_id))
        except IntegrityError:
            # The same key raced in from another request: answer as its twin would.
            if idempotency_key is None:
                raise
            return await self.send(
                app_id,
                device_id,
                body,
                idempotency_key,
                wait,
                token_check=token_check,
                source=source,
            )
        if result is not None and result.body.message_id != message_id:
            return result  # an earlier request's answer, replayed
        self._queue.wake()
        if result is None:
            return await self._wait_until_sent(app_id, device_id, message_id)
        return result

    async def auto_reply(self, app_id: str, device_id: str, to: str, text: str) -> SendResult:
        """A text the gateway sends by itself (a rejected call's reply, CONTRACT §8.2): an
        ordinary queued message with `source: "auto"`."""
        body = SendMessageRequest(to=to, type="text", text=text)
        return await self.send(app_id, device_id, body, source="auto")

    async def _check_device(
        self, app_id: str, device_id: str, token_check: DeferredTokenCheck | None
    ) -> None:
        async with self._db.read() as session:
            if token_check is not None:
                await token_check.confirm(session)
            await DeviceService.load(session, app_id, device_id)

    async def _wait_until_sent(self, app_id: str, device_id: str, message_id: str) -> SendResult:
        changed = asyncio.Event()
        unsubscribe = self._queue.on_status_change(
            lambda mid: changed.set() if mid in (message_id, None) else None
        )
        deadline = asyncio.get_running_loop().time() + self._settings.send_wait_timeout
        try:
            while True:
                message = await self.get(app_id, device_id, message_id)
                if message.status in FINAL_FOR_WAIT:
                    return SendResult(200, accepted_of(message))
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise ApiError(
                        408,
                        "request_canceled",
                        "the message did not leave the device in time; it is still queued",
                        {"message_id": message_id, "status": message.status},
                    )
                changed.clear()
                try:  # woken by the queue, here or on another node; polling covers lost signals
                    await asyncio.wait_for(changed.wait(), min(remaining, 0.5))
                except TimeoutError:
                    pass
        finally:
            unsubscribe()

    async def get(self, app_id: str, device_id: str, message_id: str) -> Message:
        async with self._db.read() as session:
            await DeviceService.load(session, app_id, device_id)
            message = (
                await session.execute(
                    select(Message).where(
                        Message.id == message_id,
                        Message.device_id == device_id,
                        Message.app_id == app_id,
                    )
                )
            ).scalar_one_or_none()
        if message is None:
            raise not_found("message")
        return message

    async def list(
        self,
        app_id: str,
        device_id: str,
        *,
        direction: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        allow_destroyed: bool = False,
        source: str | None = None,
        chat: str | None = None,
    ) -> tuple[list[Message], str | None]:
        if direction is not None and direction not in ("inbound", "outbound"):
            raise validation_error("direction must be inbound or outbound", "direction")
        if source is not None and source not in MESSAGE_SOURCES:
            raise validation_error(f"source must be one of {', '.join(MESSAGE_SOURCES)}", "source")
        if not 1 <= limit <= MAX_PAGE:
            raise validation_error(f"limit must be between 1 and {MAX_PAGE}", "limit")
        stmt = (
            select(Message)
            .where(Message.app_id == app_id, Message.device_id == device_id)
            .order_by(Message.seq.desc())
            .limit(limit + 1)
        )
        if direction:
            stmt = stmt.where(Message.direction == direction)
        if status:
            stmt = stmt.where(Message.status == status)
        if source:
            stmt = stmt.where(Message.source == source)
        if chat:  # one chat's messages (CONTRACT §8.4), a JID as `normalise_recipient` gives
            stmt = stmt.where(Message.chat == chat)
        if since:
            stmt = stmt.where(Message.created_at >= _as_utc(since))
        if cursor:
            stmt = stmt.where(Message.seq < decode_cursor(cursor))
        async with self._db.read() as session:
            await DeviceService.load(session, app_id, device_id, allow_destroyed=allow_destroyed)
            rows = list((await session.execute(stmt)).scalars())
        next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
        return rows[:limit], next_cursor

    async def purge_idempotency_keys(self) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW
                )
            )


def _as_utc(since: datetime) -> datetime:
    """`since` in UTC (a time without an offset is UTC, as every time the API gives out), or
    400 on `since` when UTC cannot hold it (year 1 east of UTC, year 9999 west of it): the
    database column would have raised OverflowError, a 500."""
    try:
        return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    except OverflowError as exc:
        raise validation_error("since is out of range", "since") from exc
