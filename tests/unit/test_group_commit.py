"""Group commit (core/db.py) against the real stores: the rows a group's units say they will
`session.get` (or lock) are loaded with one query per class, and stay loaded for them."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.sql import recorded_statements, selects_from
from wagateway.apps.models import App
from wagateway.core.db import Database, Preload, get_locked
from wagateway.core.migrate import upgrade_to_head
from wagateway.devices.models import Device


def test_preloaded_rows_serve_every_units_get_with_one_query(migrated_db_url: str) -> None:
    """Rows read to be changed (`get_locked`) are preloaded locked, where rows are locked
    (PostgreSQL: a locked `Session.get` would query each time); a row some units read plainly
    and others locked is read once, locked."""

    async def scenario() -> tuple[list[str], list[str]]:
        db = Database(migrated_db_url)
        async with db.transaction() as session:
            session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
            for n in range(4):
                session.add(
                    Device(id=f"dev{n}", app_id="app", name=f"d{n}", engine="sandbox", status="new")
                )
        statements = recorded_statements(db, reads=True)

        collected: list[bool] = []

        def reads(device_id: str, locked: bool):  # type: ignore[no-untyped-def]
            async def unit(session: AsyncSession) -> str:
                # The identity map holds clean rows weakly: they must be kept. One collection,
                # before the first unit's read, frees every row nothing keeps (one per unit
                # kept the group's transaction open past PostgreSQL's idle timeout, 5 s, on a
                # busy machine: the group failed, and its units ran alone).
                if not collected:
                    gc.collect()
                    collected.append(True)
                if locked:
                    device = await get_locked(session, Device, device_id)
                else:
                    device = await session.get(Device, device_id)
                assert device is not None
                return device.name

            return unit

        units = []
        for n in range(12):
            # dev0 and dev2 read locked by their first units, plainly by the rest.
            device_id, locked = f"dev{n % 4}", n in (0, 2)
            units.append(db.submit(reads(device_id, locked), Preload(Device, device_id, locked)))
        names = await asyncio.gather(*units)
        await db.dispose()
        return list(names), statements

    names, statements = asyncio.run(scenario())
    assert names == [f"d{n % 4}" for n in range(12)]
    device_queries = selects_from("devices", statements)
    locked, plain = (
        [q for q in device_queries if "FOR UPDATE" in q],
        [q for q in device_queries if "FOR UPDATE" not in q],
    )
    if migrated_db_url.startswith("postgresql"):
        assert (len(locked), len(plain)) == (1, 1), device_queries
    else:  # nothing to lock: the same two queries, without FOR UPDATE
        assert (len(locked), len(plain)) == (0, 2), device_queries


def test_write_at_once_takes_turns_with_the_async_writers_and_rolls_back_on_error(
    tmp_path: Path,
) -> None:
    """`Database.write_at_once` runs a synchronous unit of work as one transaction; it must
    take turns with `transaction()` (no "database is locked"), commit, and roll back."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    async def scenario() -> tuple[int, bool]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)

        def add_sync(n: int):  # type: ignore[no-untyped-def]
            def work(session: Session) -> int:
                session.add(App(id=f"t{n}", name="t", engine="sandbox", webhook_secret_enc="x"))
                session.flush()
                return n

            return work

        async def add_async(n: int) -> None:
            async with db.transaction() as session:
                session.add(App(id=f"a{n}", name="a", engine="sandbox", webhook_secret_enc="x"))

        done = await asyncio.gather(
            *(db.write_at_once(add_sync(n)) for n in range(15)),
            *(add_async(n) for n in range(15)),
        )
        assert done[:15] == list(range(15))

        def refused(session: Session) -> None:
            session.add(App(id="never", name="x", engine="sandbox", webhook_secret_enc="x"))
            session.flush()
            raise RuntimeError("refused after writing")

        rolled_back = False
        try:
            await db.write_at_once(refused)
        except RuntimeError:
            rolled_back = True
        async with db.read() as session:
            count = (await session.execute(select(func.count()).select_from(App))).scalar_one()
            never = await session.get(App, "never")
        await db.dispose()
        return count, rolled_back and never is None

    count, rolled_back = asyncio.run(scenario())
    assert count == 30
    assert rolled_back
