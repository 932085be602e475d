from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, utcnow


class SandboxSession(Base):
    """The sandbox engine's "session store": a linked device it can restore without a scan.

    Kept in the database (not in process memory) so a restart, or another node, finds it.
    """

    __tablename__ = "sandbox_sessions"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    device_jid: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SandboxReceived(Base):
    """The simulated network's durable record of every message it received from a device.

    WhatsApp recipients dedupe by message id; so does this record: a resend of the same
    wa_message_id only increments `times_received`. Tests read it across crashes.
    """

    __tablename__ = "sandbox_received"

    wa_message_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    to_jid: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))
    first_received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    times_received: Mapped[int] = mapped_column(Integer, default=1)


class SandboxNetworkEntry(Base):
    """The simulated network's durable log of everything a device did on it (CONTRACT §8.5),
    every attempt (a resend is one more entry with the same wa_message_id).

    One row per act: its `kind` (message, connect, disconnect, and later read, presence,
    group changes…) and what it says in `detail`, so a new kind needs no schema change.
    `seq` orders the log."""

    __tablename__ = "sandbox_network"
    __table_args__ = (Index("ix_sandbox_network_device_seq", "device_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
