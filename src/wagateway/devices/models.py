from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, UtcDateTime, new_id, utcnow


class Device(Base):
    """One WhatsApp account linked (or being linked) as a companion device."""

    __tablename__ = "devices"
    __table_args__ = (
        # Names are unique among an app's devices that are not destroyed (CONTRACT §2).
        Index(
            "uq_devices_app_name_live",
            "app_id",
            "name",
            unique=True,
            sqlite_where=text("status != 'destroyed'"),
            postgresql_where=text("status != 'destroyed'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    engine: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    connection: Mapped[str] = mapped_column(String(20), default="offline")
    qr: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    qr_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pairing_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    pairing_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wa_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    wa_device_jid: Mapped[str | None] = mapped_column(String(100), nullable=True)
    linked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # Bumped whenever a new engine session starts (pairing, restore, logout): engine events
    # carry the epoch they belong to, so a late event from an abandoned session is ignored.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Send pacing overrides (rate_per_second, jitter, typing_seconds, daily_cap); None = inherit.
    pacing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The app's call and presence policies, overridden for this device; None = inherit.
    call_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    presence_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Import the history WhatsApp sends at the next link (CONTRACT §8.4).
    history_sync: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How many history messages the device has stored (capped at WAGW_HISTORY_MAX_MESSAGES).
    history_imported: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
