"""The queries the webhook dispatcher and the send queue run on every claim, against real
SQLite and PostgreSQL: they answer what the plain query would, and on SQLite they probe
the index per device or look rows up by key instead of reading every waiting row (which
held the one writer for milliseconds per claim once thousands of events waited)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ClauseElement, func, insert, select
from sqlalchemy.orm import Session

from tests.support.databases import BACKENDS, DatabaseProvider, provider_for
from tests.support.migrated import migrated_url
from wagateway.apps.models import App
from wagateway.core.db import Database, table_of, unindexed, utcnow
from wagateway.core.migrate import upgrade_to_head
from wagateway.delivery import leases
from wagateway.devices.models import Device
from wagateway.messages.models import Message
from wagateway.messages.queue import devices_with_due_messages, earliest_queued_per_device
from wagateway.webhooks.models import Event


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    provider: DatabaseProvider = provider_for(request.param)
    yield migrated_url(provider, tmp_path)
    provider.cleanup()


# (device, state) per event, in seq order; None is the app-level stream (no device).
EVENTS = [
    ("dev-a", "delivered"),
    ("dev-a", "pending"),
    ("dev-b", "failed"),
    ("dev-c", "pending"),
    ("dev-a", "pending"),
    (None, "pending"),
    ("dev-c", "pending"),
    (None, "pending"),
    ("dev-d", "delivered"),
    ("dev-b", "skipped"),
]


def _insert_events(session: Session, events: list[tuple[str | None, str]]) -> list[int]:
    now = utcnow()
    rows = [
        {
            "id": f"evt-{index}",
            "app_id": "app",
            "device_id": device,
            "event": "message",
            "payload": {},
            "occurred_at": now,
            "state": state,
            "attempt_count": 0,
            "next_attempt_at": now - timedelta(seconds=1),
            "archived": False,
        }
        for index, (device, state) in enumerate(events)
    ]
    session.execute(insert(table_of(Event)), rows)
    return list(session.execute(select(Event.seq).order_by(Event.seq)).scalars())


async def _with_app(url: str, work: Any) -> Any:
    db = Database(url)
    try:
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        async with db.transaction() as session:
            return await session.run_sync(work)
    finally:
        await db.dispose()


def test_heads_are_each_streams_oldest_pending_event(database_url: str) -> None:
    def heads(session: Session) -> tuple[list[int], list[int], list[int]]:
        seqs = _insert_events(session, EVENTS)
        plain = session.execute(
            select(func.min(Event.seq)).where(Event.state == "pending").group_by(Event.device_id)
        ).scalars()
        return seqs, sorted(leases.heads(session)), sorted(plain)

    seqs, found, plain = asyncio.run(_with_app(database_url, heads))
    # dev-a: its second event (the first is delivered); dev-b and dev-d: nothing pending;
    # dev-c: its first; the app-level stream: its first.
    assert found == [seqs[1], seqs[3], seqs[5]]
    assert found == plain


def test_heads_with_nothing_pending_are_none(database_url: str) -> None:
    def heads(session: Session) -> list[int]:
        _insert_events(session, [("dev-a", "delivered"), (None, "failed")])
        return leases.heads(session)

    assert asyncio.run(_with_app(database_url, heads)) == []


def test_due_heads_and_outcome_reads_answer_by_key(database_url: str) -> None:
    def due(session: Session) -> tuple[list[int], list[tuple[int, str | None]], list[int]]:
        seqs = _insert_events(session, EVENTS)
        heads = leases.heads(session)
        answer = [tuple(row) for row in session.execute(leases.due_heads(heads, utcnow()))]
        pending = session.execute(
            select(Event.seq).where(Event.seq.in_(seqs), unindexed(Event.state) == "pending")
        ).scalars()
        return seqs, answer, sorted(pending)

    seqs, answer, pending = asyncio.run(_with_app(database_url, due))
    assert answer == [(seqs[1], "dev-a"), (seqs[3], "dev-c"), (seqs[5], None)]
    assert pending == [seqs[i] for i, (_, state) in enumerate(EVENTS) if state == "pending"]


def test_devices_with_due_messages(database_url: str) -> None:
    now = utcnow()
    devices = {  # id: (status, connection, [(message status, due in seconds)])
        "due": ("connected", "online", [("sent", -5), ("queued", -1)]),
        "later": ("connected", "online", [("queued", 60)]),
        "sent-only": ("connected", "online", [("sent", -5), ("read", -5)]),
        "reconnecting": ("connected", "reconnecting", [("queued", -1)]),
        "logged-out": ("disconnected", "offline", [("queued", -1)]),
        "idle": ("connected", "online", []),
    }

    def due(session: Session) -> list[str]:
        for device_id, (status, connection, messages) in devices.items():
            session.add(
                Device(
                    id=device_id,
                    app_id="app",
                    name=device_id,
                    engine="sandbox",
                    status=status,
                    connection=connection,
                )
            )
            for status_, seconds in messages:
                session.add(
                    Message(
                        app_id="app",
                        device_id=device_id,
                        direction="outbound",
                        status=status_,
                        type="text",
                        chat="123@s.whatsapp.net",
                        content={"text": "hi"},
                        next_attempt_at=now + timedelta(seconds=seconds),
                    )
                )
        session.flush()
        earliest = {device: at for device, at in session.execute(earliest_queued_per_device())}
        return sorted(session.execute(devices_with_due_messages(now)).scalars()), earliest

    due_now, earliest = asyncio.run(_with_app(database_url, due))
    assert due_now == ["due"]
    # What an idle supervisor sleeps until: the connected, online devices' earliest queued
    # message, sent ones not counted; none for a device with nothing queued.
    assert {device: at is not None for device, at in earliest.items()} == {
        "due": True,
        "later": True,
        "sent-only": False,
        "idle": False,
    }
    assert abs((earliest["later"] - now).total_seconds() - 60) < 1
    assert abs((earliest["due"] - now).total_seconds() + 1) < 1


# --- SQLite's plans --------------------------------------------------------------------------


def _sqlite_plan(path: Path, statement: ClauseElement) -> str:
    """EXPLAIN QUERY PLAN of `statement` as the gateway would send it (literal values)."""
    from sqlalchemy.dialects import sqlite

    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(path) as connection:
        return " | ".join(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql))


@pytest.fixture
def sqlite_backlog(tmp_path: Path) -> Path:
    """A migrated SQLite store with a backlog: 600 pending events over 3 devices and 600
    queued messages, so that reading every waiting row looks cheap to no planner."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    upgrade_to_head(url)

    def fill(session: Session) -> None:
        _insert_events(session, [(f"dev-{i % 3}", "pending") for i in range(600)])

    asyncio.run(_with_app(url, fill))
    return tmp_path / "gw.db"


