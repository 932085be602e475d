"""Migration 0006 (login_failures counts rotation PINs too) keeps the failures already
recorded: they become password failures for the same e-mail, and still throttle."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from tests.support.databases import provider_for
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError
from wagateway.core.migrate import alembic_config, upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.operators import service as operators


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_keeps_the_recorded_login_failures(backend: str, tmp_path: Path) -> None:
    provider = provider_for(backend)
    try:
        url = Settings(
            data_dir=tmp_path, database_url=provider.new_url(tmp_path)
        ).resolved_database_url
        command.upgrade(alembic_config(url), "0005")
        now = utcnow()
        rows = [("a@example.com", "10.0.0.1"), ("a@example.com", "10.0.0.1"), ("b@x.org", "::1")]

        async def seed() -> None:
            db = Database(url)
            async with db.transaction() as session:
                for email, ip in rows:
                    await session.execute(
                        text("INSERT INTO login_failures (email, ip, at) VALUES (:e, :i, :at)"),
                        {"e": email, "i": ip, "at": now - timedelta(seconds=5)},
                    )
            await db.dispose()

        asyncio.run(seed())
        upgrade_to_head(url)

        async def check() -> None:
            db = Database(url)
            async with db.read() as session:
                kept = (
                    await session.execute(
                        text("SELECT kind, subject, ip FROM login_failures ORDER BY id")
                    )
                ).all()
            assert [tuple(row) for row in kept] == [("password", e, i) for e, i in rows]
            # ...and they still count: a third failure from that address throttles it.
            settings = Settings(login_max_failures=3)
            async with db.transaction() as session:
                await operators.authenticate(session, settings, "a@example.com", "x", "10.0.0.1")
            with pytest.raises(ApiError) as throttled:
                async with db.transaction() as session:
                    await operators.authenticate(
                        session, settings, "a@example.com", "x", "10.0.0.1"
                    )
            assert throttled.value.status == 429
            await db.dispose()

        asyncio.run(check())
    finally:
        provider.cleanup()
