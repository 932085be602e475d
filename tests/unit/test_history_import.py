"""History import's store rules (CONTRACT §8.4), against the real store (SQLite): only for
a device with `history_sync`; capped per device at WAGW_HISTORY_MAX_MESSAGES whatever the
engine hands over (the newest kept); a message already stored is not stored again; one
`history_sync` event per batch, no `message` event; chats sort by when their messages were
written, not by when they were imported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from wagateway.apps.models import App
from wagateway.core.db import Database, table_of
from wagateway.core.deferred_writes import defer_insert
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.engines.base import HistoryBatch, InboundMessage
from wagateway.messages.chats import list_chats
from wagateway.messages.history import store_history
from wagateway.messages.models import Message
from wagateway.messages.service import outbound_row
from wagateway.webhooks.models import Event

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OLD_CHAT = "6285500000009@s.whatsapp.net"
NEW_CHAT = "6285500000001@s.whatsapp.net"


def _inbound(wa_id: str, chat: str, minutes: int, *, own: bool = False) -> InboundMessage:
    return InboundMessage(
        "dev",
        1,
        wa_message_id=wa_id,
        chat=chat,
        sender_phone="6281234567890" if own else chat.partition("@")[0],
        sender_lid=None,
        type="text",
        content={"text": wa_id},
        sent_at=AT + timedelta(minutes=minutes),
        push_name=None if own else "Ani",
        from_me=own,
    )


def _batch(*messages: InboundMessage, progress: int = 50) -> HistoryBatch:
    return HistoryBatch("dev", 1, messages, len({m.chat for m in messages}), progress)


def test_history_is_stored_capped_deduplicated_and_announced_per_batch(tmp_path: Path) -> None:
    async def main() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
            for device_id, history_sync in (("dev", True), ("off", False)):
                session.add(
                    Device(
                        id=device_id,
                        app_id="app",
                        name=device_id,
                        engine="sandbox",
                        status="connected",
                        wa_number="6281234567890",
                        history_sync=history_sync,
                    )
                )
            # received live before the history arrived: later than every history message
            session.add(
                Message(
                    app_id="app",
                    device_id="dev",
                    direction="inbound",
                    status="received",
                    source="contact",
                    type="text",
                    chat=OLD_CHAT,
                    content={"text": "live"},
                    wa_message_id="LIVE",
                    sent_at=AT + timedelta(days=1),
                )
            )

        async def store(device_id: str, batch: HistoryBatch, cap: int) -> None:
            async with db.transaction() as session:
                device = await session.get(Device, device_id)
                assert device is not None
                await store_history(session, device, batch, cap)

        first = _batch(
            _inbound("N2", NEW_CHAT, 30),
            _inbound("N1", NEW_CHAT, 20, own=True),
            _inbound("O1", OLD_CHAT, 1),
            _inbound("LIVE", OLD_CHAT, 2),  # the device has it already
            _inbound("N2", NEW_CHAT, 30),  # twice in one part
        )
        await store("dev", first, cap=5)
        await store("off", first, cap=5)
        # a later part: three new, room for two more under the cap of five
        await store(
            "dev",
            _batch(
                _inbound("N3", NEW_CHAT, 40),
                _inbound("N4", NEW_CHAT, 50),
                _inbound("O0", OLD_CHAT, 0),
                _inbound("O1", OLD_CHAT, 1),
                progress=100,
            ),
            cap=5,
        )

        async with db.read() as session:
            rows = list((await session.execute(select(Message).order_by(Message.seq))).scalars())
            events = list((await session.execute(select(Event).order_by(Event.seq))).scalars())
        history = [m for m in rows if m.source == "history"]
        assert [m.wa_message_id for m in history] == ["O1", "N1", "N2", "N3", "N4"]
        assert {m.device_id for m in history} == {"dev"}  # nothing for a device without it
        own = next(m for m in history if m.wa_message_id == "N1")
        assert (own.direction, own.status, own.sender) == ("outbound", "sent", "6281234567890")
        theirs = next(m for m in history if m.wa_message_id == "N2")
        assert (theirs.direction, theirs.status) == ("inbound", "received")
        assert theirs.content == {"text": "N2", "push_name": "Ani"}
        assert theirs.sent_at == AT + timedelta(minutes=30)
        assert [(e.event, e.device_id) for e in events] == [("history_sync", "dev")] * 2
        assert [e.payload for e in events] == [
            {"chats": 2, "messages": 3, "progress": 50, "limit_reached": False},
            {"chats": 2, "messages": 2, "progress": 100, "limit_reached": True},
        ]

        listed, _ = await list_chats(db, "app", "dev")
        # the chat with the live message is the most recent, though its history came later
        assert [(c.chat, c.unread_count) for c in listed] == [(OLD_CHAT, 1), (NEW_CHAT, 0)]
        assert listed[1].last_message_at == AT + timedelta(minutes=50)
        await db.dispose()

    asyncio.run(main())


def test_history_sees_message_rows_its_group_commit_has_not_written_yet(tmp_path: Path) -> None:
    """A history batch shares its transaction with other writes (group commit), such as the
    send queue's deferred message rows: they count as stored, and nothing trips over them."""

    async def main() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
            session.add(
                Device(
                    id="dev",
                    app_id="app",
                    name="dev",
                    engine="sandbox",
                    status="connected",
                    wa_number="6281234567890",
                    history_sync=True,
                )
            )
        async with db.transaction() as session:
            device = await session.get(Device, "dev")
            assert device is not None
            queued = outbound_row(
                id="queued-1",
                app_id="app",
                device_id="dev",
                type="text",
                chat=NEW_CHAT,
                sender="6281234567890",
                content={"text": "queued"},
                created_at=AT,
            )
            defer_insert(session, table_of(Message), {**queued, "wa_message_id": "N1"})
            await store_history(
                session,
                device,
                _batch(_inbound("N1", NEW_CHAT, 1), _inbound("N2", NEW_CHAT, 2)),
                10,
            )
        async with db.read() as session:
            rows = (await session.execute(select(Message.wa_message_id, Message.source))).all()
        assert sorted(rows) == [("N1", "api"), ("N2", "history")]
        await db.dispose()

    asyncio.run(main())
