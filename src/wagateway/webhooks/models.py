from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, new_id, utcnow
from wagateway.webhooks.states import EventState


class Event(Base):
    """A domain event and its webhook delivery state: the outbox row.

    Written in the same transaction as the change that caused it; `seq` orders a device's
    events, `id` is the request_id receivers dedupe on.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_pending", "state", "device_id", "seq"),
        Index("ix_events_app_seq", "app_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    # A client-made unique key marked as insert sentinel lets SQLite insert many rows in one
    # statement and still match the generated seqs back to them (else: row by row).
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id, insert_sentinel=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # EventState; its transitions are in webhooks/states.py
    state: Mapped[str] = mapped_column(String(20), default=EventState.PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookAttempt(Base):
    """One HTTP attempt to deliver an event: what was tried and what came back."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
