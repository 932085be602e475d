"""A device's chats (CONTRACT §8.4 `GET /devices/{id}/chats`), computed from its stored
messages: a chat appears once a message of it (inbound or outbound, a group's too) is
stored, and its last activity is the time of its newest message (when it was sent on
WhatsApp; a message not sent yet, when it was queued). So imported history, stored after
what the device already had, still sorts by when it was written.

`unread_count` counts the chat's inbound messages without `read_at`: it falls when the
device marks them read (`ChatActions.mark_read`) and when the owner reads them on the phone
(a read-self receipt, `ingest.apply_owner_read`). Imported history (`source: "history"`)
is not counted: WhatsApp does not say which of those the owner had read.

Index use: the listing filters on `(device_id, seq)` (`ix_messages_device_seq`), so a
device's chats cost one pass over that device's messages, whatever other devices hold; a
chat's own messages and names use `(device_id, chat, seq)` (`ix_messages_device_chat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from wagateway.core.db import Database
from wagateway.core.errors import validation_error
from wagateway.core.opaque import opaque, unwrapped
from wagateway.devices.service import DeviceService
from wagateway.messages.models import Message

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
    """The device's chats, the most recently active first (ties: by chat, descending);
    `cursor` pages on (a chat that becomes active while a client pages moves to the front,
    as in WhatsApp's own list)."""
    if not 1 <= limit <= MAX_PAGE:
        raise validation_error(f"limit must be between 1 and {MAX_PAGE}", "limit")
    last_at = func.max(func.coalesce(Message.sent_at, Message.created_at))
    stmt = (
        select(Message.chat, last_at, _unread())
        .where(Message.app_id == app_id, Message.device_id == device_id)
        .group_by(Message.chat)
        .order_by(last_at.desc(), Message.chat.desc())
        .limit(limit + 1)
    )
    if cursor:
        after_at, after_chat = _decode_chat_cursor(cursor)
        stmt = stmt.having(
            or_(last_at < after_at, and_(last_at == after_at, Message.chat < after_chat))
        )
    async with db.read() as session:
        await DeviceService.load(session, app_id, device_id, allow_destroyed=allow_destroyed)
        rows = list((await session.execute(stmt)).all())
        page = rows[:limit]
        names = await _names(session, device_id, [r[0] for r in page])
    next_cursor = _chat_cursor(page[-1][1], page[-1][0]) if len(rows) > limit else None
    return [
        ChatSummary(
            chat=chat,
            name=names.get(chat),
            last_message_at=at,
            unread_count=int(unread or 0),
        )
        for chat, at, unread in page
    ], next_cursor


_CURSOR_PREFIX = "chat:"
_MAX_CURSOR_CHARS = 400


def _chat_cursor(last_at: datetime, chat: str) -> str:
    raw = f"{_CURSOR_PREFIX}{last_at.isoformat()}|{chat}"
    return opaque(raw)


def _decode_chat_cursor(cursor: str) -> tuple[datetime, str]:
    """(last activity, chat) of the last chat of a page, or 400 `validation_error` on
    `cursor` for anything this API did not hand out."""
    try:
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise ValueError
        raw = unwrapped(cursor)
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        at, separator, chat = raw.removeprefix(_CURSOR_PREFIX).partition("|")
        parsed = datetime.fromisoformat(at)
        if not separator or not chat or parsed.tzinfo is None:
            raise ValueError
    except ValueError as exc:
        raise validation_error("cursor is not one this API returned", "cursor") from exc
    return parsed, chat


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
