"""Alembic migrations: the schema check every start makes, and the upgrade when it is behind.

Reading the stored revision is one query; Alembic (its import alone is a good part of a CLI
command's start) and its environment (a second engine, its own event loop, the models'
metadata) are only loaded when the database is not at the scripts' head. Nothing is cached
across processes: the head comes from the migration scripts each time.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
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


# `revision = "0006"`, `down_revision: str | None = "0005"`: a script's module-level lines.
_DECLARATION = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def declared_head() -> str | None:
    """The head revision as the version scripts declare it, read without importing Alembic;
    None when a script declares it in a form not read here (not one literal on one line), or
    the scripts do not have one head: then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        declared: dict[str, object] = {}
        for name, value in _DECLARATION.findall(path.read_text(encoding="utf-8")):
            try:
                declared[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        revision, down = declared.get("revision"), declared.get("down_revision", ...)
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple) and all(isinstance(item, str) for item in down):
            parents.update(down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


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
    if stored and stored == [declared_head()]:
        return False
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
