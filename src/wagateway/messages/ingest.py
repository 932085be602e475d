"""What the engine tells about messages, applied to the store (inside the runtime's
transaction for that device): receipts advance a message's status, never back; inbound
messages are stored and announced."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import new_id, utcnow
from wagateway.core.timefmt import rfc3339
from wagateway.devices.models import Device
from wagateway.engines.base import (
    ChatPresence,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    OwnerRead,
    PollVote,
    PresenceUpdate,
    Receipt,
)
from wagateway.media.links import MediaLinks
from wagateway.media.store import MediaStore
from wagateway.messages import events
from wagateway.messages.models import Message
from wagateway.messages.polls import options_by_hash
from wagateway.messages.states import MessageStatus, after_receipt
from wagateway.messages.status_writes import change_status
from wagateway.webhooks.outbox import record_event


def _stamps(message: Message, status: MessageStatus, at: datetime) -> dict[str, Any]:
    if status == MessageStatus.DELIVERED:
        return {"delivered_at": message.delivered_at or at}
    if status in (MessageStatus.READ, MessageStatus.PLAYED):
        return {"delivered_at": message.delivered_at or at, "read_at": message.read_at or at}
    return {}


def mark_sent(
    session: AsyncSession, device: Device, message: Message, wa_message_id: str, sent_at: datetime
) -> None:
    """`sending` → `sent`, with the outbound `message` event and the `sent` receipt."""
    if not change_status(
        session,
        message,
        MessageStatus.SENT,
        wa_message_id=wa_message_id,
        sent_at=sent_at,
        updated_at=utcnow(),
        claimed_by=None,
        claimed_until=None,
        error_code=None,
        error_message=None,
    ):
        return
    events.message_event(session, device, message)
    events.receipt_event(session, message)


async def apply_receipts(
    session: AsyncSession, receipts_of: list[tuple[Device, list[Receipt]]]
) -> list[tuple[str, str, Receipt]]:
    """Advance every message the receipts name, each device's in its receipts' order, with
    one query for all of them; return the (device_id, wa_message_id, receipt) triples that
    matched no message (yet)."""
    wanted = {
        wa_id
        for _, receipts in receipts_of
        for receipt in receipts
        for wa_id in receipt.wa_message_ids
    }
    if not wanted:
        return []
    stmt = select(Message).where(
        Message.device_id.in_([device.id for device, _ in receipts_of]),
        Message.direction == "outbound",
        Message.wa_message_id.in_(wanted),
    )
    found: dict[tuple[str, str], dict[str, Message]] = {}
    for message in (await session.execute(stmt)).scalars():
        found.setdefault((message.device_id, message.wa_message_id or ""), {})[message.id] = message
    unmatched: list[tuple[str, str, Receipt]] = []
    for device, receipts in receipts_of:
        for receipt in receipts:
            for wa_id in receipt.wa_message_ids:
                messages = found.get((device.id, wa_id))
                if not messages:
                    unmatched.append((device.id, wa_id, receipt))
                    continue
                for message in messages.values():
                    advance(session, device, message, receipt)
    return unmatched


def advance(session: AsyncSession, device: Device, message: Message, receipt: Receipt) -> None:
    """Move one message forward by one receipt (never back)."""
    at = receipt.at or utcnow()
    if message.status == MessageStatus.SENDING and after_receipt(message.status, receipt.status):
        # The recipient has it, so it was sent, even if the sender's own bookkeeping
        # has not been written yet (it will then find the message already `sent`).
        mark_sent(session, device, message, message.wa_message_id or "", at)
    status = after_receipt(message.status, receipt.status)
    if status is None:
        return
    if change_status(session, message, status, updated_at=utcnow(), **_stamps(message, status, at)):
        events.receipt_event(session, message, receipt.participant)


async def store_inbound(
    session: AsyncSession,
    device: Device,
    inbound: InboundMessage,
    media_store: MediaStore,
    media_max_bytes: int,
    links: MediaLinks | None = None,
) -> Message | None:
    """A message that arrived on the device, stored and announced: a contact's (`inbound`,
    source `contact`), or one the account sent from the phone or another linked device
    (`outbound`, source `phone`, already `sent`). None for an account's message the device
    already has as outbound: an echo of the gateway's own send, or one delivered twice."""
    if inbound.from_me and await _known_outbound(session, device, inbound.wa_message_id):
        return None
    own = inbound.from_me
    message = Message(
        id=new_id(),
        app_id=device.app_id,
        device_id=device.id,
        direction="outbound" if own else "inbound",
        source="phone" if own else "contact",
        status=MessageStatus.SENT if own else MessageStatus.RECEIVED,
        type=inbound.type,
        chat=inbound.chat,
        # As for the gateway's own sends, the account is the sender.
        sender=(device.wa_number or inbound.sender_phone) if own else inbound.sender_phone,
        sender_lid=None if own else inbound.sender_lid,
        content=dict(inbound.content),
        reply_to=inbound.reply_to,
        mentions=list(inbound.mentions),
        forwarded=inbound.forwarded,
        wa_message_id=inbound.wa_message_id,
        sent_at=inbound.sent_at,
    )
    if inbound.push_name and not own:
        message.content["push_name"] = inbound.push_name
    size = (
        inbound.media_size
        if inbound.media_size is not None
        else (len(inbound.media) if inbound.media is not None else None)
    )
    if size is not None:
        message.content["media_size"] = size
        if size > media_max_bytes or inbound.media is None:
            # Not stored: the event says so instead of pointing at a file.
            message.content["media_error"] = (
                f"media of {size} bytes is over MEDIA_MAX_BYTES ({media_max_bytes})"
                if size > media_max_bytes
                else "media could not be downloaded"
            )
        else:
            path = media_path_for(device, message.id, str(message.content.get("mime_type", "")))
            await media_store.put(path, inbound.media)
            message.media_path = path
            message.media_key = path
    session.add(message)
    await session.flush()
    if message.type in RESPONSE_EVENTS:
        response_event(session, device, message)
    else:
        events.message_event(session, device, message, links)
    return message


