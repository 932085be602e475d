"""History import (CONTRACT §8.4): the chats and messages WhatsApp sends a device after
linking, stored as `source: "history"` messages for a device with `history_sync`, each
engine batch in one write (inside the runtime's transaction for that device), announced by
one `history_sync` event per batch instead of a `message` event per message.

Bounds: the engine hands over no more than the device's limit per session
(`Engine.set_history_limit`); here the device's whole import is capped at
`WAGW_HISTORY_MAX_MESSAGES`, whatever the engine sent, and a message the device already has
(received live, or in an earlier part) is not stored twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import new_id, table_of, utcnow
from wagateway.core.deferred_writes import RowDefaults, defer_insert, write_deferred
from wagateway.devices.models import Device
from wagateway.engines.base import HistoryBatch, InboundMessage
from wagateway.messages.models import Message
from wagateway.messages.states import MessageStatus
from wagateway.webhooks.outbox import record_event

HISTORY = "history"
_MESSAGES = table_of(Message)
_HISTORY_ROW = RowDefaults(_MESSAGES)
# What a history message with an attachment says instead of a media_path: history media is
# announced by WhatsApp but not fetched (a large history would mean thousands of downloads).
HISTORY_MEDIA_NOT_FETCHED = "media of imported history is not downloaded"


async def store_history(
    session: AsyncSession, device: Device, batch: HistoryBatch, max_messages: int
) -> None:
    """Store what of `batch` is new and fits under the device's cap, oldest first (so a
    chat's messages keep their order), and record its `history_sync` event. Nothing at all
    for a device without `history_sync`."""
    if not device.history_sync:
        return
    # The group commit's other units may hold deferred message rows (the send queue's):
    # the check for known ids must see them.
    await session.run_sync(write_deferred, _MESSAGES)
    imported = device.history_imported
    room = max(0, max_messages - imported)
    fresh = await _not_yet_stored(session, device, batch.messages)
    # Over the cap, the newest are kept: what an inbox shows first.
    kept = fresh[len(fresh) - room :] if len(fresh) > room else fresh
    if kept:
        # Plain rows, inserted with the group's other new messages by one Core statement at
        # commit (`core/deferred_writes.py`), as the send queue's are: nothing reads them
        # back as ORM objects, and the ORM's bulk insert cost the event loop more per row.
        for message in kept:
            defer_insert(session, _MESSAGES, _HISTORY_ROW.complete(_row(device, message)))
        device.history_imported = imported + len(kept)
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="history_sync",
        payload={
            "chats": batch.chats,
            "messages": len(kept),
            "progress": batch.progress,
            "limit_reached": device.history_imported >= max_messages,
        },
    )


async def _not_yet_stored(
    session: AsyncSession, device: Device, messages: tuple[InboundMessage, ...]
) -> list[InboundMessage]:
    """The batch's messages the device does not have yet, each once, oldest first."""
    ids = list({m.wa_message_id for m in messages})
    if not ids:
        return []
    known = set(
        (
            await session.execute(
                select(Message.wa_message_id).where(
                    Message.device_id == device.id, Message.wa_message_id.in_(ids)
                )
            )
        ).scalars()
    )
    fresh: dict[str, InboundMessage] = {}
    for message in sorted(messages, key=lambda m: m.sent_at):
        if message.wa_message_id not in known:
            fresh.setdefault(message.wa_message_id, message)
    return list(fresh.values())


def _row(device: Device, m: InboundMessage) -> dict[str, Any]:
    own = m.from_me
    content = dict(m.content)
    if m.push_name and not own:
        content["push_name"] = m.push_name
    if m.media_size is not None:
        content["media_size"] = m.media_size
        content["media_error"] = HISTORY_MEDIA_NOT_FETCHED
    now = utcnow()
    return {
        "id": new_id(),
        "app_id": device.app_id,
        "device_id": device.id,
        "direction": "outbound" if own else "inbound",
        "source": HISTORY,
        "status": MessageStatus.SENT if own else MessageStatus.RECEIVED,
        "type": m.type,
        "chat": m.chat,
        "sender": (device.wa_number or m.sender_phone) if own else m.sender_phone,
        "sender_lid": None if own else m.sender_lid,
        "content": content,
        "reply_to": m.reply_to,
        "mentions": list(m.mentions),
        "forwarded": m.forwarded,
        "wa_message_id": m.wa_message_id,
        "sent_at": m.sent_at,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
