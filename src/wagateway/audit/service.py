"""Writing and reading the audit log. An entry is written in the same transaction as the
action it records, so the log never claims an action that did not happen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.audit.models import AuditEntry
from wagateway.core.db import Database


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator in the dashboard, the host's CLI, or an allowlisted caller."""

    kind: str
    name: str
    operator_id: str | None = None
    ip: str | None = None


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    app_id: str | None = None,
    device_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_kind=actor.kind,
            actor=actor.name,
            operator_id=actor.operator_id,
            action=action,
            app_id=app_id,
            device_id=device_id,
            ip=actor.ip,
            detail=detail or None,
        )
    )


async def record_done(
    db: Database,
    actor: Actor,
    action: str,
    *,
    app_id: str | None = None,
    device_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """An entry in a transaction of its own, for an action whose change another process or
    the engine committed (the running gateway's API for the CLI, a sandbox phone, the send
    queue), so there is no transaction of the action to join: written once it is done."""
    async with db.transaction() as session:
        record(session, actor, action, app_id=app_id, device_id=device_id, detail=detail)


async def recent_entries(
    db: Database, app_ids: list[str] | None, limit: int = 100
) -> list[AuditEntry]:
    async with db.read() as session:
        return await recent(session, app_ids, limit)


async def recent(
    session: AsyncSession, app_ids: list[str] | None, limit: int = 100
) -> list[AuditEntry]:
    """The newest entries: of the given projects, or all of them (`None`, for admins)."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if app_ids is not None:
        stmt = stmt.where(AuditEntry.app_id.in_(app_ids))
    return list((await session.execute(stmt)).scalars())
