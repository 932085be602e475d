"""Chat actions on a connected device (CONTRACT §8.1): read receipts, chat presence
("typing…"), the account's own presence. Each asks the device's engine, and records only
what the engine did."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.addresses import normalise_recipient
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.devices.models import Device
from wagateway.devices.refusals import engine_failed, not_connected
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Status
from wagateway.engines.base import CHAT_PRESENCE_STATES, PRESENCE_STATES, Engine, EngineError
from wagateway.messages.models import Message

# One read receipt names at most this many messages; a longer backlog takes several.
READ_BATCH = 100


def sender_jid(message: Message) -> str:
    """Whom a read receipt for an inbound message goes to: the chat itself in a one-to-one
    chat, the participant who wrote it in a group."""
    if not message.chat.endswith("@g.us"):
        return message.chat
    if message.sender:
        return message.sender if "@" in message.sender else f"{message.sender}@s.whatsapp.net"
    return message.sender_lid or message.chat


class ChatActions:
    def __init__(self, db: Database, runtime: SessionRuntime) -> None:
        self._db = db
        self._runtime = runtime

    async def _connected(self, app_id: str, device_id: str) -> tuple[Device, Engine]:
        async with self._db.read() as session:
            device = await DeviceService.load(session, app_id, device_id)
        if device.status != Status.CONNECTED:
            raise not_connected(device)
        return device, self._engine(device)

    def _engine(self, device: Device) -> Engine:
        try:
            return self._runtime.engine_for(device.engine)
        except EngineError as exc:
            raise engine_failed(exc) from exc

    async def mark_read(self, app_id: str, device_id: str, message_id: str) -> Message:
        """Mark an inbound message, and every earlier unread inbound message of its chat,
        read: WhatsApp shows the senders blue ticks. `message_id`: the gateway's id or the
        WhatsApp id. Returns the message, `read_at` set."""
        async with self._db.read() as session:
            device = await DeviceService.load(session, app_id, device_id)
            target = await _find(session, app_id, device_id, message_id)
            if target is None:
                raise not_found("message")
            if target.direction != "inbound":
                raise ApiError(
                    409,
                    "conflict",
                    "only a received (inbound) message can be marked read",
                    {"message_id": target.id, "direction": target.direction},
                )
            if device.status != Status.CONNECTED:
                raise not_connected(device)
            unread = list(
                (
                    await session.execute(
                        select(Message)
                        .where(
                            Message.app_id == app_id,
                            Message.device_id == device_id,
                            Message.chat == target.chat,
                            Message.direction == "inbound",
                            Message.read_at.is_(None),
                            Message.wa_message_id.is_not(None),
                            Message.seq <= target.seq,
                        )
                        .order_by(Message.seq)
                    )
                ).scalars()
            )
        engine = self._engine(device)
        by_sender: dict[str, list[Message]] = defaultdict(list)
        for message in unread:
            by_sender[sender_jid(message)].append(message)
        done: list[int] = []
        failure: EngineError | None = None
        for sender, messages in by_sender.items():
            for start in range(0, len(messages), READ_BATCH):
                batch = messages[start : start + READ_BATCH]
                ids = tuple(str(m.wa_message_id) for m in batch)
                try:
                    await engine.mark_read(device.id, target.chat, sender, ids)
                except EngineError as exc:
                    failure = exc
                    break
                done.extend(m.seq for m in batch)
            if failure is not None:
                break
        if done:  # what WhatsApp was told is recorded, even if a later receipt failed
            async with self._db.transaction() as session:
                await session.execute(
                    update(Message)
                    .where(Message.seq.in_(done), Message.read_at.is_(None))
                    .values(read_at=utcnow())
                )
        if failure is not None:
            raise engine_failed(failure)
        async with self._db.read() as session:
            read = await session.get(Message, target.seq)
        assert read is not None
        return read

    async def send_chat_presence(
        self, app_id: str, device_id: str, chat: str, state: str
    ) -> tuple[str, str]:
        """Show "typing…" / "recording audio…" in a chat, or clear it (`paused`).
        Returns the chat's JID and the state."""
        if state not in CHAT_PRESENCE_STATES:
            raise validation_error(
                f"state must be one of {', '.join(CHAT_PRESENCE_STATES)}", "state"
            )
        jid = normalise_recipient(chat, "chat")
        device, engine = await self._connected(app_id, device_id)
        try:
            await engine.send_chat_presence(device.id, jid, state)
        except EngineError as exc:
            raise engine_failed(exc) from exc
        return jid, state

    async def send_presence(self, app_id: str, device_id: str, state: str) -> str:
        """The account's own online state."""
        if state not in PRESENCE_STATES:
            raise validation_error(f"state must be one of {', '.join(PRESENCE_STATES)}", "state")
        device, engine = await self._connected(app_id, device_id)
        try:
            await engine.send_presence(device.id, state)
        except EngineError as exc:
            raise engine_failed(exc) from exc
        return state


async def _find(
    session: AsyncSession, app_id: str, device_id: str, message_id: str
) -> Message | None:
    """The device's message with this gateway id, else with this WhatsApp id (the newest,
    should WhatsApp ids ever repeat)."""
    rows = (
        await session.execute(
            select(Message)
            .where(
                Message.app_id == app_id,
                Message.device_id == device_id,
                or_(Message.id == message_id, Message.wa_message_id == message_id),
            )
            .order_by(Message.seq.desc())
        )
    ).scalars()
    found = list(rows)
    by_id = [m for m in found if m.id == message_id]
    return next(iter(by_id or found), None)
