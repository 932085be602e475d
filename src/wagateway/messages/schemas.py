from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from wagateway.core.addresses import MAX_MENTIONS
from wagateway.media.links import MediaLinks
from wagateway.messages.models import Message

MessageType = Literal[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "contact",
    "location",
    "reaction",
    "interactive",
]


class Button(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class SendMessageRequest(BaseModel):
    """One body for every type; which fields are required depends on `type` (CONTRACT §3)."""

    to: str = Field(description="phone number, phone JID, LID JID or group JID")
    type: MessageType = "text"
    text: str | None = None
    preview_url: bool | None = Field(
        None,
        description="text: send a link preview of the first URL, fetched by the gateway under "
        "the outbound address rules (none if the fetch fails or is refused)",
    )
    url: str | None = Field(None, description="media source: fetched by the gateway")
    data_base64: str | None = Field(None, description="media source: the bytes, base64")
    mime_type: str | None = None
    caption: str | None = None
    ptt: bool | None = None
    file_name: str | None = None
    contact_name: str | None = None
    vcard: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    name: str | None = None
    message_id: str | None = Field(
        None, description="reaction: the message reacted to, by its message_id or wa_message_id"
    )
    emoji: str | None = None
    buttons: list[Button] | None = None
    poll_question: str | None = None
    poll_options: list[str] | None = None
    poll_multi: bool | None = None
    footer: str | None = None
    reply_to: str | None = Field(
        None, description="the message to quote, by its message_id or wa_message_id"
    )
    mentions: list[str] | None = Field(
        None, max_length=MAX_MENTIONS, description="JIDs or numbers to mention (at most 1024)"
    )


class SendAccepted(BaseModel):
    message_id: str
    status: str
    device_id: str
    to: str
    type: str
    created_at: datetime
    wa_message_id: str | None = None
    error: dict[str, Any] | None = None


class MessageOut(BaseModel):
    message_id: str
    device_id: str
    direction: str
    status: str
    type: str
    to: str | None
    chat: str
    sender: str | None
    sender_lid: str | None
    wa_message_id: str | None
    content: dict[str, Any]
    media_path: str | None
    media_url: str | None = Field(
        None,
        description="a signed link to the attachment that works without a token until it "
        "expires (WAGW_MEDIA_URL_SECONDS from this answer)",
    )
    reply_to: str | None
    mentions: list[str]
    forwarded: bool
    error: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    expires_at: datetime | None
    edited_at: datetime | None = Field(
        None, description="when the text or caption was last edited (by the app or the sender)"
    )
    revoked: bool = Field(False, description="deleted for everyone")
    source: str = Field(
        "api",
        description="who wrote it: api (sent through the gateway), auto (by the gateway "
        "itself), phone (the account, from the phone or another linked device), history "
        "(imported), contact (an inbound message from someone else)",
    )

    @classmethod
    def of(cls, m: Message, links: MediaLinks | None = None) -> MessageOut:
        return cls(
            message_id=m.id,
            device_id=m.device_id,
            direction=m.direction,
            status=m.status,
            type=m.type,
            to=m.chat if m.direction == "outbound" else None,
            chat=m.chat,
            sender=m.sender,
            sender_lid=m.sender_lid,
            wa_message_id=m.wa_message_id,
            content=m.content,
            media_path=m.media_path,
            media_url=links.url(m.app_id, m.media_path) if links and m.media_path else None,
            reply_to=m.reply_to,
            mentions=list(m.mentions or []),
            forwarded=m.forwarded,
            error=error_of(m),
            attempts=m.attempts,
            created_at=m.created_at,
            updated_at=m.updated_at,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
            expires_at=m.expires_at,
            edited_at=m.content.get("edited_at"),
            revoked=bool(m.content.get("revoked")),
            source=m.source,
        )


def error_of(m: Message) -> dict[str, Any] | None:
    if not m.error_code:
        return None
    return {"code": m.error_code, "message": m.error_message}


class MessageList(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None
