"""Where the whatsmeow engine keeps its devices' sessions: files in one node's data dir, or
whatsmeow's own PostgreSQL store, which every node reaches (CONTRACT §9).

- `FileStores` (one node, SQLite): a SQLite store per device, `<store_dir>/<device_id>.db`,
  with a marker file (`<device_id>.linked`) once it holds a paired session (whatsmeow
  creates the file before pairing, so the file alone says nothing) and the failed connects
  of the current restore (`<device_id>.attempts`, so a recycled worker continues the
  back-off). neonize opens "the first device in the store", which is the device's own.
- `PostgresStores` (several nodes): one store, whatsmeow's tables in a PostgreSQL database
  shared by every device of every node. Which device is whose is our table
  `wagw_whatsmeow_links` (device id → its WhatsApp device JID), beside whatsmeow's tables,
  and a client opens its device's session by that JID. So a node taking a device over opens
  the same session its previous owner used: no new scan.

Hazards of the shared store this module works around (NEONIZE-NOTES.md, and seen here):
- a client given a JID that is not in the store crashes its process (a nil device in Go):
  a session is opened only after its row is found;
- whatsmeow creates and upgrades its tables at a client's connect, and two connects doing
  so at once fail ("duplicate key value violates unique constraint", seen with 8 at once):
  the first connect of every worker process holds a lock on the store (a PostgreSQL
  advisory lock), so any creation or upgrade happens once, by one process;
- a session's rows are deleted by JID, and whatsmeow's foreign keys (ON DELETE CASCADE)
  take the rest with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

from wagateway.engines.base import EngineError

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

LINKS_TABLE = "wagw_whatsmeow_links"
# The shared store's advisory lock (pg_advisory_xact_lock(bigint)), held to create or
# upgrade its tables and to import a node's session file. An arbitrary, fixed number.
SCHEMA_LOCK = 0x5761_6777_6D01
# lib/pq's URL parameters a store URL keeps from the gateway's database URL: lib/pq sends
# any other parameter to the server as a setting, which it may refuse.
LIB_PQ_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost", "")
# The whatsmeow table every session's rows hang from (by jid), then the others; copied in
# this order so that a foreign key always finds its device.
DEVICE_TABLE = "whatsmeow_device"


@dataclass(frozen=True)
class StoredLink:
    """A device's paired session: its WhatsApp device JID (`628…:12@s.whatsapp.net`)."""

    wa_device_jid: str
    wa_number: str


class SessionStores(Protocol):
    """What the backend needs of a place for sessions."""

    # Whether a client opens its device's session by JID (a shared store); else the store's
    # only device is the device's own.
    opens_by_jid: bool

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def neonize_name(self, device_id: str) -> str: ...
    async def stored_link(self, device_id: str) -> StoredLink | None: ...
    async def record_link(self, device_id: str, link: StoredLink) -> None: ...
    async def failed_attempts(self, device_id: str) -> int: ...
    async def set_failed_attempts(self, device_id: str, attempts: int) -> None: ...
    async def erase(self, device_id: str) -> None: ...
    def schema_hold(self) -> contextlib.AbstractAsyncContextManager[None]: ...


def _checked(device_id: str) -> str:
    if not device_id or "/" in device_id or device_id.startswith("."):
        raise EngineError("invalid_device", "device ids name files: no slashes or dots")
    return device_id


class FileStores:
    """A SQLite store per device in one node's data dir."""

    opens_by_jid = False

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir

    async def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    def store(self, device_id: str) -> Path:
        return self.store_dir / f"{_checked(device_id)}.db"

    def _marker(self, device_id: str) -> Path:
        return self.store(device_id).with_suffix(".linked")

    def _attempts(self, device_id: str) -> Path:
        return self.store(device_id).with_suffix(".attempts")

    def neonize_name(self, device_id: str) -> str:
        # WAL and a busy timeout: several goroutines of one client write the same store. The
        # trailing dummy parameter absorbs the suffix neonize appends.
        return f"{self.store(device_id)}?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_x="

    async def stored_link(self, device_id: str) -> StoredLink | None:
        return _link_of_marker(self._marker(device_id))

    async def record_link(self, device_id: str, link: StoredLink) -> None:
        marker = {"wa_number": link.wa_number, "wa_device_jid": link.wa_device_jid}
        self._marker(device_id).write_text(json.dumps(marker))

    async def failed_attempts(self, device_id: str) -> int:
        try:
            return int(self._attempts(device_id).read_text())
        except (OSError, ValueError):
            return 0

    async def set_failed_attempts(self, device_id: str, attempts: int) -> None:
        if attempts:
            self._attempts(device_id).write_text(str(attempts))
        else:
            self._attempts(device_id).unlink(missing_ok=True)

    async def erase(self, device_id: str) -> None:
        store = self.store(device_id)
        for path in (*_sqlite_files(store), self._marker(device_id), self._attempts(device_id)):
            path.unlink(missing_ok=True)

    @contextlib.asynccontextmanager
    async def schema_hold(self) -> AsyncIterator[None]:
        yield  # a store per device: no two clients create the same tables


