from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, false
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
    # The simulated group world of this account was set up (the sandbox group seeded): a
    # group the account leaves stays left.
    groups_seeded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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


class SandboxGroup(Base):
    """A group of the simulated network as one device's account sees it (CONTRACT §8.3, §8.5):
    the groups it is in, with their settings."""

    __tablename__ = "sandbox_groups"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    jid: Mapped[str] = mapped_column(String(120), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    announce: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The code of its invite link (https://chat.whatsapp.com/<code>), once asked for.
    invite_code: Mapped[str | None] = mapped_column(String(40), nullable=True)


class SandboxGroupMember(Base):
    """A member of a simulated group (a phone JID), and whether it is an admin."""

    __tablename__ = "sandbox_group_members"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_jid: Mapped[str] = mapped_column(String(120), primary_key=True)
    jid: Mapped[str] = mapped_column(String(120), primary_key=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)


class SandboxSessionRecord(Base):
    """The simulated WhatsApp's record of each live session of a device (CONTRACT §9): which
    node opened it, when, and how it ended. A witness, not the nodes' own claim: an open
    record counts as live only while the session-level lock its node took on its database
    connection is held (`sandbox/witness.py`), as a socket would be; a node that dies
    closes its sessions without its cooperation. A second live session of a device replaces
    the first (`close_reason` "replaced")."""

    __tablename__ = "sandbox_session_records"
    __table_args__ = (Index("ix_sandbox_session_records_device", "device_id", "id"),)

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(36))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