async def _known_outbound(session: AsyncSession, device: Device, wa_message_id: str) -> bool:
    await session.flush()  # the same message may have arrived in this same transaction
    stmt = (
        select(Message.id)
        .where(
            Message.device_id == device.id,
            Message.direction == "outbound",
            Message.wa_message_id == wa_message_id,
        )
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


# A contact's answer to an interactive message is stored as a message of this type and
# announced as its own event (CONTRACT §8.2), not as `message`.
RESPONSE_EVENTS = {
    "button_response": ("selected_id", "selected_text"),
    "list_response": ("selected_row_id", "title"),
}


def response_event(session: AsyncSession, device: Device, m: Message) -> None:
    record_event(
        session,
        app_id=m.app_id,
        device_id=m.device_id,
        event=m.type,
        payload={
            "message_id": m.id,
            "wa_message_id": m.wa_message_id,
            "reply_to": m.reply_to,
            "chat": m.chat,
            "from": m.sender or m.sender_lid,
            **{key: m.content.get(key) for key in RESPONSE_EVENTS[m.type]},
            "sender_phone": m.sender,
            "sender_lid": m.sender_lid,
            "timestamp": rfc3339(m.sent_at or m.created_at),
        },
    )


def media_path_for(device: Device, message_id: str, mime_type: str) -> str:
    """`media/{app_id}/{device_id}-{message_id}.{ext}` (CONTRACT §3)."""
    ext = (mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin").lstrip(".")
    return f"media/{device.app_id}/{device.id}-{message_id}.{ext}"


async def apply_revoke(session: AsyncSession, device: Device, revoke: MessageRevoked) -> None:
    """`message_revoked` (CONTRACT §8.2): the stored message (if the gateway has it) is marked
    `revoked` in its content; `message_id` is its id, null for a message never seen."""
    await session.flush()  # the revoked message may have arrived in this same transaction
    stmt = (
        select(Message)
        .where(Message.device_id == device.id, Message.wa_message_id == revoke.wa_message_id)
        .order_by(Message.created_at, Message.id)
    )
    found = list((await session.execute(stmt)).scalars())
    for message in found:
        message.content = {**message.content, "revoked": True}
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="message_revoked",
        payload={
            "message_id": found[0].id if found else None,
            "wa_message_id": revoke.wa_message_id,
            "chat": revoke.chat,
            "by": revoke.by if revoke.by is not None else revoke.sender,
            "sender": revoke.sender,
        },
    )


async def apply_edit(session: AsyncSession, device: Device, edit: MessageEdited) -> None:
    """`message_edited` (CONTRACT §8.2): the stored message's text (or, for media, caption) is
    replaced and `edited_at` kept in its content; `message_id` is null for a message the
    gateway never stored."""
    await session.flush()  # the edited message may have arrived in this same transaction
    stmt = (
        select(Message)
        .where(Message.device_id == device.id, Message.wa_message_id == edit.wa_message_id)
        .order_by(Message.created_at, Message.id)
    )
    found = list((await session.execute(stmt)).scalars())
    edited_at = rfc3339(edit.edited_at)
    for message in found:
        field = "text" if message.type == "text" else "caption"
        message.content = {**message.content, field: edit.text, "edited_at": edited_at}
        message.updated_at = utcnow()
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="message_edited",
        payload={
            "message_id": found[0].id if found else None,
            "wa_message_id": edit.wa_message_id,
            "chat": edit.chat,
            "from": edit.sender_phone or edit.sender_lid,
            "text": edit.text,
            "edited_at": edited_at,
        },
    )


