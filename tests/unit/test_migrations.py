"""Schema migrations keep what a database already holds: a database at an earlier revision,
with rows in it, is upgraded to head on both backends, and every row is still there, byte for
byte (as `wagateway serve` does at every start, through core/migrate.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from tests.support.databases import DatabaseProvider
from wagateway.core.db import create_engine
from wagateway.core.migrate import alembic_config, upgrade_to_head
from wagateway.core.settings import Settings

AT = datetime(2026, 11, 30, 12, 0, 0)

# Rows as a 0004-era gateway wrote them: an app on the sandbox, a linked device, an outbound
# message it sent (with media) and an inbound one, and the sandbox's record of what it received.
ROWS_0004: dict[str, list[dict[str, Any]]] = {
    "apps": [
        {
            "id": "app-1",
            "name": "Shop",
            "engine": "sandbox",
            "webhook_url": "https://hooks.example/wa",
            "domain_url": "",
            "webhook_secret_enc": "enc:secret",
            "rotation_enabled": False,
            "created_at": AT,
            "updated_at": AT,
            "pacing": json.dumps({"rate_per_second": 1}),
            "limits": json.dumps({"requests_per_minute": 600}),
        }
    ],
    "devices": [
        {
            "id": "dev-1",
            "app_id": "app-1",
            "name": "Front desk",
            "engine": "sandbox",
            "status": "connected",
            "connection": "online",
            "wa_number": "6281234567890",
            "session_epoch": 3,
            "created_at": AT,
            "updated_at": AT,
        }
    ],
    "sandbox_sessions": [
        {
            "device_id": "dev-1",
            "phone": "6281234567890",
            "device_jid": "6281234567890:7@s.whatsapp.net",
            "linked_at": AT,
        }
    ],
    "messages": [
        {
            "seq": seq,
            "id": f"msg-{seq}",
            "app_id": "app-1",
            "device_id": "dev-1",
            "direction": direction,
            "status": status,
            "type": type_,
            "chat": "6281211112222@s.whatsapp.net",
            "content": json.dumps(content),
            "mentions": "[]",
            "forwarded": False,
            "wa_message_id": f"3EB0{seq:016X}",
            "attempts": 1,
            "next_attempt_at": AT,
            "created_at": AT,
            "updated_at": AT,
            "archived": False,
        }
        for seq, direction, status, type_, content in (
            (1, "outbound", "read", "image", {"url": "https://cdn.example/a.png"}),
            (2, "inbound", "received", "text", {"text": "halo \u00e9\U0001f600"}),
        )
    ],
    "sandbox_received": [
        {
            "wa_message_id": "3EB00000000000000001",
            "device_id": "dev-1",
            "to_jid": "6281211112222@s.whatsapp.net",
            "type": "image",
            "first_received_at": AT,
            "times_received": 2,
        }
    ],
}


def _database_url(backend: DatabaseProvider, tmp_path: Path) -> str:
    settings = Settings(data_dir=tmp_path, database_url=backend.new_url(tmp_path))  # type: ignore[call-arg]
    return settings.resolved_database_url


async def _insert(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for table, table_rows in rows.items():
                columns = list(table_rows[0])
                await conn.execute(
                    text(
                        f"INSERT INTO {table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join(':' + c for c in columns)})"
                    ),
                    table_rows,
                )
    finally:
        await engine.dispose()


async def _select(url: str, table: str, columns: list[str], order_by: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order_by}")
            )
            return [tuple(row) for row in result]
    finally:
        await engine.dispose()


def _snapshot(url: str) -> dict[str, list[tuple]]:
    return {
        table: asyncio.run(_select(url, table, list(rows[0]), next(iter(rows[0]))))
        for table, rows in ROWS_0004.items()
    }


def test_upgrading_a_0004_database_keeps_its_rows(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _database_url(backend, tmp_path)
    command.upgrade(alembic_config(url), "0004")
    asyncio.run(_insert(url, ROWS_0004))
    before = _snapshot(url)
    assert {table: len(rows) for table, rows in before.items()} == {
        table: len(rows) for table, rows in ROWS_0004.items()
    }

    upgrade_to_head(url)

    assert _snapshot(url) == before
    # The new table is there and empty: the log starts with the upgrade.
    assert asyncio.run(_select(url, "sandbox_network", ["seq"], "seq")) == []


@pytest.mark.parametrize("revision", ["0004"])
def test_the_new_revisions_downgrade_cleanly(
    backend: DatabaseProvider, tmp_path: Path, revision: str
) -> None:
    url = _database_url(backend, tmp_path)
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), revision)
    upgrade_to_head(url)
