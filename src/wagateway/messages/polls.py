"""Polls the device sent, as votes name them: WhatsApp identifies a chosen option only by
the SHA-256 of its text (`engines.base.poll_option_hash`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from wagateway.core.db import Database
from wagateway.engines.base import poll_option_hash
from wagateway.messages.models import Message


def options_by_hash(options: list[Any]) -> dict[str, str]:
    return {poll_option_hash(str(o)): str(o) for o in options}


async def sent_poll(
    db: Database, device_id: str, ref: str
) -> tuple[str, str, list[str], bool] | None:
    """The device's sent poll named by its gateway id or its WhatsApp id: (wa_message_id,
    chat, options, multiple choice), or None when there is no such sent poll."""
    async with db.read() as session:
        stmt = select(Message).where(
            Message.device_id == device_id,
            Message.direction == "outbound",
            Message.wa_message_id.is_not(None),
            or_(Message.id == ref, Message.wa_message_id == ref),
        )
        for message in (await session.execute(stmt)).scalars():
            options = message.content.get("poll_options")
            if message.wa_message_id and isinstance(options, list):
                multi = bool(message.content.get("poll_multi"))
                return message.wa_message_id, message.chat, [str(o) for o in options], multi
    return None
