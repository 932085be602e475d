"""A fresh database at the current schema, for tests that run the services in process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.databases import DatabaseProvider
from wagateway.core.settings import Settings


def migrated_url(provider: DatabaseProvider, data_dir: Path) -> str:
    """The async URL of a new, migrated database of `provider`'s backend (SQLite in
    `data_dir`). Call it outside an event loop: Alembic runs one of its own."""
    return Settings(
        data_dir=data_dir, database_url=provider.migrated_url(data_dir)
    ).resolved_database_url


async def migrated_sqlite_url(data_dir: Path) -> str:
    """`migrated_url` on SQLite, from inside an event loop."""
    return await asyncio.to_thread(migrated_url, DatabaseProvider("sqlite"), data_dir)
