"""The real neonize library on whatsmeow's shared PostgreSQL store, in real worker processes,
up to the network's edge (WhatsApp is unreachable here): the store's tables are created once
however many workers connect at once, a stored session is opened by its JID (and reaches
the dial), a link whose session is gone is no crash, and a node's session files from before
the shared store are carried into it with every row."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import DatabaseProvider
from tests.support.pgbouncer import PgBouncer
from wagateway.engines.base import ConnectionLost, EngineEvent, SessionEnded
from wagateway.engines.whatsmeow import neonize_loader
from wagateway.engines.whatsmeow.stores import LINKS_TABLE, store_url_for
from wagateway.engines.workers.supervisor import WorkerPool

pytestmark = pytest.mark.skipif(
    not neonize_loader.available(), reason=neonize_loader.missing() or ""
)

BACKEND = "wagateway.engines.whatsmeow.backend:factory"
JID = "6281234567890:7@s.whatsapp.net"
# A device row as whatsmeow stores one (random keys of the sizes its checks demand).
DEVICE_ROW = {
    "jid": JID,
    "registration_id": 4242,
    "noise_key": bytes(range(32)),
    "identity_key": bytes(range(1, 33)),
    "signed_pre_key": bytes(range(2, 34)),
    "signed_pre_key_id": 1,
    "signed_pre_key_sig": bytes(range(64)),
    "adv_key": bytes(range(3, 35)),
    "adv_details": b"\x0a\x02hi",
    "adv_account_sig": bytes(range(5, 69)),
    "adv_account_sig_key": bytes(range(6, 38)),
    "adv_device_sig": bytes(range(7, 71)),
    "push_name": "Shop",
    "facebook_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
}


@pytest.fixture
def store_url(postgresql: DatabaseProvider, tmp_path: Path) -> str:
    url = store_url_for(postgresql.new_url(tmp_path))
    assert url is not None
    return url


def run_pool(
    config: dict[str, Any],
    scenario: Callable[[WorkerPool, list[EngineEvent]], Awaitable[None]],
    **pool_options: Any,
) -> None:
    async def main() -> None:
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        pool = WorkerPool("whatsmeow", BACKEND, config, **pool_options)
        await pool.start(sink)
        try:
            await scenario(pool, events)
        finally:
            await asyncio.wait_for(pool.shutdown(), 60)

    asyncio.run(main())


async def ended(events: list[EngineEvent], device_id: str, timeout: float = 30) -> SessionEnded:
    async with asyncio.timeout(timeout):
        while True:
            for event in events:
                if isinstance(event, SessionEnded) and event.device_id == device_id:
                    return event
            await asyncio.sleep(0.02)


async def execute(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def insert_device(url: str, jid: str = JID) -> None:
    row = DEVICE_ROW | {"jid": jid}
    names = list(row)
    await execute(
        url,
        f"INSERT INTO whatsmeow_device ({', '.join(names)}) "
        f"VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
        *[uuid.UUID(v) if n == "facebook_uuid" else v for n, v in row.items()],
    )


def test_nodes_connecting_at_once_to_a_fresh_store_create_its_tables_once(
    tmp_path: Path, store_url: str
) -> None:
    """Three nodes' workers open pairing windows at the same moment on an empty database:
    each reaches the dial (offline), none fails creating whatsmeow's tables (without the
    store's schema lock, concurrent first connects failed with "failed to upgrade
    database: … duplicate key value")."""

    async def main() -> None:
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        pools = [
            WorkerPool(
                "whatsmeow",
                BACKEND,
                {"store_dir": str(tmp_path / f"node{n}"), "store_url": store_url},
            )
            for n in range(3)
        ]
        for pool in pools:
            await pool.start(sink)
        try:
            # each node's worker up (a restore without a session connects nothing), then the
            # connects meet
            await asyncio.gather(
                *(pool.call(f"w{n}", "restore", {"epoch": 1}) for n, pool in enumerate(pools))
            )
            await asyncio.gather(
                *(pool.call(f"p{n}", "begin_pairing", {"epoch": 1}) for n, pool in enumerate(pools))
            )
            for n in range(3):
                end = await ended(events, f"p{n}")
                assert end.reason == "engine_error" and "dial" in end.detail, end.detail
        finally:
            for pool in pools:
                await asyncio.wait_for(pool.shutdown(), 60)
        [version] = await execute(store_url, "SELECT version FROM whatsmeow_version")
        assert version["version"] > 0

    asyncio.run(main())


