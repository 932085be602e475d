"""Messages the account sends from the phone or another linked device (CONTRACT §8.2,
`source: "phone"`), against the real store (SQLite): stored as the chat's outbound messages
and announced, but never a second time, and never for an echo of the gateway's own send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.engines.base import InboundMessage
from wagateway.media.store import LocalMediaStore, MediaStore
from wagateway.messages import ingest
from wagateway.messages.models import Message
from wagateway.webhooks.models import Event

OWN = "6281234567890"
CHAT = "6285550001111@s.whatsapp.net"
SENT_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


async def _store(tmp_path: Path) -> Database:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="whatsmeow", webhook_secret_enc="x"))
        session.add(
            Device(
                id="dev",
                app_id="app",
                name="desk",
                engine="whatsmeow",
                status="connected",
                wa_number=OWN,
            )
        )
        session.add(  # what the gateway sent through the API
            Message(
                app_id="app",
                device_id="dev",
                direction="outbound",
                status="sent",
                type="text",
                chat=CHAT,
                sender=OWN,
                content={"text": "dari API"},
                wa_message_id="3EB0API",
            )
        )
    return db


def _own(wa_message_id: str, text: str, *, from_me: bool = True) -> InboundMessage:
    return InboundMessage(
        "dev",
        1,
        wa_message_id=wa_message_id,
        chat=CHAT,
        sender_phone=OWN if from_me else "6285550001111",
        sender_lid=None,
        type="text",
        content={"text": text},
        sent_at=SENT_AT,
        push_name="Toko",
        from_me=from_me,
    )


def _ingest(db: Database, media: MediaStore, inbound: InboundMessage) -> asyncio.Future[str | None]:
    async def unit(session: AsyncSession) -> str | None:
        device = await session.get(Device, "dev")
        assert device is not None
        stored = await ingest.store_inbound(session, device, inbound, media, 1024)
        return stored.id if stored is not None else None

    return asyncio.ensure_future(db.grouped(unit))


def test_phone_messages_are_stored_once_and_echoes_of_the_gateways_sends_never(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        db = await _store(tmp_path)
        media = LocalMediaStore(tmp_path / "media")
        echo = await _ingest(db, media, _own("3EB0API", "dari API"))
        phone = await _ingest(db, media, _own("3EB0PHONE", "dari HP"))
        again = await _ingest(db, media, _own("3EB0PHONE", "dari HP"))  # delivered twice
        contact = await _ingest(db, media, _own("3EB0THEIRS", "halo", from_me=False))
        assert echo is None and again is None
        assert phone is not None and contact is not None
        async with db.read() as session:
            rows = {
                m.wa_message_id: m
                for m in (await session.execute(select(Message).order_by(Message.seq))).scalars()
            }
            events = list((await session.execute(select(Event).order_by(Event.seq))).scalars())
        assert list(rows) == ["3EB0API", "3EB0PHONE", "3EB0THEIRS"]
        mine = rows["3EB0PHONE"]
        assert (mine.id, mine.direction, mine.source, mine.status) == (
            phone,
            "outbound",
            "phone",
            "sent",
        )
        assert (mine.chat, mine.sender, mine.sender_lid) == (CHAT, OWN, None)
        assert mine.sent_at == SENT_AT and mine.content == {"text": "dari HP"}
        theirs = rows["3EB0THEIRS"]
        assert (theirs.direction, theirs.source, theirs.status) == (
            "inbound",
            "contact",
            "received",
        )
        assert [
            (e.event, e.payload["wa_message_id"], e.payload["direction"], e.payload["source"])
            for e in events
        ] == [
            ("message", "3EB0PHONE", "outbound", "phone"),
            ("message", "3EB0THEIRS", "inbound", "contact"),
        ]
        first = events[0].payload
        assert (first["from"], first["to"], first["chat"]) == (OWN, "6285550001111", CHAT)
        assert first["timestamp"] == "2026-12-01T09:30:00.000Z"
        await db.dispose()

    asyncio.run(scenario())
