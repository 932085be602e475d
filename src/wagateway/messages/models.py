from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, new_id, utcnow


class Message(Base):
    """A message, outbound or inbound. An outbound row *is* its queue entry (the outbox):
    written with the 202, claimed by the device's sender, never deleted."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_device_seq", "device_id", "seq"),
        Index("ix_messages_queue", "status", "device_id", "next_attempt_at"),
        Index("ix_messages_device_wa_id", "device_id", "wa_message_id"),
        # A chat's messages (`/chats/{chat}/messages`, a chat's name) without walking all
        # of the device's: history imports make devices hold many chats.
        Index("ix_messages_device_chat", "device_id", "chat", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # A client-made unique key marked as insert sentinel lets SQLite insert many rows in one
    # statement and still match the generated seqs back to them (else: row by row).
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id, insert_sentinel=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(10))  # outbound | inbound
    # A `messages.states.MessageStatus`; changed only through `messages/status_writes.py`.
    status: Mapped[str] = mapped_column(String(12))
    # Who wrote it: api | auto (the gateway itself) | phone (the account, on another of its
    # devices) | history (imported) | contact (an inbound message from someone else).
    source: Mapped[str] = mapped_column(String(10), default="api", server_default="api")
    type: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(120))  # the JID of the conversation
    sender: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sender_lid: Mapped[str | None] = mapped_column(String(120), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    media_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    media_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reply_to: Mapped[str | None] = mapped_column(String(120), nullable=True)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    wa_message_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyKey(Base):
    """An `Idempotency-Key` seen in the last 24 h, with the first answer given for it."""

    __tablename__ = "idempotency_keys"

    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(36))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
