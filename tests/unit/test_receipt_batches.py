"""Writes that wait for their turn take company: receipts of one device that arrive while
their write waits join it (one device read, one message query) and never overtake another
event of the device handed over between them; sends of one device that finish while their
`sent` bookkeeping waits share its write too. Against the real store (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from tests.support.seeds import inbound_sink
from tests.support.sql import recorded_statements, selects_from
from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.devices.runtime import SessionRuntime
from wagateway.engines.base import Receipt, SessionEnded
from wagateway.media.store import LocalMediaStore
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.models import Message

CHAT = "6285550001111@s.whatsapp.net"


def _connected_device(device_id: str, name: str) -> Device:
    return Device(
        id=device_id,
        app_id="app",
        name=name,
        engine="sandbox",
        status="connected",
        connection="online",
        session_epoch=1,
    )


async def _store(tmp_path: Path, messages: int) -> tuple[Database, SessionRuntime, list[str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    wa_ids = [f"3EB0{n:04d}" for n in range(messages)]
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        session.add(_connected_device("dev", "desk"))
        for wa_id in wa_ids:
            session.add(
                Message(
                    app_id="app",
                    device_id="dev",
                    direction="outbound",
                    status="sent",
                    type="text",
                    chat=CHAT,
                    content={"text": "hi"},
                    wa_message_id=wa_id,
                )
            )
    runtime = SessionRuntime(db, [], inbound_sink(tmp_path / "media"))
    return db, runtime, wa_ids


def _receipt(wa_id: str, status: str, epoch: int = 1) -> Receipt:
    return Receipt("dev", epoch, (wa_id,), status, CHAT)


async def _statuses(db: Database) -> dict[str, str]:
    async with db.read() as session:
        rows = await session.execute(select(Message.wa_message_id, Message.status))
        return {wa_id or "": status for wa_id, status in rows}


def test_receipts_waiting_for_their_write_share_it(tmp_path: Path) -> None:
    async def scenario() -> tuple[dict[str, str], list[str]]:
        db, runtime, wa_ids = await _store(tmp_path, 20)
        statements = recorded_statements(db)
        # Handed over one after another, as an engine does, before any is written.
        writes = [runtime.handle(_receipt(wa_id, "delivered")) for wa_id in wa_ids]
        writes += [runtime.handle(_receipt(wa_id, "read")) for wa_id in wa_ids]
        await asyncio.gather(*writes)
        statuses = await _statuses(db)
        await db.dispose()
        return statuses, statements

    statuses, statements = asyncio.run(scenario())
    assert set(statuses.values()) == {"read"}
    message_queries = selects_from("messages", statements)
    device_reads = selects_from("devices", statements)
    assert len(message_queries) == 1, statements
    assert len(device_reads) == 1, device_reads


def test_a_receipt_never_overtakes_an_event_handed_over_before_it(tmp_path: Path) -> None:
    async def scenario() -> dict[str, str]:
        db, runtime, (first, second) = await _store(tmp_path, 2)
        writes = [
            runtime.handle(_receipt(first, "delivered")),
            # The session ends (epoch 1 is over): anything of epoch 1 after this is stale.
            runtime.handle(SessionEnded("dev", 1, reason="logged_out")),
            runtime.handle(_receipt(second, "delivered")),
        ]
        await asyncio.gather(*writes)
        statuses = await _statuses(db)
        await db.dispose()
        return statuses

    statuses = asyncio.run(scenario())
    # Had the late receipt joined the first one's write, it would have run before the
    # session ended and counted.
    assert statuses == {"3EB00000": "delivered", "3EB00001": "sent"}


def test_receipts_of_several_devices_share_one_write_unless_their_device_closed_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[dict[str, str], list[str]]:
        db, runtime, (first, second, third) = await _store(tmp_path, 3)
        async with db.transaction() as session:  # a second device with a message of its own
            session.add(_connected_device("dev2", "till"))
            message = (
                await session.execute(select(Message).where(Message.wa_message_id == third))
            ).scalar_one()
            message.device_id = "dev2"
        statements = recorded_statements(db)
        writes = [
            runtime.handle(_receipt(first, "delivered")),
            runtime.handle(Receipt("dev2", 1, (third,), "read", CHAT)),
            # "dev" ends its session: its later receipts must not join the open write, but
            # another device's receipts still may.
            runtime.handle(SessionEnded("dev", 1, reason="logged_out")),
            runtime.handle(_receipt(second, "delivered")),
            runtime.handle(Receipt("dev2", 1, (third,), "played", CHAT)),
        ]
        await asyncio.gather(*writes)
        statuses = await _statuses(db)
        await db.dispose()
        return statuses, statements

    statuses, statements = asyncio.run(scenario())
    assert statuses == {"3EB00000": "delivered", "3EB00001": "sent", "3EB00002": "played"}
    message_queries = selects_from("messages", statements)
    # The first write (both devices' first receipts), then the one opened by dev's receipt
    # after its session ended (that receipt is stale, dropped) which dev2's last one joined.
    assert len(message_queries) == 2, message_queries


def test_sends_finishing_while_their_bookkeeping_waits_share_its_write(tmp_path: Path) -> None:
    from wagateway.core.db import utcnow
    from wagateway.core.settings import Settings
    from wagateway.engines.base import SentMessage
    from wagateway.messages.queue import OutboundQueue
    from wagateway.webhooks.models import Event

    async def scenario() -> tuple[dict[str, str], list[str], int]:
        db, runtime, wa_ids = await _store(tmp_path, 20)
        async with db.transaction() as session:
            for message in (await session.execute(select(Message))).scalars():
                message.status = "sending"
            claimed = {
                m.wa_message_id: m for m in (await session.execute(select(Message))).scalars()
            }
        queue = OutboundQueue(
            Settings(),
            db,
            runtime,
            LocalMediaStore(tmp_path / "m"),
            "node",
            early_receipts=EarlyReceipts(),
        )
        statements = recorded_statements(db)
        writes = [
            queue._bookkeeping_for("dev", claimed[wa_id], SentMessage(wa_id, utcnow()))
            for wa_id in wa_ids
        ]
        await asyncio.gather(*writes)
        statuses = await _statuses(db)
        async with db.read() as session:
            events = len((await session.execute(select(Event))).scalars().all())
        await db.dispose()
        return statuses, statements, events

    statuses, statements, events = asyncio.run(scenario())
    assert set(statuses.values()) == {"sent"}
    assert events == 40  # each: the outbound `message` event and the `sent` receipt
    message_queries = selects_from("messages", statements)
    assert len(message_queries) == 1, statements
