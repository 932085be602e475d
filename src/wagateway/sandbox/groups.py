"""The sandbox's group world in the database (CONTRACT §8.3, §8.5): the groups each device's
account is in, their settings and members. WhatsApp's rules are kept by the engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.sandbox.models import SandboxGroup, SandboxGroupMember, SandboxSession

Group = tuple[SandboxGroup, list[SandboxGroupMember]]


async def seed(
    session: AsyncSession,
    stored: SandboxSession,
    *,
    jid: str,
    subject: str,
    description: str,
    created_at: datetime,
    others: Sequence[str],
) -> None:
    """Give an account its group world once: the sandbox group, with the account as its
    owner and admin (a group it later leaves stays left)."""
    if stored.groups_seeded:
        return
    stored.groups_seeded = True
    if await session.get(SandboxGroup, (stored.device_id, jid)) is not None:
        return
    own = f"{stored.phone}@s.whatsapp.net"
    session.add(
        SandboxGroup(
            device_id=stored.device_id,
            jid=jid,
            subject=subject,
            description=description,
            owner=own,
            announce=False,
            locked=False,
            created_at=created_at,
        )
    )
    await session.flush()
    for member in (own, *others):
        session.add(
            SandboxGroupMember(
                device_id=stored.device_id, group_jid=jid, jid=member, admin=member == own
            )
        )


async def load(session: AsyncSession, device_id: str, jid: str | None = None) -> list[Group]:
    """The device's groups (or the one named), members in the order they joined… by JID."""
    query = select(SandboxGroup).where(SandboxGroup.device_id == device_id)
    if jid is not None:
        query = query.where(SandboxGroup.jid == jid)
    groups = list((await session.scalars(query.order_by(SandboxGroup.jid))).all())
    if not groups:
        return []
    members = (
        await session.scalars(
            select(SandboxGroupMember)
            .where(
                SandboxGroupMember.device_id == device_id,
                SandboxGroupMember.group_jid.in_([g.jid for g in groups]),
            )
            .order_by(SandboxGroupMember.jid)
        )
    ).all()
    by_group: dict[str, list[SandboxGroupMember]] = {g.jid: [] for g in groups}
    for member in members:
        by_group[member.group_jid].append(member)
    return [(g, by_group[g.jid]) for g in groups]


async def forget(session: AsyncSession, device_id: str, jid: str) -> None:
    """The account left (or lost) the group: the device no longer sees it."""
    await session.execute(
        delete(SandboxGroupMember).where(
            SandboxGroupMember.device_id == device_id, SandboxGroupMember.group_jid == jid
        )
    )
    await session.execute(
        delete(SandboxGroup).where(SandboxGroup.device_id == device_id, SandboxGroup.jid == jid)
    )
