"""Database backends for the test suite: SQLite always, PostgreSQL when reachable.

PostgreSQL tests skip on a machine without a server, with the reason; CI sets
WAGW_TEST_REQUIRE_POSTGRES=1, which turns that skip into a failure.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.support.requirements import missing

PG_ADMIN_URL = os.environ.get("WAGW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def pg_database_url(database: str) -> str:
    """The URL of the test server's database `database`, as its administrator."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


async def pg_admin(sql: str, *args: object, database: str | None = None) -> list[Any]:
    """Run `sql` as the test server's administrator, on `database` (else the admin URL's);
    its rows, if it returns any."""
    import asyncpg

    conn = await asyncpg.connect(
        PG_ADMIN_URL if database is None else pg_database_url(database), timeout=5
    )
    try:
        if args:
            return list(await conn.fetch(sql, *args))
        await conn.execute(sql)  # a statement that returns nothing (CREATE DATABASE…)
        return []
    finally:
        await conn.close()


def activity(url: str) -> str:
    """What every connection to the PostgreSQL database at `url` is doing, a line each, for
    a failed test's report: a wait on a lock names the processes that hold it."""
    name = make_url(url).database
    rows = asyncio.run(
        pg_admin(
            "SELECT pid, application_name, state, wait_event_type, wait_event,"
            " pg_blocking_pids(pid) AS blocked_by,"
            " round(extract(epoch FROM now() - xact_start)::numeric, 1) AS in_transaction,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query"
            " FROM pg_stat_activity WHERE datname = $1 ORDER BY pid",
            name,
        )
    )
    return f"connections to {name}:\n" + "\n".join(str(dict(row)) for row in rows)


def _pg_reachable() -> str | None:
    try:
        asyncio.run(pg_admin("SELECT 1"))
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
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return pg_database_url(name)

    def migrated_url(self, data_dir: Path) -> str:
        """Like `new_url`, but the database is at the current schema already: a copy of one
        migrated once per test process (a file copy on SQLite, `CREATE DATABASE … TEMPLATE`
        on PostgreSQL). Migrating every server's database at its start cost more CPU than
        most tests; starting on an empty database is tested where it is the subject
        (tests/e2e/test_cli_startup.py, tests/unit/test_migrations.py)."""
        template = _template(self.backend)
        if self.backend == "sqlite":
            data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, data_dir / "wagateway.db")
            return ""  # the gateway's default: SQLite inside its data dir
        name = f"wagw_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self._created.append(name)
        return pg_database_url(name)

    def cleanup(self) -> None:
        for name in self._created:
            try:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
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


_templates: dict[str, str] = {}


def _template(backend: str) -> str:
    """This process's migrated database of `backend`: a SQLite file's path, or a PostgreSQL
    database's name (dropped when the process ends)."""
    if backend not in _templates:
        from wagateway.core.migrate import upgrade_to_head
        from wagateway.core.settings import Settings

        if backend == "sqlite":
            directory = Path(tempfile.mkdtemp(prefix="wagw-template-"))
            atexit.register(shutil.rmtree, directory, True)
            url = Settings(data_dir=directory, database_url="").resolved_database_url  # type: ignore[call-arg]
            upgrade_to_head(url, quiet=True)
            _templates[backend] = str(directory / "wagateway.db")
        else:
            name = f"wagw_template_{uuid.uuid4().hex[:12]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            atexit.register(_drop_quietly, name)
            plain = pg_database_url(name)
            upgrade_to_head(Settings(database_url=plain).resolved_database_url, quiet=True)  # type: ignore[call-arg]
            _templates[backend] = name
    return _templates[backend]


def _drop_quietly(name: str) -> None:
    try:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # best effort: a leftover test database harms nothing
        pass
