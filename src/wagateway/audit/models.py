from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, utcnow


class AuditEntry(Base):
    """One operator (or internal) action. Never holds a secret: only what was done, to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_app_seq", "app_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # "operator" (dashboard), "cli" or "internal" (allowlisted caller).
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(320))  # the operator's e-mail, or the address
    operator_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    app_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class LoginFailure(Base):
    """A refused secret, kept for the throttling window: a wrong password (`kind`
    "password", `subject` the e-mail tried) or a wrong rotation PIN ("pin", the app's id),
    with the address it came from. The table is the throttle's only state, so it holds
    across restarts and across every process serving the same database."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_kind_subject_at", "kind", "subject", "at"),
        Index("ix_login_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10), default="password", server_default="password")
    subject: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
