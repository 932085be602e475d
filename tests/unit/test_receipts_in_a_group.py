"""Receipts against the real store (SQLite) under group commit: the two orders in which a
whatsmeow send's bookkeeping and its receipt can reach the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.core.db import Database, utcnow
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.engines.base import Receipt
from wagateway.messages import ingest
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.models import Message


async def _store(tmp_path: Path) -> tuple[Database, int]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="whatsmeow", webhook_secret_enc="x"))
        session.add(
            Device(id="dev", app_id="app", name="desk", engine="whatsmeow", status="connected")
        )
        message = Message(
            app_id="app",
            device_id="dev",
            direction="outbound",
            status="sending",
            type="text",
            chat="6285550001111@s.whatsapp.net",
            content={"text": "hi"},
        )
        session.add(message)
        await session.flush()
        seq = message.seq
    return db, seq


def _mark_sent(seq: int, early: EarlyReceipts | None = None):  # type: ignore[no-untyped-def]
    async def unit(session: AsyncSession) -> None:
        row = await session.get(Message, seq)
        device = await session.get(Device, "dev")
        assert row is not None and device is not None
        ingest.mark_sent(session, device, row, "3EB0REAL", utcnow())
        for receipt in early.waiting("dev", "3EB0REAL") if early else []:
            ingest.advance(session, device, row, receipt)

    return unit


def _receipt(status: str) -> Receipt:
    return Receipt("dev", 1, ("3EB0REAL",), status, "6285550001111@s.whatsapp.net")


def _apply(receipt: Receipt, early: EarlyReceipts | None = None):  # type: ignore[no-untyped-def]
    async def unit(session: AsyncSession) -> list[str]:
        device = await session.get(Device, "dev")
        assert device is not None
        unmatched = [wa for _, wa, _ in await ingest.apply_receipts(session, [(device, [receipt])])]
        for wa_id in unmatched:
            if early is not None:
                early.hold("dev", wa_id, receipt)
        return unmatched

    return unit


async def _status(db: Database, seq: int) -> str:
    async with db.read() as session:
        row = await session.get(Message, seq)
        assert row is not None
        return row.status


def test_a_receipt_right_after_the_send_in_the_same_group_finds_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, seq = await _store(tmp_path)
        sent = db.submit(_mark_sent(seq))  # same group: the new id is not flushed yet
        read = db.submit(_apply(_receipt("read")))
        await sent
        assert await read == []
        assert await _status(db, seq) == "read"
        await db.dispose()

    asyncio.run(scenario())


def test_a_receipt_before_the_send_is_held_and_applied_by_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, seq = await _store(tmp_path)
        early = EarlyReceipts()
        assert await db.grouped(_apply(_receipt("delivered"), early)) == ["3EB0REAL"]
        assert await _status(db, seq) == "sending"
        await db.grouped(_mark_sent(seq, early))
        assert await _status(db, seq) == "delivered"
        await db.dispose()

    asyncio.run(scenario())


def test_held_receipts_are_bounded_expire_and_repeat_once() -> None:
    early = EarlyReceipts(hold_seconds=60, per_device=2)
    read = _receipt("read")
    early.hold("dev", "a", read)
    early.hold("dev", "a", read)  # a group retried alone applies its receipt again
    assert early.waiting("dev", "a") == [read]
    early.hold("dev", "b", read)
    early.hold("dev", "c", read)  # over the bound: the oldest goes
    assert early.waiting("dev", "a") == [] and early.waiting("dev", "c") == [read]
    early.discard("dev", "c")
    assert early.waiting("dev", "c") == []

    expired = EarlyReceipts(hold_seconds=-1)
    expired.hold("dev", "a", read)
    assert expired.waiting("dev", "a") == []