def test_a_stored_session_is_opened_by_its_jid_and_a_missing_one_is_no_crash(
    tmp_path: Path, store_url: str
) -> None:
    """d1's session is in the store (a device row as whatsmeow writes one) and linked to d1:
    the real client opens it by JID and gets as far as dialing WhatsApp. d2's link names a
    session the store no longer has: neonize would crash on that JID; the device ends
    `session_missing` and the worker lives on."""

    async def scenario(pool: WorkerPool, events: list[EngineEvent]) -> None:
        await pool.call("p0", "begin_pairing", {"epoch": 1})  # whatsmeow creates its tables
        await ended(events, "p0")
        await insert_device(store_url)
        await execute(
            store_url,
            f"INSERT INTO {LINKS_TABLE} (device_id, wa_device_jid, wa_number) "
            "VALUES ('d1', $1, '6281234567890'), ('d2', '6281299999999:3@s.whatsapp.net', "
            "'6281299999999')",
            JID,
        )
        await pool.call("d1", "restore", {"epoch": 2})
        d1 = await ended(events, "d1")
        assert d1.reason == "engine_error" and "dial" in d1.detail, d1.detail
        await pool.call("d2", "restore", {"epoch": 2})
        d2 = await ended(events, "d2")
        assert d2.reason == "session_missing"
        assert await pool.ping() == [True]
        assert pool.health()["workers"][0]["restarts"] == 0
        # Ending in an error is not a logout: the session stays for the next restore.
        assert await execute(store_url, "SELECT jid FROM whatsmeow_device WHERE jid = $1", JID)

    run_pool(
        {"store_dir": str(tmp_path / "node"), "store_url": store_url, "connect_retry_delays": []},
        scenario,
    )


def test_a_nodes_session_files_are_carried_into_the_shared_store_with_every_row(
    tmp_path: Path, store_url: str
) -> None:
    """The upgrade path: a node ran whatsmeow with a SQLite store per device in its data
    dir. Its store (tables made by the real neonize, rows as whatsmeow writes them) is copied
    into the shared store at the worker's start, booleans and uuids converted; the files are
    kept under `imported/`; the device is then restored from the shared store by JID."""
    stores = tmp_path / "node" / "whatsmeow"

    async def make_file_store(pool: WorkerPool, events: list[EngineEvent]) -> None:
        await pool.call("d5", "begin_pairing", {"epoch": 1})  # the real neonize makes d5.db
        await ended(events, "d5")

    run_pool({"store_dir": str(stores)}, make_file_store)
    database = sqlite3.connect(stores / "d5.db")
    names = list(DEVICE_ROW)
    database.execute(
        f"INSERT INTO whatsmeow_device ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        list(DEVICE_ROW.values()),
    )
    database.execute(
        "INSERT INTO whatsmeow_identity_keys (our_jid, their_id, identity) VALUES (?, ?, ?)",
        (JID, "6285550001111:0", bytes(range(32))),
    )
    database.execute(
        "INSERT INTO whatsmeow_contacts (our_jid, their_jid, push_name) VALUES (?, ?, ?)",
        (JID, "6285550001111@s.whatsapp.net", "Budi"),
    )
    database.execute(
        "INSERT INTO whatsmeow_chat_settings (our_jid, chat_jid, pinned, archived) "
        "VALUES (?, ?, 1, 0)",
        (JID, "6285550001111@s.whatsapp.net"),
    )
    database.commit()
    database.close()
    (stores / "d5.linked").write_text(
        json.dumps({"wa_number": "6281234567890", "wa_device_jid": JID})
    )
    (stores / "d5.attempts").write_text("2")

    async def import_then_restore(pool: WorkerPool, events: list[EngineEvent]) -> None:
        await pool.call("d5", "restore", {"epoch": 3})  # the worker's start imports first
        end = await ended(events, "d5")
        assert end.reason == "engine_error" and "dial" in end.detail, end.detail
        [device] = await execute(store_url, "SELECT * FROM whatsmeow_device")
        for name, value in DEVICE_ROW.items():
            expected = uuid.UUID(str(value)) if name == "facebook_uuid" else value
            assert device[name] == expected, name
        [identity] = await execute(store_url, "SELECT * FROM whatsmeow_identity_keys")
        assert (identity["our_jid"], identity["identity"]) == (JID, bytes(range(32)))
        [contact] = await execute(store_url, "SELECT push_name FROM whatsmeow_contacts")
        assert contact["push_name"] == "Budi"
        [chat] = await execute(store_url, "SELECT pinned, archived FROM whatsmeow_chat_settings")
        assert (chat["pinned"], chat["archived"]) == (True, False)
        [link] = await execute(store_url, f"SELECT * FROM {LINKS_TABLE}")
        assert (link["device_id"], link["wa_device_jid"]) == ("d5", JID)

    run_pool(
        {"store_dir": str(stores), "store_url": store_url, "connect_retry_delays": []},
        import_then_restore,
    )
    assert not list(stores.glob("d5*")), "the files left the store dir"
    kept = sorted(path.name for path in (stores / "imported").iterdir())
    assert "d5.db" in kept and "d5.linked" in kept and "d5.attempts" in kept


