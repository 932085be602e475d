"""The event stream's service (delivery/stream.py) in process on SQLite: a consumer that stops
reading is cut off and slows no other; a cursor resumes exactly after its event; retention;
the budget; tickets are single use and expire."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.support.databases import DatabaseProvider
from wagateway.apps.models import App
from wagateway.core.db import Database, utcnow
from wagateway.core.deferred_writes import write_deferred
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.delivery.stream import (
    TOO_SLOW,
    Consumer,
    Delivered,
    EventStreams,
    Notice,
    StreamFilter,
    StreamTickets,
    decode_cursor,
    encode_cursor,
)
from wagateway.webhooks.models import Event
from wagateway.webhooks.outbox import record_event


async def _store(tmp_path: Path) -> Database:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        for app_id in ("app", "other"):
            session.add(App(id=app_id, name=app_id, engine="sandbox", webhook_secret_enc="x"))
    return db


async def _record(db: Database, count: int, app_id: str = "app", start: int = 0) -> None:
    for n in range(start, start + count):
        async with db.transaction() as session:
            record_event(
                session,
                app_id=app_id,
                device_id="dev",
                event="message" if n % 2 == 0 else "receipt",
                payload={"n": n},
            )


async def _take(consumer: Consumer, count: int) -> list[Delivered | Notice]:
    got: list[Delivered | Notice] = []
    deadline = asyncio.get_running_loop().time() + 10
    while len(got) < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {got}"
        item = await consumer.next(1)
        if item is not None:
            got.append(item)
    return got


def _numbers(items: list[Delivered | Notice]) -> list[int]:
    import json

    return [json.loads(i.body)["payload"]["n"] for i in items if isinstance(i, Delivered)]


def test_a_consumer_that_stops_reading_is_cut_off_and_slows_no_other(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, stream_buffer_events=5, stream_recheck_seconds=0.05)

    async def scenario() -> None:
        db = await _store(tmp_path)
        streams = EventStreams(settings, db)
        streams.start()
        slow = await streams.open("app", StreamFilter(), None)
        steady = await streams.open("app", StreamFilter(), None)
        receipts = await streams.open("app", StreamFilter(events=frozenset({"receipt"})), None)
        assert slow and steady and receipts
        await _record(db, 3, app_id="other")  # another app's: nobody here sees them
        got: list[Delivered | Notice] = []
        for start in range(0, 20, 4):  # a steady consumer keeps up with 4 at a time
            await _record(db, 4, start=start)
            got += await _take(steady, 4)
            assert _numbers(await _take(receipts, 2)) == [start + 1, start + 3]
        assert _numbers(got) == list(range(20)), got[-3:]  # all, in order, though one stopped
        # The one that never read fell more than 5 behind: cut off, told so first.
        await asyncio.wait_for(slow.wait_ended(), 5)
        ended = await slow.next(1)
        assert isinstance(ended, Notice) and ended.code == TOO_SLOW
        # It comes back with the last id it had: everything after it, once.
        seen = [i for i in [slow._buffer.get_nowait() for _ in range(slow._buffer.qsize())]]
        last = [i for i in seen if isinstance(i, Delivered)][-1]
        await slow.close()
        back = await streams.open("app", StreamFilter(), decode_cursor(last.cursor))
        assert back is not None
        start = _numbers([last])[0] + 1
        assert _numbers(await _take(back, 20 - start)) == list(range(start, 20))
        for consumer in (steady, receipts, back):
            await consumer.close()
        assert streams.open_count == 0
        await streams.stop()
        await db.dispose()

    asyncio.run(scenario())


def test_retention_budget_and_shutdown(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        stream_retention_seconds=3600,
        stream_max_connections=2,
        stream_recheck_seconds=0.05,
    )

    async def scenario() -> None:
        db = await _store(tmp_path)
        streams = EventStreams(settings, db)
        streams.start()
        await _record(db, 6)
        async with db.transaction() as session:  # the first four are older than retention
            await session.execute(
                update(Event)
                .where(Event.seq <= 4)
                .values(occurred_at=utcnow() - timedelta(hours=2))
            )
        old = await streams.open("app", StreamFilter(), 1)
        assert old is not None
        first, *rest = await _take(old, 3)
        assert isinstance(first, Notice) and first.code == "retention_gap"
        assert _numbers(rest) == [4, 5]
        # within retention: from right after the cursor
        recent = await streams.open("app", StreamFilter(), 5)
        assert recent is not None and _numbers(await _take(recent, 1)) == [5]
        assert await streams.open("app", StreamFilter(), None) is None  # budget: 2
        streams.close_all()
        for consumer in (old, recent):
            ended = await consumer.next(1)
            assert isinstance(ended, Notice) and ended.code == "server_shutting_down"
            await consumer.close()
        assert await streams.open("app", StreamFilter(), None) is None  # closing
        await streams.stop()
        await db.dispose()

    asyncio.run(scenario())


def test_cursors_and_tickets() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for bad in ("", "x", "!!", encode_cursor(1)[:-1] + "?", "ZQ"):
        assert decode_cursor(bad) is None
    now = [1000.0]
    tickets = StreamTickets(b"k" * 32, clock=lambda: now[0])
    ticket, expires = tickets.issue("app")
    assert expires == 1060
    assert tickets.redeem(ticket) == "app"
    assert tickets.redeem(ticket) is None  # single use
    late, _ = tickets.issue("app")
    now[0] = 1060.0
    assert tickets.redeem(late) is None  # expired
    packed, sig = ticket.removeprefix("st_").split(".")
    body = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)).decode()
    forged = base64.urlsafe_b64encode(body.replace("app", "other", 1).encode()).decode()
    assert tickets.redeem(f"st_{forged}.{sig}") is None
    assert tickets.redeem("st_!!.x") is None and tickets.redeem("nonsense") is None
    other_key = StreamTickets(b"j" * 32, clock=lambda: now[0])
    assert other_key.redeem(other_key.issue("app")[0]) == "app"
    assert tickets.redeem(other_key.issue("app")[0]) is None


def test_an_event_committed_after_a_later_one_is_still_streamed(
    backend: DatabaseProvider, migrated_db_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: two transactions commit their events out of `seq` order; the stream that
    already sent the later event still sends the earlier one when it becomes visible."""
    if backend.backend != "postgresql":
        pytest.skip("SQLite serialises writers: events become visible in seq order")
    settings = Settings(data_dir=tmp_path, stream_recheck_seconds=0.05)

    async def scenario() -> None:
        db = Database(migrated_db_url)
        async with db.transaction() as session:
            session.add(App(id="app", name="app", engine="sandbox", webhook_secret_enc="x"))
        streams = EventStreams(settings, db)
        streams.start()
        consumer = await streams.open("app", StreamFilter(), None)
        assert consumer is not None
        inserted, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with db.transaction() as session:
                record_event(session, app_id="app", device_id="d", event="a", payload={"n": 0})
                await session.run_sync(write_deferred)  # inserted: its seq is taken
                inserted.set()
                await release.wait()

        async def second() -> None:
            await inserted.wait()
            async with db.transaction() as session:
                record_event(session, app_id="app", device_id="d", event="b", payload={"n": 1})

        holding = asyncio.create_task(first())
        await asyncio.create_task(second())
        assert _numbers(await _take(consumer, 1)) == [1]
        release.set()
        await holding
        late = await _take(consumer, 1)
        assert _numbers(late) == [0]
        await consumer.close()
        await streams.stop()
        await db.dispose()

    asyncio.run(scenario())
