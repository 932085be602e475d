"""Group commit (core/db.py) against the real store (SQLite): the rows a group's units say
they will `session.get` are loaded with one query per class, and stay loaded for them."""

from __future__ import annotations

import asyncio
import gc
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device


def test_preloaded_rows_serve_every_units_get_with_one_query(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
            for n in range(4):
                session.add(
                    Device(id=f"dev{n}", app_id="app", name=f"d{n}", engine="sandbox", status="new")
                )
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)

        def reads(device_id: str):  # type: ignore[no-untyped-def]
            async def unit(session: AsyncSession) -> str:
                gc.collect()  # the identity map holds clean rows weakly: they must be kept
                device = await session.get(Device, device_id)
                assert device is not None
                return device.name

            return unit

        names = await asyncio.gather(
            *(db.submit(reads(f"dev{n % 4}"), preload=(Device, f"dev{n % 4}")) for n in range(12))
        )
        await db.dispose()
        return list(names), statements

    names, statements = asyncio.run(scenario())
    assert names == [f"d{n % 4}" for n in range(12)]
    device_queries = [s for s in statements if re.match(r"\s*SELECT .*\sFROM devices\b", s, re.S)]
    assert len(device_queries) == 1, device_queries