def _sqlite_files(store: Path) -> tuple[Path, Path, Path]:
    return store, Path(f"{store}-wal"), Path(f"{store}-shm")


def _link_of_marker(marker: Path) -> StoredLink | None:
    try:
        fields = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return StoredLink(str(fields.get("wa_device_jid", "")), str(fields.get("wa_number", "")))


def store_url_for(database_url: str) -> str | None:
    """The lib/pq URL of whatsmeow's shared store in the gateway's own PostgreSQL database
    (None on SQLite: sessions then stay in files). lib/pq defaults to `sslmode=require`,
    unlike libpq and asyncpg; a URL that says nothing gets `disable` for a loopback server
    and keeps lib/pq's default otherwise."""
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        return None
    query = dict(parse_qsl(parts.query))
    kept = {name: query[name] for name in LIB_PQ_PARAMETERS if name in query}
    if "sslmode" not in kept and (parts.hostname or "") in LOOPBACK_HOSTS:
        kept["sslmode"] = "disable"
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(kept), ""))


class PostgresStores:
    """whatsmeow's PostgreSQL store, shared by every device of every node, and our table of
    which session is whose. The table is ours to create (`CREATE TABLE IF NOT EXISTS`, under
    the schema lock), as whatsmeow creates its own: it lives with the sessions, which may be
    in another database than the gateway's (`WAGW_WHATSMEOW_STORE_URL`)."""

    opens_by_jid = True

    def __init__(self, url: str, store_dir: Path) -> None:
        self.url = url
        # Session files of this node from before the shared store: imported at start.
        self.store_dir = store_dir
        self._pool: asyncpg.Pool | None = None
        self._schema_settled = False

    async def start(self) -> None:
        import asyncpg  # here: a node on SQLite, or with no whatsmeow device, never needs it

        # statement_cache_size=0: the store URL may be PgBouncer in transaction mode, where
        # a prepared statement does not outlive its transaction.
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=2, statement_cache_size=0
        )
        async with self._locked_schema() as connection:
            await connection.execute(
                f"""CREATE TABLE IF NOT EXISTS {LINKS_TABLE} (
                    device_id text PRIMARY KEY,
                    wa_device_jid text NOT NULL,
                    wa_number text NOT NULL,
                    failed_attempts integer NOT NULL DEFAULT 0,
                    linked_at timestamptz NOT NULL DEFAULT now()
                )"""
            )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "PostgresStores.start() first"
        return self._pool

    def neonize_name(self, device_id: str) -> str:
        _checked(device_id)
        return self.url

    async def stored_link(self, device_id: str) -> StoredLink | None:
        """The device's session, if whatsmeow's store still has it: a link whose device row
        is gone (unlinked meanwhile) is no session, and opening it would crash the worker."""
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                f"SELECT wa_device_jid, wa_number FROM {LINKS_TABLE} WHERE device_id = $1",
                device_id,
            )
            if row is None:
                return None
            if not await _device_stored(connection, row["wa_device_jid"]):
                return None
        return StoredLink(row["wa_device_jid"], row["wa_number"])

    async def record_link(self, device_id: str, link: StoredLink) -> None:
        await self.pool.execute(
            f"""INSERT INTO {LINKS_TABLE} (device_id, wa_device_jid, wa_number)
                VALUES ($1, $2, $3)
                ON CONFLICT (device_id) DO UPDATE
                SET wa_device_jid = excluded.wa_device_jid, wa_number = excluded.wa_number,
                    failed_attempts = 0, linked_at = now()""",
            device_id,
            link.wa_device_jid,
            link.wa_number,
        )

    async def failed_attempts(self, device_id: str) -> int:
        attempts = await self.pool.fetchval(
            f"SELECT failed_attempts FROM {LINKS_TABLE} WHERE device_id = $1", device_id
        )
        return int(attempts or 0)

    async def set_failed_attempts(self, device_id: str, attempts: int) -> None:
        await self.pool.execute(
            f"UPDATE {LINKS_TABLE} SET failed_attempts = $2 WHERE device_id = $1",
            device_id,
            attempts,
        )

    async def erase(self, device_id: str) -> None:
        """The device's session and our link to it. whatsmeow's rows go by the device JID
        (its foreign keys cascade); a session half made by a pairing was never saved."""
        async with self.pool.acquire() as connection, connection.transaction():
            jid = await connection.fetchval(
                f"DELETE FROM {LINKS_TABLE} WHERE device_id = $1 RETURNING wa_device_jid",
                device_id,
            )
            if jid is not None and await _table_exists(connection, DEVICE_TABLE):
                await connection.execute(f"DELETE FROM {DEVICE_TABLE} WHERE jid = $1", jid)

    @contextlib.asynccontextmanager
    async def schema_hold(self) -> AsyncIterator[None]:
        """Around a connect: the first of this process holds the store's schema lock until the
        client has shown a sign of life (whatsmeow has created or upgraded its tables by then),
        so no two processes do it at once. Later connects need no lock: this process's first
        one left the tables as this neonize wants them."""
        if self._schema_settled:
            yield
            return
        async with self._locked_schema():
            yield
            self._schema_settled = True

    async def schema_ready(self) -> bool:
        async with self.pool.acquire() as connection:
            return await _table_exists(connection, DEVICE_TABLE)

    @contextlib.asynccontextmanager
    async def _locked_schema(self) -> AsyncIterator[asyncpg.Connection]:
        # A session-level lock on a connection held for the whole block: PgBouncer in
        # transaction mode would not keep it, so it is taken in a transaction (xact lock).
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            yield connection

    # --- importing one node's session files -------------------------------------------------

    def files_to_import(self) -> list[Path]:
        """This node's paired session files from before the shared store (their markers)."""
        if not self.store_dir.is_dir():
            return []
        return sorted(
            marker
            for marker in self.store_dir.glob("*.linked")
            if marker.with_suffix(".db").exists()
        )

    async def import_files(self) -> int:
        """Copy every paired session file of this node into the shared store, then move the
        files to `imported/` (kept, not deleted). A session already in the store (imported
        by an earlier run that stopped before moving the files) is left as it is. Call with
        whatsmeow's tables present (`schema_ready`). Returns how many were imported."""
        imported = 0
        done_dir = self.store_dir / "imported"
        for marker in self.files_to_import():
            device_id = marker.stem
            link = _link_of_marker(marker)
            store = marker.with_suffix(".db")
            if link is None or not link.wa_device_jid:
                log.warning("whatsmeow_store_import_skipped", device_id=device_id, why="marker")
                continue
            async with self._locked_schema() as connection:
                copied = await _copy_session(connection, store, link.wa_device_jid)
                await connection.execute(
                    f"""INSERT INTO {LINKS_TABLE} (device_id, wa_device_jid, wa_number)
                        VALUES ($1, $2, $3) ON CONFLICT (device_id) DO NOTHING""",
                    device_id,
                    link.wa_device_jid,
                    link.wa_number,
                )
            done_dir.mkdir(exist_ok=True)
            for path in (*_sqlite_files(store), marker, store.with_suffix(".attempts")):
                # another worker of this node may have imported and moved it meanwhile
                with contextlib.suppress(FileNotFoundError):
                    path.rename(done_dir / path.name)
            imported += 1
            log.info("whatsmeow_store_imported", device_id=device_id, rows=copied)
        return imported


