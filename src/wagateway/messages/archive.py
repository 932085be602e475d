"""What happens to a device's messages when the device is deleted (CONTRACT §2)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, utcnow
from wagateway.messages import events
from wagateway.messages.models import Message
from wagateway.messages.states import PENDING, MessageStatus
from wagateway.messages.status_writes import change_status


async def retire_device_messages(session: AsyncSession, device_id: str) -> list[str]:
    """Fail what is still queued (`device_destroyed`), archive everything, and return the
    media keys to delete once the transaction has committed."""
    pending = (
        await session.execute(
            select(Message).where(Message.device_id == device_id, Message.status.in_(PENDING))
        )
    ).scalars()
    for message in pending:
        change_status(
            session,
            message,
            MessageStatus.FAILED,
            error_code="device_destroyed",
            error_message="the device was deleted before the message was sent",
            claimed_by=None,
            claimed_until=None,
            updated_at=utcnow(),
        )
        events.receipt_event(session, message)
    await session.flush()
    keys = (
        await session.execute(
            select(Message.media_key).where(
                Message.device_id == device_id, Message.media_key.is_not(None)
            )
        )
    ).scalars()
    media = [k for k in keys if k]
    await session.execute(
        update(Message).where(Message.device_id == device_id).values(archived=True)
    )
    return media


async def messages_after(
    db: Database, app_id: str, device_id: str, after_seq: int, limit: int
) -> list[Message]:
    """A batch of the device's messages, live or archived, oldest first, after `after_seq`."""
    async with db.read() as session:
        stmt = (
            select(Message)
            .where(
                Message.app_id == app_id, Message.device_id == device_id, Message.seq > after_seq
            )
            .order_by(Message.seq)
            .limit(limit)
        )
        return list((await session.execute(stmt)).scalars())


async def message_with_media(db: Database, app_id: str, media_path: str) -> Message | None:
    """The app's message whose attachment is stored at `media_path` (None: not the app's)."""
    async with db.read() as session:
        stmt = select(Message).where(Message.media_path == media_path, Message.app_id == app_id)
        return (await session.execute(stmt)).scalar_one_or_none()
