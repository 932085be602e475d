from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, UtcDateTime, utcnow


class SandboxSession(Base):
    """The sandbox engine's "session store": a linked device it can restore without a scan.

    Kept in the database (not in process memory) so a restart, or another node, finds it.
    """

    __tablename__ = "sandbox_sessions"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    device_jid: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
