"""`message` and `receipt` webhook events (CONTRACT §4), built from the stored message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.addresses import jid_user
from wagateway.core.timefmt import rfc3339
from wagateway.devices.models import Device
from wagateway.media.links import MediaLinks
from wagateway.messages.models import Message
from wagateway.messages.schemas import error_of
from wagateway.webhooks.outbox import record_event


def message_event(
    session: AsyncSession, device: Device, m: Message, links: MediaLinks | None = None
) -> None:
    """The `message` event of `m`; with `links`, its `media_path` gets a signed `media_url`
    beside it, valid from now (CONTRACT §10). Only inbound messages have a `media_path`."""
    outbound = m.direction == "outbound"
    sender_phone = device.wa_number if outbound else m.sender
    record_event(
        session,
        app_id=m.app_id,
        device_id=m.device_id,
        event="message",
        payload={
            # Content first, so no content field can shadow an envelope field; a reaction's
            # target (`message_id` in the request) is reported as `reaction_to`.
            **{("reaction_to" if k == "message_id" else k): v for k, v in m.content.items()},
            "message_id": m.id,
            "wa_message_id": m.wa_message_id,
            "direction": m.direction,
            "from": sender_phone if outbound else (m.sender or m.sender_lid),
            "to": jid_user(m.chat) if outbound else device.wa_number,
            "chat": m.chat,
            "type": m.type,
            "media_path": m.media_path,
            "media_url": links.url(m.app_id, m.media_path) if links and m.media_path else None,
            "mentions": list(m.mentions or []),
            "forwarded": m.forwarded,
            "reply_to": m.reply_to,
            "sender_phone": sender_phone,
            "sender_lid": None if outbound else m.sender_lid,
            "timestamp": rfc3339(m.sent_at or m.created_at),
            # Who wrote it (CONTRACT §8.2): api, auto, phone, history, or contact.
            "source": m.source,
        },
    )


def receipt_event(session: AsyncSession, m: Message, participant: str | None = None) -> None:
    record_event(
        session,
        app_id=m.app_id,
        device_id=m.device_id,
        event="receipt",
        payload={
            # Content first, so no content field can shadow an envelope field; a reaction's
            # target (`message_id` in the request) is reported as `reaction_to`.
            **{("reaction_to" if k == "message_id" else k): v for k, v in m.content.items()},
            "message_id": m.id,
            "wa_message_id": m.wa_message_id,
            "status": m.status,
            "error": error_of(m),
            "chat": m.chat,
            "participant": participant,
        },
    )