async def apply_poll_vote(session: AsyncSession, device: Device, vote: PollVote) -> None:
    """`poll_response` (CONTRACT §8.2). WhatsApp names the chosen options by hash only: for a
    poll the gateway stored they become texts, `selected_options`, and the voter's current
    choice is kept in the poll's `content.poll_votes`; for any other, `selected_options` is
    null and only `selected_hashes` tell."""
    await session.flush()
    stmt = (
        select(Message)
        .where(Message.device_id == device.id, Message.wa_message_id == vote.poll_wa_message_id)
        .order_by(Message.created_at, Message.id)
    )
    poll = next(
        (
            m
            for m in (await session.execute(stmt)).scalars()
            if isinstance(m.content.get("poll_options"), list)
        ),
        None,
    )
    voter = vote.voter_phone or vote.voter_lid
    selected: list[str] | None = None
    if poll is not None:
        known = options_by_hash(poll.content["poll_options"])
        selected = [known[h] for h in vote.selected_hashes if h in known]
        votes = dict(poll.content.get("poll_votes") or {})
        votes[voter or ""] = selected
        poll.content = {**poll.content, "poll_votes": votes}
        poll.updated_at = utcnow()
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="poll_response",
        payload={
            "message_id": poll.id if poll is not None else None,
            "wa_message_id": vote.poll_wa_message_id,
            "chat": vote.chat,
            "voter": voter,
            "selected_options": selected,
            "selected_hashes": list(vote.selected_hashes),
            "voted_at": rfc3339(vote.voted_at),
        },
    )


def presence_event(session: AsyncSession, device: Device, update: PresenceUpdate) -> None:
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="presence",
        payload={
            "jid": update.jid,
            "presence": update.presence,
            "last_seen": rfc3339(update.last_seen),
        },
    )


def chat_presence_event(session: AsyncSession, device: Device, update: ChatPresence) -> None:
    """`chat_presence`: a contact typing, recording or paused in a chat (CONTRACT §8.2)."""
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="chat_presence",
        payload={"chat": update.chat, "jid": update.jid, "state": update.state},
    )


async def apply_owner_read(session: AsyncSession, device: Device, read: OwnerRead) -> None:
    """The owner read messages on the phone (a read-self receipt): the named inbound messages,
    and every earlier unread inbound message of their chat, get `read_at` (what
    `unread_count` counts, CONTRACT §8.4). The chat is the stored messages' own (WhatsApp may
    name it by LID where the gateway stored the phone JID). Nothing is sent to WhatsApp: the
    phone already told the senders."""
    if not read.wa_message_ids:
        return
    newest = (
        await session.execute(
            select(Message.chat, func.max(Message.seq))
            .where(
                Message.device_id == device.id,
                Message.wa_message_id.in_(read.wa_message_ids),
                Message.direction == "inbound",
            )
            .group_by(Message.chat)
        )
    ).all()
    at = read.at or utcnow()
    for chat, seq in newest:
        await session.execute(
            update(Message)
            .where(
                Message.device_id == device.id,
                Message.seq <= seq,
                Message.chat == chat,
                Message.direction == "inbound",
                Message.read_at.is_(None),
            )
            .values(read_at=at)
            .execution_options(synchronize_session=False)
        )