def test_sqlite_looks_due_heads_up_by_key_not_through_the_state_index(
    sqlite_backlog: Path,
) -> None:
    now = utcnow()
    heads = list(range(1, 600, 30))  # twenty: with a handful SQLite chose the key anyway
    plan = _sqlite_plan(sqlite_backlog, leases.due_heads(heads, now))
    assert "INTEGER PRIMARY KEY" in plan, plan
    assert "ix_events_pending" not in plan, plan

    # The same query with the plain column is what SQLite got wrong: the reason for
    # `unindexed` (if this ever plans by key, the workaround can go).
    plain = (
        select(Event.seq).where(Event.seq.in_(heads), Event.state == "pending").order_by(Event.seq)
    )
    assert "ix_events_pending" in _sqlite_plan(sqlite_backlog, plain)


def test_sqlite_finds_heads_by_one_probe_per_device(sqlite_backlog: Path) -> None:
    plan = _sqlite_plan(sqlite_backlog, leases.HEADS)
    # Every read of the events is an index search by (state, device_id), none a walk over
    # all pending rows grouped by device.
    assert "device_id>?" in plan and "device_id=?" in plan, plan
    assert "GROUP BY" not in plan, plan


def test_sqlite_finds_devices_with_due_messages_by_one_probe_per_device(
    sqlite_backlog: Path,
) -> None:
    plan = _sqlite_plan(sqlite_backlog, devices_with_due_messages(utcnow()))
    assert plan.startswith("SEARCH devices"), plan
    assert "ix_messages_queue (status=? AND device_id=? AND next_attempt_at<?)" in plan, plan
