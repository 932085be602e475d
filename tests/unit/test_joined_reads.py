"""Joined reads (core/joined_reads.py) against the real store (SQLite): keys asked for
together share one query, keys asked for during a read wait for the next one, a key with no
row gives None, and a failed read fails only the gets it served."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.joined_reads import KEYS_PER_READ, JoinedReads
from wagateway.core.migrate import upgrade_to_head


def test_keys_asked_together_share_a_query_and_later_ones_wait_for_the_next(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        try:
            async with db.transaction() as session:
                for n in range(KEYS_PER_READ + 10):
                    session.add(
                        App(id=f"a{n}", name=f"n{n}", engine="sandbox", webhook_secret_enc="x")
                    )
            asked: list[list[str]] = []
            reading = asyncio.Event()
            go_on = asyncio.Event()

            async def load(session: AsyncSession, keys: list[str]) -> dict[str, str]:
                asked.append(keys)
                if len(asked) == 2:  # the second read waits while more keys are asked
                    reading.set()
                    await go_on.wait()
                rows = await session.execute(select(App.id, App.name).where(App.id.in_(keys)))
                return {app_id: name for app_id, name in rows}

            reads: JoinedReads[str, str] = JoinedReads(db, load)
            first = [reads.get(f"a{n}") for n in range(KEYS_PER_READ + 10)]
            first.append(reads.get("a0"))  # the same key twice: asked once, both answered
            first.append(reads.get("missing"))
            await reading.wait()
            later = [reads.get("a1"), reads.get("a2")]
            go_on.set()
            answers = await asyncio.gather(*first)
            assert answers[: KEYS_PER_READ + 10] == [f"n{n}" for n in range(KEYS_PER_READ + 10)]
            assert answers[-2:] == ["n0", None]
            assert await asyncio.gather(*later) == ["n1", "n2"]
            # One query per KEYS_PER_READ keys, then one for those asked meanwhile.
            assert [len(keys) for keys in asked] == [KEYS_PER_READ, 11, 2]
        finally:
            await db.dispose()

    asyncio.run(scenario())


def test_a_failed_read_fails_only_the_gets_it_served(tmp_path: Path) -> None:
    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        try:
            failing = True

            async def load(session: AsyncSession, keys: list[str]) -> dict[str, int]:
                if failing:
                    raise OSError("the database went away")
                return {key: len(key) for key in keys}

            reads: JoinedReads[str, int] = JoinedReads(db, load)
            failed = await asyncio.gather(reads.get("x"), reads.get("yy"), return_exceptions=True)
            assert all(isinstance(answer, OSError) for answer in failed)
            failing = False
            assert await asyncio.gather(reads.get("x"), reads.get("yy")) == [1, 2]
        finally:
            await db.dispose()

    asyncio.run(scenario())
