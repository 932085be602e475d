"""The owner reads a chat on the phone (CONTRACT §8.4 `unread_count`): a read-self receipt
(`OwnerRead`) marks the named inbound messages, and every earlier unread inbound message of
their chat, read; against the real store (SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.engines.base import OwnerRead
from wagateway.messages import ingest
from wagateway.messages.chats import list_chats
from wagateway.messages.models import Message

CHAT = "6285550001111@s.whatsapp.net"
OTHER = "6285550002222@s.whatsapp.net"
AT = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def _message(
    wa_id: str, chat: str, direction: str = "inbound", source: str | None = None
) -> Message:
    return Message(
        app_id="app",
        device_id="dev",
        direction=direction,
        status="received" if direction == "inbound" else "sent",
        source=source or ("contact" if direction == "inbound" else "api"),
        type="text",
        chat=chat,
        content={"text": wa_id},
        wa_message_id=wa_id,
    )


def test_owner_read_marks_named_and_earlier_messages_of_their_chat(tmp_path: Path) -> None:
    async def main() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="whatsmeow", webhook_secret_enc="x"))
            session.add(
                Device(id="dev", app_id="app", name="desk", engine="whatsmeow", status="connected")
            )
            for message in (
                _message("A1", CHAT),
                _message("B1", OTHER),
                _message("OUT", CHAT, "outbound"),
                _message("A2", CHAT),
                _message("A3", CHAT),
                _message("B2", OTHER),
                _message("H1", OTHER, source="history"),  # imported: not counted unread
            ):
                session.add(message)
        before = {c.chat: c.unread_count for c in (await list_chats(db, "app", "dev"))[0]}
        assert before == {CHAT: 3, OTHER: 2}
        # WhatsApp names the chat by LID here: the stored messages' own chat is what counts.
        read = OwnerRead("dev", 1, chat="98765432101234@lid", wa_message_ids=("A2",), at=AT)
        async with db.transaction() as session:
            device = await session.get(Device, "dev")
            assert device is not None
            await ingest.apply_owner_read(session, device, read)
            await ingest.apply_owner_read(
                session, device, OwnerRead("dev", 1, chat=CHAT, wa_message_ids=("NONE",))
            )
        async with db.read() as session:
            read_at = {
                m.wa_message_id: m.read_at
                for m in (await session.execute(select(Message))).scalars()
            }
        assert {k for k, v in read_at.items() if v is not None} == {"A1", "A2"}
        assert read_at["H1"] is None
        assert read_at["A1"] == read_at["A2"] == AT
        after = {c.chat: c.unread_count for c in (await list_chats(db, "app", "dev"))[0]}
        assert after == {CHAT: 1, OTHER: 2}, "A3 came later; the other chat is untouched"
        await db.dispose()

    asyncio.run(main())
