"""A send the engine cannot finish because its worker process died mid-call (the supervisor
fails calls in flight with `engine_unavailable`) is not lost: the message goes back to the
queue for a later attempt, and the device's sender stops instead of dying with the error.
And a sender that dies anyway (an error nothing expected: the database gone mid-run) leaves
nothing `sending`: the queue puts its claims back and sends them again, same id. Against the
real store (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.unit.test_receipt_batches import _store
from wagateway.apps.pacing import Pacing
from wagateway.core.db import utcnow
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.engines.base import EngineError, OutboundMessage, SentMessage
from wagateway.media.store import LocalMediaStore
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.models import Message
from wagateway.messages.queue import OutboundQueue


class _DyingWorker:
    """An engine whose worker process dies while a send is on its way."""

    def __init__(self) -> None:
        self.sends: list[OutboundMessage] = []

    async def send(self, device_id: str, message: OutboundMessage) -> Any:
        self.sends.append(message)
        raise EngineError("engine_unavailable", "the engine worker stopped; try again")


def test_a_send_cut_off_by_a_dying_engine_worker_is_queued_again(tmp_path: Path) -> None:
    async def scenario() -> tuple[str, Message, int]:
        db, runtime, _ = await _store(tmp_path, 1)
        engine = _DyingWorker()
        runtime.engine_for = lambda name: engine  # type: ignore[method-assign,assignment,return-value]
        async with db.transaction() as session:
            message = (await session.execute(select(Message))).scalar_one()
            # Claimed by this node, as the queue's claim leaves it.
            message.status, message.attempts, message.claimed_by = "sending", 1, "node"
            device = await session.get(Device, "dev")
        queue = OutboundQueue(
            Settings(),  # type: ignore[call-arg]
            db,
            runtime,
            LocalMediaStore(tmp_path / "m"),
            "node",
            early_receipts=EarlyReceipts(),
        )
        assert device is not None
        outcome = await queue._send(message, device, Pacing(0, 0, 0, 0), [])
        async with db.read() as session:
            stored = (await session.execute(select(Message))).scalar_one()
        await db.dispose()
        return outcome, stored, len(engine.sends)

    before = utcnow()
    outcome, stored, sends = asyncio.run(scenario())
    assert sends == 1
    assert outcome == "stop", "the device's run stops: its engine is gone for now"
    assert stored.status == "queued", "back in the queue, not left `sending` under its lease"
    assert stored.error_code == "engine_unavailable"
    assert stored.next_attempt_at > before and stored.claimed_by is None


class _FailingOnce:
    """An engine whose first send fails with an error no sender expects."""

    def __init__(self) -> None:
        self.sends: list[str] = []

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        self.sends.append(message.wa_message_id)
        if len(self.sends) == 1:
            raise OSError("the database went away mid-send")
        return SentMessage(message.wa_message_id, utcnow())


def test_a_sender_that_dies_leaves_nothing_sending_and_its_message_goes_out(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[Message, list[str]]:
        db, runtime, _ = await _store(tmp_path, 1)
        engine = _FailingOnce()
        runtime.engine_for = lambda name: engine  # type: ignore[method-assign,assignment,return-value]
        async with db.transaction() as session:
            message = (await session.execute(select(Message))).scalar_one()
            message.status, message.next_attempt_at = "queued", utcnow()
        queue = OutboundQueue(
            Settings(pacing_rate_per_second=0, send_poll_interval=0.05),  # type: ignore[call-arg]
            db,
            runtime,
            LocalMediaStore(tmp_path / "m"),
            "node",
            early_receipts=EarlyReceipts(),
        )
        await queue.start()
        try:
            for _ in range(200):
                async with db.read() as session:
                    stored = (await session.execute(select(Message))).scalar_one()
                if stored.status == "sent":
                    break
                await asyncio.sleep(0.05)
        finally:
            await queue.stop()
            await db.dispose()
        return stored, engine.sends

    stored, sends = asyncio.run(scenario())
    assert stored.status == "sent", "left `sending` by the sender that died"
    assert len(sends) == 2 and sends[0] == sends[1] == stored.wa_message_id  # same id again