@pytest.mark.parametrize("path", ["direct", "pgbouncer"])
def test_the_shared_store_through_pgbouncer_in_transaction_mode_shares_server_connections(
    tmp_path: Path, postgresql: DatabaseProvider, path: str
) -> None:
    """docs/deployment.md's advice, checked with the real neonize: through PgBouncer in
    transaction mode (a pool of 2 server connections) whatsmeow creates its tables, six
    devices' clients open their sessions by JID and reach the dial, and our links and locks
    work; the database sees at most the pool's 2 connections while all six clients are open.
    Directly, each open client holds connections of its own (printed)."""
    database = postgresql.new_url(tmp_path)
    database_name = make_url(database).database
    bouncer = PgBouncer(database, pool_size=2).start() if path == "pgbouncer" else None
    direct_url = store_url_for(database)
    assert direct_url is not None
    url = store_url_for(bouncer.url_for(database)) if bouncer is not None else direct_url
    devices = [f"d{n}" for n in range(6)]

    async def scenario(pool: WorkerPool, events: list[EngineEvent]) -> None:
        await pool.call("p0", "begin_pairing", {"epoch": 1})  # whatsmeow creates its tables
        await ended(events, "p0")
        for n, device in enumerate(devices):
            jid = f"62812345678{n}:7@s.whatsapp.net"
            await insert_device(direct_url, jid)
            await execute(
                direct_url,
                f"INSERT INTO {LINKS_TABLE} (device_id, wa_device_jid, wa_number) "
                "VALUES ($1, $2, '6281')",
                device,
                jid,
            )
        await asyncio.gather(*(pool.call(d, "restore", {"epoch": 2}) for d in devices))
        async with asyncio.timeout(30):  # every client has dialed and waits to try again
            while {e.device_id for e in events if isinstance(e, ConnectionLost)} < set(devices):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        [row] = await execute(
            direct_url,
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database_name,
        )
        print(f"{path}: {row['n']} server connections with {len(devices)} clients open")
        if bouncer is not None:
            assert row["n"] <= 2
        else:
            assert row["n"] >= len(devices)
        for device in devices:
            await pool.call(device, "close", {})
        assert len(await execute(direct_url, f"SELECT * FROM {LINKS_TABLE}")) == len(devices)

    try:
        run_pool(
            {
                "store_dir": str(tmp_path / "node"),
                "store_url": url,
                "connect_retry_delays": [30.0],
            },
            scenario,
        )
    finally:
        if bouncer is not None:
            bouncer.stop()
