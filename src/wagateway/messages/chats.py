"""A device's chats (CONTRACT §8.4 `GET /devices/{id}/chats`), computed from its stored
messages: a chat appears once a message of it (inbound or outbound, a group's too) is
stored, and its last activity is its newest stored message.

`unread_count` counts the chat's inbound messages without `read_at`: it falls when the
device marks them read (`ChatActions.mark_read`) and when the owner reads them on the phone
(a read-self receipt, `ingest.apply_owner_read`). Imported history (`source: "history"`)
is not counted: WhatsApp does not say which of those the owner had read.

Index use: both queries filter on `(device_id, seq)` (`ix_messages_device_seq`), so a
device's chats cost one pass over that device's messages, whatever other devices hold.
There is no `(device_id, chat)` index (a schema change, for a later migration): a chat's
messages are found by walking the device's messages newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from wagateway.core.db import Database
from wagateway.core.errors import validation_error
from wagateway.devices.service import DeviceService
from wagateway.messages.models import Message
from wagateway.webhooks.service import decode_cursor, encode_cursor

MAX_PAGE = 200


@dataclass(frozen=True)
class ChatSummary:
    chat: str
    name: str | None
    last_message_at: datetime
    unread_count: int


def _unread() -> Any:
    return func.sum(
        case(
            (
                and_(
                    Message.direction == "inbound",
                    Message.read_at.is_(None),
                    Message.source != "history",
                ),
                1,
            ),
            else_=0,
        )
    )


async def list_chats(
    db: Database,
    app_id: str,
    device_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    allow_destroyed: bool = False,
) -> tuple[list[ChatSummary], str | None]:
    """The device's chats, the most recently active first; `cursor` pages on (a chat that
    becomes active while a client pages moves to the front, as in WhatsApp's own list)."""
    if not 1 <= limit <= MAX_PAGE:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}", "limit")
    last_seq = func.max(Message.seq)
    stmt = (
        select(Message.chat, last_seq, func.max(Message.created_at), _unread())
        .where(Message.app_id == app_id, Message.device_id == device_id)
        .group_by(Message.chat)
        .order_by(last_seq.desc())
        .limit(limit + 1)
    )
    if cursor:
        stmt = stmt.having(last_seq < decode_cursor(cursor))
    async with db.read() as session:
        await DeviceService.load(session, app_id, device_id, allow_destroyed=allow_destroyed)
        rows = list((await session.execute(stmt)).all())
        page = rows[:limit]
        names = await _names(session, device_id, [r[0] for r in page])
    next_cursor = encode_cursor(int(rows[limit - 1][1])) if len(rows) > limit else None
    return [
        ChatSummary(
            chat=chat,
            name=names.get(chat),
            last_message_at=last_at,
            unread_count=int(unread or 0),
        )
        for chat, _, last_at, unread in page
    ], next_cursor


async def _names(session: Any, device_id: str, chats: list[str]) -> dict[str, str]:
    """A one-to-one chat's name: the push name of the contact's newest stored message there
    (a group's subject is not in its messages: None)."""
    direct = [c for c in chats if not c.endswith("@g.us")]
    if not direct:
        return {}
    newest = (
        select(func.max(Message.seq))
        .where(
            Message.device_id == device_id,
            Message.chat.in_(direct),
            Message.direction == "inbound",
        )
        .group_by(Message.chat)
    )
    rows = await session.execute(
        select(Message.chat, Message.content).where(Message.seq.in_(newest))
    )
    names: dict[str, str] = {}
    for chat, content in rows:
        name = (content or {}).get("push_name")
        if isinstance(name, str) and name:
            names[chat] = name
    return names


async def unread_ids(db: Database, device_id: str, chat: str) -> tuple[str, ...]:
    """The WhatsApp ids of a chat's unread inbound messages, oldest first (the sandbox's
    owner reading the chat on the phone names them in its read-self receipt)."""
    async with db.read() as session:
        rows = await session.execute(
            select(Message.wa_message_id)
            .where(
                Message.device_id == device_id,
                Message.chat == chat,
                Message.direction == "inbound",
                Message.read_at.is_(None),
                Message.wa_message_id.is_not(None),
            )
            .order_by(Message.seq)
        )
        return tuple(str(wa_id) for (wa_id,) in rows)
