from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, new_id, utcnow

DEFAULT_ENDPOINT = "default"
APP_LEVEL = ""  # the device key of an app's events that belong to no device


class Event(Base):
    """A domain event: the outbox row, written in the same transaction as the change that
    caused it, and never changed by its delivery.

    `seq` orders a device's events, `id` is the request_id receivers dedupe on. Where each
    endpoint has got to is in `WebhookStream` (one position per endpoint and device), so an
    event costs one row however many endpoints it goes to.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_device_seq", "app_id", "device_id", "seq"),
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
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    # The delivery state an event had before several endpoints (migration 0011), kept as it
    # was so that a downgrade finds it: nothing writes or reads these columns any more.
    legacy_state: Mapped[str | None] = mapped_column(
        "state", String(20), nullable=True, deferred=True
    )
    legacy_attempt_count: Mapped[int | None] = mapped_column(
        "attempt_count", Integer, nullable=True, deferred=True
    )
    legacy_next_attempt_at: Mapped[datetime | None] = mapped_column(
        "next_attempt_at", UtcDateTime, nullable=True, deferred=True
    )
    legacy_claimed_by: Mapped[str | None] = mapped_column(
        "claimed_by", String(64), nullable=True, deferred=True
    )
    legacy_claimed_until: Mapped[datetime | None] = mapped_column(
        "claimed_until", UtcDateTime, nullable=True, deferred=True
    )
    legacy_last_status_code: Mapped[int | None] = mapped_column(
        "last_status_code", Integer, nullable=True, deferred=True
    )
    legacy_last_error: Mapped[str | None] = mapped_column(
        "last_error", String(1000), nullable=True, deferred=True
    )
    legacy_delivered_at: Mapped[datetime | None] = mapped_column(
        "delivered_at", UtcDateTime, nullable=True, deferred=True
    )


class WebhookEndpoint(Base):
    """Where an app's events go (CONTRACT §10): a URL, filters and a secret of its own.

    The endpoint `default` is the app's `webhook_url` with the app's secret (`url` and
    `secret_enc` are empty on it: the app's columns are the one place they are kept).
    `announced_seq`: every event up to it has been looked at for this endpoint (its devices
    have streams); an endpoint gets the events after the one that was newest when it was
    created or enabled.
    """

    __tablename__ = "webhook_endpoints"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    device_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_enc: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret_prev_enc: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret_prev_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    announced_seq: Mapped[int] = mapped_column(SeqType, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def wants(self, event: str, device_id: str | None) -> bool:
        """Whether this endpoint's filters let an event through (an event of no device
        passes the device filter)."""
        return (not self.events or event in self.events) and self.takes_device(device_id)

    def takes_device(self, device_id: str | None) -> bool:
        """Whether the device filter lets a device's events through (None: an event of no
        device, which always passes)."""
        return not self.device_ids or device_id is None or device_id in self.device_ids


def _of_endpoint() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["app_id", "endpoint_id"],
        ["webhook_endpoints.app_id", "webhook_endpoints.endpoint_id"],
        ondelete="CASCADE",
    )


class WebhookStream(Base):
    """Where one endpoint has got to in one device's events: the delivery state of the hot
    path, one row per endpoint and device, not one per event.

    Events after `position` (in `seq` order, through the endpoint's filters) are the
    endpoint's to deliver, the first of them (the head) retried on schedule: `attempt_count`
    failed attempts so far, the next one at `next_attempt_at`. `active`: events after
    `position` may exist (a look that finds none clears it, an event announced sets it).
    A stream is leased (`claimed_by`, `claimed_until`) while a run of it is delivered.
    """

    __tablename__ = "webhook_streams"
    __table_args__ = (_of_endpoint(), Index("ix_webhook_streams_due", "active", "next_attempt_at"))

    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_key: Mapped[str] = mapped_column(String(36), primary_key=True)  # APP_LEVEL: none
    position: Mapped[int] = mapped_column(SeqType, default=0)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookRedelivery(Base):
    """One past event sent again to one endpoint (a redelivery, or a test event), outside its
    device's order, with a retry schedule of its own."""

    __tablename__ = "webhook_redeliveries"
    __table_args__ = (_of_endpoint(), Index("ix_webhook_redeliveries_due", "next_attempt_at"))

    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_seq: Mapped[int] = mapped_column(
        ForeignKey("events.seq", ondelete="CASCADE"), primary_key=True
    )
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookFailure(Base):
    """An event an endpoint gave up on (its retry schedule spent, or it cannot be sent):
    `failed` in the delivery log until it is redelivered."""

    __tablename__ = "webhook_failures"
    __table_args__ = (_of_endpoint(),)

    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_seq: Mapped[int] = mapped_column(
        ForeignKey("events.seq", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookAttempt(Base):
    """One HTTP attempt to deliver an event to an endpoint: what was tried and what came
    back (an endpoint's delivery log)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq", ondelete="CASCADE"), index=True)
    # Kept when the endpoint is deleted: the log of what was sent stays.
    endpoint_id: Mapped[str] = mapped_column(
        String(36), default=DEFAULT_ENDPOINT, server_default=DEFAULT_ENDPOINT
    )
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
