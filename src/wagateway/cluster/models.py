from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wagateway.core.db import Base, SeqType, UtcDateTime, utcnow


class ClusterNode(Base):
    """A `wagateway serve` process using this database, as its heartbeats say.

    `node_id` is the data dir's (`core/node.py`); `instance` is this process's own, new at
    each start; `host` and `data_dir` tell a restart of the same installation (which takes
    its row over at once) from a copy of its data dir elsewhere (refused while the original
    is live)."""

    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(36))
    host: Mapped[str] = mapped_column(String(255))
    data_dir: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    devices_owned: Mapped[int] = mapped_column(Integer, default=0)


class ClusterSetting(Base):
    """Facts every node must agree on, by name (`key_check`: a keyed digest of the master
    key, so a node started with another WAGW_SECRET_KEY refuses to start)."""

    __tablename__ = "cluster_settings"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))


class DeviceOwner(Base):
    """Which node holds a device's WhatsApp session (CONTRACT §9: exactly one at a time).

    The owner is a process (`instance`, the `cluster_nodes` row's), not a node id: a node
    that restarts is a new owner and takes its devices back like any other. An owner whose
    node row is gone (it left, or was found dead and removed) owns nothing: its rows are
    free to be taken. `token` grows at each change of owner: the fencing token."""

    __tablename__ = "device_owners"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(36), index=True)
    token: Mapped[int] = mapped_column(BigInteger, default=1)
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class NodeCall(Base):
    """A call for a device made on one node and carried out by the node that holds the
    device (CONTRACT §9): the caller writes it for its owner (`target`, a process), the
    owner takes it (`running`), answers it (`done`, `response`), and the caller reads the
    answer and deletes the row. A row nobody answered before `expires_at` is withdrawn by
    its caller, or swept once it is old."""

    __tablename__ = "node_calls"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(36))
    target: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    request: Mapped[str] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_node_calls_target_state", "target", "state"),)
