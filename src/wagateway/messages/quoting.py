"""The message a reply quotes or a reaction targets, named by either id (CONTRACT §8.1).

Resolved when a send is accepted and kept in the outbound message's `content["quoted"]`:
its WhatsApp id, its sender's JID (the account's own JID for a message the device sent),
whether the device sent it, and its text, so that the engines can build a quote WhatsApp
shows (whatsmeow: ContextInfo stanzaID + participant + quotedMessage) and a reaction key
with the right fromMe / participant. An id the gateway does not know is passed on as a
WhatsApp id, as before (the message may predate the gateway)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.devices.models import Device
from wagateway.messages.models import Message


def _jid(user: str) -> str:
    return user if "@" in user else f"{user}@s.whatsapp.net"


async def quoted(
    session: AsyncSession, app_id: str, device: Device, ref: str
) -> dict[str, Any] | None:
    """The device's message with this gateway id, else this WhatsApp id (the newest), as the
    `quoted` record; None when the gateway has no such message (or it has no WhatsApp id)."""
    rows = list(
        (
            await session.execute(
                select(Message)
                .where(
                    Message.app_id == app_id,
                    Message.device_id == device.id,
                    or_(Message.id == ref, Message.wa_message_id == ref),
                )
                .order_by(Message.seq.desc())
            )
        ).scalars()
    )
    by_id = [m for m in rows if m.id == ref]
    found = next(iter(by_id or rows), None)
    if found is None or not found.wa_message_id:
        return None
    from_me = found.direction == "outbound"
    if from_me:
        sender = _jid(device.wa_number) if device.wa_number else None
    elif found.sender:
        sender = _jid(found.sender)
    else:
        sender = found.sender_lid or found.chat
    content = found.content or {}
    text = content.get("text") or content.get("caption")
    return {
        "wa_message_id": found.wa_message_id,
        "sender": sender,
        "from_me": from_me,
        "text": str(text) if text else None,
    }
