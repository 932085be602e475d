"""The queries the send queue runs on every claim, against real SQLite and PostgreSQL: they
answer what the plain query would, and on SQLite they probe the index per device instead of
reading every waiting row (the webhook dispatcher's are in test_webhook_streams.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ClauseElement
from sqlalchemy.orm import Session

from tests.support.events import insert_events
from wagateway.apps.models import App
from wagateway.core.db import Database, utcnow
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device
from wagateway.messages.models import Message
from wagateway.messages.queue import devices_with_due_messages, earliest_queued_per_device


async def _with_app(url: str, work: Any) -> Any:
    db = Database(url)
    try:
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        async with db.transaction() as session:
            return await session.run_sync(work)
    finally:
        await db.dispose()


def test_devices_with_due_messages(migrated_db_url: str) -> None:
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

    due_now, earliest = asyncio.run(_with_app(migrated_db_url, due))
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
        insert_events(session, [f"dev-{i % 3}" for i in range(600)])

    asyncio.run(_with_app(url, fill))
    return tmp_path / "gw.db"


def test_sqlite_finds_devices_with_due_messages_by_one_probe_per_device(
    sqlite_backlog: Path,
) -> None:
    plan = _sqlite_plan(sqlite_backlog, devices_with_due_messages(utcnow()))
    assert plan.startswith("SEARCH devices"), plan
    assert "ix_messages_queue (status=? AND device_id=? AND next_attempt_at<?)" in plan, plan
