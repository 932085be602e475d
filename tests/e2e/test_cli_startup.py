"""The CLI's start: it checks the schema with one query, migrates quietly only when the
database is behind (or new: before the first `serve`), and refuses a database a newer
wagateway migrated. Real `wagateway` processes on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer
from wagateway.core.db import create_engine
from wagateway.core.migrate import alembic_config, migration_scripts, upgrade_to_head
from wagateway.core.settings import Settings


@pytest.fixture
def gateway(backend: DatabaseProvider, tmp_path: Path) -> Iterator[GatewayServer]:
    """A gateway's data dir and database, never migrated and never served."""
    data_dir = tmp_path / "data"
    yield GatewayServer(data_dir, backend.new_url(data_dir))
    backend.cleanup()


def _url(gateway: GatewayServer) -> str:
    settings = Settings(data_dir=gateway.data_dir, database_url=gateway.database_url)  # type: ignore[call-arg]
    return settings.resolved_database_url


async def _query(url: str, sql: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return [str(row[0]) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def _stored_revision(gateway: GatewayServer) -> list[str]:
    return asyncio.run(_query(_url(gateway), "SELECT version_num FROM alembic_version"))


def _head() -> str:
    head = migration_scripts().get_current_head()
    assert head is not None
    return head


def _assert_quiet(stderr: str) -> None:
    assert "alembic" not in stderr.lower(), stderr
    assert "upgrade" not in stderr.lower(), stderr
    assert stderr.strip() == "", stderr


def test_a_fresh_data_dir_works_before_the_first_serve_and_quietly(
    gateway: GatewayServer,
) -> None:
    assert not gateway.data_dir.exists()

    created = gateway.create_app("first app")

    assert _stored_revision(gateway) == [_head()]
    listed = gateway.cli("apps", "list")
    assert listed.stdout.split() == [created["app_id"], "sandbox", "first", "app"]
    _assert_quiet(listed.stderr)


def test_the_first_command_on_a_fresh_data_dir_prints_no_migration_lines(
    gateway: GatewayServer,
) -> None:
    result = gateway.cli("apps", "list")

    assert result.stdout == ""
    _assert_quiet(result.stderr)


def test_a_database_one_revision_behind_is_migrated_quietly(gateway: GatewayServer) -> None:
    head = migration_scripts().get_revision(_head())
    assert head is not None and isinstance(head.down_revision, str)
    gateway.data_dir.mkdir(mode=0o700, parents=True)
    command.upgrade(alembic_config(_url(gateway)), head.down_revision)
    assert _stored_revision(gateway) == [head.down_revision]

    result = gateway.cli("apps", "list")

    _assert_quiet(result.stderr)
    assert _stored_revision(gateway) == [head.revision]


def test_a_database_ahead_of_the_code_is_a_clear_error(gateway: GatewayServer) -> None:
    gateway.data_dir.mkdir(mode=0o700, parents=True)
    upgrade_to_head(_url(gateway), quiet=True)
    asyncio.run(_query(_url(gateway), "UPDATE alembic_version SET version_num = '9999_future'"))

    serve = ("serve", "--host", "127.0.0.1", "--port", str(gateway.port))
    for args in (("apps", "list"), ("migrate",), serve):
        result = gateway.cli(*args, check=False)

        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        # `serve` listens before it looks at the database (core/starting_front.py): the
        # server's own lines come first, the refusal is the last thing it says.
        said = result.stderr if args != serve else result.stderr.strip().splitlines()[-1]
        assert said.startswith("error: schema_ahead: "), result.stderr
        assert "9999_future" in said and _head() in said
    assert _stored_revision(gateway) == ["9999_future"]  # left as it was


def test_migrate_reports_what_it_applies_and_is_silent_when_current(
    gateway: GatewayServer,
) -> None:
    first = gateway.cli("migrate")
    assert "Running upgrade" in first.stderr  # the operator's own command: steps shown
    assert first.stdout.strip() == "database is at the latest schema"

    again = gateway.cli("migrate")
    assert "Running upgrade" not in again.stderr
    assert again.stdout.strip() == "database is at the latest schema"
