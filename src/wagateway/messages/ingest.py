"""What the engine tells about messages, applied to the store (inside the runtime's
transaction for that device): receipts advance a message's status, never back; inbound
messages are stored and announced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import utcnow
from wagateway.devices.models import Device
from wagateway.engines.base import InboundMessage, Receipt
from wagateway.messages import events
from wagateway.messages.models import Message

STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "played": 5}


def advances(current: str, new: str) -> bool:
    """A receipt moves a message forward only: a late `delivered` after `read` is ignored,
    as is a group's second participant reading what the first already read."""
    if current == "failed" or new not in STATUS_RANK:
        return False
    return STATUS_RANK[new] > STATUS_RANK.get(current, -1)


def _stamp(message: Message, status: str, at: datetime) -> None:
    if status == "delivered":
        message.delivered_at = message.delivered_at or at
    elif status in ("read", "played"):
        message.delivered_at = message.delivered_at or at
        message.read_at = message.read_at or at


async def apply_receipt(session: AsyncSession, device: Device, receipt: Receipt) -> None:
    stmt = select(Message).where(
        Message.device_id == device.id,
        Message.direction == "outbound",
        Message.wa_message_id.in_(receipt.wa_message_ids),
    )
    at = receipt.at or utcnow()
    for message in (await session.execute(stmt)).scalars():
        if not advances(message.status, receipt.status):
            continue
        message.status = receipt.status
        message.updated_at = utcnow()
        _stamp(message, receipt.status, at)
        events.receipt_event(session, message, receipt.participant)


async def store_inbound(session: AsyncSession, device: Device, inbound: InboundMessage) -> Message:
    message = Message(
        app_id=device.app_id,
        device_id=device.id,
        direction="inbound",
        status="received",
        type=inbound.type,
        chat=inbound.chat,
        sender=inbound.sender_phone,
        sender_lid=inbound.sender_lid,
        content=dict(inbound.content),
        reply_to=inbound.reply_to,
        mentions=list(inbound.mentions),
        forwarded=inbound.forwarded,
        wa_message_id=inbound.wa_message_id,
        sent_at=inbound.sent_at,
    )
    if inbound.push_name:
        message.content["push_name"] = inbound.push_name
    session.add(message)
    await session.flush()
    events.message_event(session, device, message)
    return message
