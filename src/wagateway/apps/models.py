from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, UtcDateTime, new_id, utcnow


class App(Base):
    """A tenant (a "project" in the dashboard)."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    engine: Mapped[str] = mapped_column(String(20))
    webhook_url: Mapped[str] = mapped_column(String(2000), default="")
    domain_url: Mapped[str] = mapped_column(String(2000), default="")
    webhook_secret_enc: Mapped[str] = mapped_column(String(500))
    # During a webhook secret rotation both secrets sign until this moment.
    webhook_secret_prev_enc: Mapped[str | None] = mapped_column(String(500), nullable=True)
    webhook_secret_prev_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    rotation_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rotation_pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Device quota override (None = WAGW_MAX_DEVICES_PER_APP; 0 = no quota).
    max_devices: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # API rate limit overrides (see apps/limits.py); None = inherit the server's defaults.
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Send pacing overrides (rate_per_second, jitter, typing_seconds, daily_cap); None = inherit.
    pacing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Incoming calls: {"reject": bool, "reply_text": str | None}; None = calls are only reported.
    call_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # "on_demand" | "always_online"; None = on_demand (see devices/policies.py).
    presence_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # Set when the app is deleted (the admin API): its devices destroyed, its tokens revoked,
    # its records kept; an archived app is "not found" everywhere.
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AppToken(Base):
    """An app token: looked up by hash, kept encrypted for reveal, never stored in clear."""

    __tablename__ = "app_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set on rotation: the old token works until then (grace period), never after.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
