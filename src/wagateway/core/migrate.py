"""Alembic migrations: the schema check every start makes, and the upgrade when it is behind.

Reading the stored revision is one query; Alembic's environment (a second engine, its own
event loop, the models' metadata) only runs when there is something to apply. Nothing is
cached across processes: the head comes from the migration scripts each time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from wagateway.core.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class SchemaAhead(RuntimeError):
    """The database was migrated by a newer wagateway: this code does not know its schema."""

    def __init__(self, stored: list[str], head: str) -> None:
        super().__init__(
            f"the database's schema is at revision {', '.join(stored)}, which this wagateway "
            f"does not know (its latest is {head}): the database was migrated by a newer "
            "version; run that version, or restore a backup taken before the upgrade"
        )
        self.stored = stored
        self.head = head


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@contextmanager
def _alembic_quiet(quiet: bool) -> Iterator[None]:
    """Alembic reports each step at INFO ("Context impl…", "Running upgrade…"): on the
    command line that is noise on stderr around the command's own output."""
    logger = logging.getLogger("alembic")
    previous = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def migration_scripts() -> ScriptDirectory:
    with _alembic_quiet(True):  # its import reports each plugin it sets up
        from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR))


def upgrade_to_head(database_url: str, *, quiet: bool = False) -> None:
    """Must be called outside a running event loop (Alembic's env runs its own)."""
    from alembic import command

    with _alembic_quiet(quiet):
        command.upgrade(alembic_config(database_url), "head")


async def stored_revisions(db: Database) -> list[str]:
    """The revisions in `alembic_version`, with one query; none for a database that was
    never migrated (no table, or on SQLite no file yet)."""
    try:
        async with db.read() as session:
            rows = await session.execute(text("SELECT version_num FROM alembic_version"))
            return [str(revision) for revision in rows.scalars()]
    except (OperationalError, ProgrammingError):
        # No such table (or file). Anything else wrong with the database, the upgrade that
        # follows meets again and reports in full.
        return []


async def bring_schema_to_head(db: Database, *, quiet: bool) -> bool:
    """Migrate `db` when its schema is behind the scripts' head (or absent); True if it did.
    `SchemaAhead` when the database holds a revision these scripts do not know."""
    stored = await stored_revisions(db)
    scripts = migration_scripts()
    head = scripts.get_current_head()
    if head is not None and stored == [head]:
        return False
    unknown = [revision for revision in stored if not _known(scripts, revision)]
    if unknown:
        raise SchemaAhead(unknown, str(head))
    # Alembic's env.py runs its own event loop: in a thread of its own, beside this one.
    await asyncio.to_thread(upgrade_to_head, db.url, quiet=quiet)
    return True


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return scripts.get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError is one
        return False