async def _table_exists(connection: asyncpg.Connection, table: str) -> bool:
    return bool(await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table))


async def _device_stored(connection: asyncpg.Connection, jid: str) -> bool:
    if not await _table_exists(connection, DEVICE_TABLE):
        return False
    return bool(
        await connection.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {DEVICE_TABLE} WHERE jid = $1)", jid
        )
    )


async def _copy_session(connection: asyncpg.Connection, store: Path, jid: str) -> int:
    """Every whatsmeow row of one SQLite store into the shared store (the columns both have),
    the device row first. A row the store has already (same key) is kept. Returns the rows
    copied."""
    if await _device_stored(connection, jid):
        return 0
    columns = await connection.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name LIKE 'whatsmeow%'
             AND table_name <> 'whatsmeow_version'
           ORDER BY table_name = $1 DESC, table_name, ordinal_position""",
        DEVICE_TABLE,
    )
    types: dict[str, dict[str, str]] = {}
    for row in columns:
        types.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    source = await asyncio.to_thread(_read_sqlite, store, types)
    copied = 0
    for table, (names, rows) in source.items():
        if not rows:
            continue
        statement = (
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))}) ON CONFLICT DO NOTHING"
        )
        converted = [
            tuple(
                _pg_value(types[table][name], value) for name, value in zip(names, row, strict=True)
            )
            for row in rows
        ]
        await connection.executemany(statement, converted)
        copied += len(rows)
    return copied


def _read_sqlite(
    store: Path, types: dict[str, dict[str, str]]
) -> dict[str, tuple[list[str], list[Any]]]:
    """Each whatsmeow table of the SQLite store that the shared store has too: the columns
    both have, and every row (read-only: the file is left as it was)."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        present = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        tables: dict[str, tuple[list[str], list[Any]]] = {}
        for table, pg_columns in types.items():
            if table not in present:
                continue
            own = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            names = [name for name in own if name in pg_columns]
            rows = connection.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
            tables[table] = (names, rows)
        return tables
    finally:
        connection.close()


def _pg_value(data_type: str, value: Any) -> Any:
    """A SQLite value as the PostgreSQL column takes it (SQLite has no boolean or uuid)."""
    if value is None:
        return None
    if data_type == "boolean":
        return bool(value)
    if data_type == "uuid":
        return uuid.UUID(bytes=value) if isinstance(value, bytes) else uuid.UUID(str(value))
    if data_type == "bytea" and isinstance(value, str):
        return value.encode()
    return value
