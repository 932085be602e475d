"""Database backends for the test suite: SQLite always, PostgreSQL when reachable.

PostgreSQL tests skip on a machine without a server, with the reason; CI sets
WAGW_TEST_REQUIRE_POSTGRES=1, which turns that skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from tests.support.requirements import missing

PG_ADMIN_URL = os.environ.get("WAGW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_reachable() -> str | None:
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not available here"
        return f"{type(exc).__name__}: {exc}"
    return None


class DatabaseProvider:
    """Hands out a fresh, empty database per gateway instance."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._created: list[str] = []

    def new_url(self, data_dir: Path) -> str:
        if self.backend == "sqlite":
            return ""  # the gateway's default: SQLite inside its data dir
        name = f"wagw_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def cleanup(self) -> None:
        for name in self._created:
            try:
                asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception:  # best effort: a leftover test database harms nothing
                pass
        self._created.clear()


def provider_for(backend: str) -> DatabaseProvider:
    if backend == "postgresql":
        problem = _pg_reachable()
        if problem:
            message = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem}); set WAGW_TEST_POSTGRES_URL"
            missing(message, "WAGW_TEST_REQUIRE_POSTGRES")
    return DatabaseProvider(backend)
