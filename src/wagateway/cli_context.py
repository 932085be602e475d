"""What a CLI command needs from the gateway: settings, the database and the secrets.

Not a `Gateway`: a command that lists apps needs no engines, worker pool, webhook
dispatcher or media store, and building them (and importing them) was most of a command's
time. Commands that act on a running gateway call its API (`local_api.py`) with the token
this context decrypts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from wagateway.cluster.keys import check_master_key
from wagateway.core.db import Database
from wagateway.core.migrate import bring_schema_to_head
from wagateway.core.secrets import SecretBox, create_private_dir, load_master_key
from wagateway.core.settings import Settings

# Standard logging: the CLI configures structlog only once something is logged (cli.py).
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CliContext:
    settings: Settings
    db: Database
    box: SecretBox


@asynccontextmanager
async def cli_context(settings: Settings) -> AsyncIterator[CliContext]:
    """The context for one command, on a database at the current schema: one query checks
    it, and a database that is behind (or new: before the first `serve`) is migrated
    quietly. `SchemaAhead` for a database a newer wagateway migrated."""
    if not create_private_dir(settings.data_dir):
        log.warning("data_dir_open_to_other_users data_dir=%s", settings.data_dir)
    db = Database(settings.resolved_database_url, settings.database_read_pool_size)
    try:
        await bring_schema_to_head(db, quiet=True)
        master_key = load_master_key(settings.secret_key, settings.data_dir)
        await check_master_key(db, master_key)
        box = SecretBox(master_key)
        yield CliContext(settings, db, box)
    finally:
        await db.dispose()
