"""What whatsmeow clients cost a worker process and the store's database, up to the network's
edge (this machine cannot reach WhatsApp): a real worker pool on whatsmeow's shared
PostgreSQL store, N devices restored from stored sessions (device rows as whatsmeow writes
them), each client opened by JID and left waiting between connect attempts. Prints the
worker's RSS with no client, with N, the cost per client, and the database connections the
store holds, directly and through PgBouncer (transaction mode) in the same run.

A client that reached WhatsApp would also hold its Signal sessions, app state and socket
buffers: measure that with real phones (docs/deployment.md); this is the floor.

    .venv/bin/python benchmarks/whatsmeow_memory.py [--devices 50] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.pgbouncer import PgBouncer  # noqa: E402
from wagateway.engines.base import ConnectionLost, EngineEvent  # noqa: E402
from wagateway.engines.whatsmeow.stores import LINKS_TABLE, store_url_for  # noqa: E402
from wagateway.engines.workers.supervisor import WorkerPool  # noqa: E402

BACKEND = "wagateway.engines.whatsmeow.backend:factory"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def connections(admin_url: str, database: str) -> int:
    connection = await asyncpg.connect(admin_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
        )
    finally:
        await connection.close()


async def measure(admin_url: str, store_url: str, database: str, devices: int) -> dict[str, float]:
    events: list[EngineEvent] = []

    async def sink(event: EngineEvent) -> None:
        events.append(event)

    store_dir = Path(tempfile.mkdtemp(prefix="wagw-wm-memory-"))
    pool = WorkerPool(
        "whatsmeow",
        BACKEND,
        {"store_dir": str(store_dir), "store_url": store_url, "connect_retry_delays": [600.0]},
        devices_per_worker=devices + 1,
    )
    await pool.start(sink)
    try:
        await pool.call("p0", "begin_pairing", {"epoch": 1})  # whatsmeow creates its tables
        while not any(getattr(e, "device_id", "") == "p0" for e in events):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        pid = pool.worker_pid("p0") or pool.health()["workers"][0]["pid"]
        await asyncio.sleep(1)
        baseline = rss_mib(pid)
        direct = store_url_for(admin_url.rsplit("/", 1)[0] + f"/{database}")
        assert direct is not None
        connection = await asyncpg.connect(direct)
        try:
            for n in range(devices):
                jid = f"6281{n:09d}:7@s.whatsapp.net"
                await connection.execute(
                    "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,"
                    " signed_pre_key, signed_pre_key_id, signed_pre_key_sig, adv_key,"
                    " adv_details, adv_account_sig, adv_account_sig_key, adv_device_sig)"
                    " VALUES ($1, 1, $2, $2, $2, 1, $3, $2, $4, $3, $2, $3)",
                    jid,
                    os.urandom(32),
                    os.urandom(64),
                    uuid.uuid4().bytes,
                )
                await connection.execute(
                    f"INSERT INTO {LINKS_TABLE} (device_id, wa_device_jid, wa_number)"
                    " VALUES ($1, $2, '6281')",
                    f"d{n}",
                    jid,
                )
        finally:
            await connection.close()
        for n in range(devices):
            await pool.call(f"d{n}", "restore", {"epoch": 1})
        wanted = {f"d{n}" for n in range(devices)}
        while {e.device_id for e in events if isinstance(e, ConnectionLost)} < wanted:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        loaded = rss_mib(pool.worker_pid("d0") or pid)
        held = await connections(admin_url, database)
        return {"baseline": baseline, "loaded": loaded, "connections": held}
    finally:
        await pool.shutdown()


async def fresh_database(admin_url: str) -> str:
    name = f"wagw_wm_memory_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = {}
    for path in ("direct", "pgbouncer"):
        database = await fresh_database(args.postgres)
        url = args.postgres.rsplit("/", 1)[0] + f"/{database}"
        bouncer = PgBouncer(url, pool_size=4).start() if path == "pgbouncer" else None
        try:
            store_url = store_url_for(bouncer.url_for(url) if bouncer else url)
            assert store_url is not None
            results[path] = await measure(args.postgres, store_url, database, args.devices)
        finally:
            if bouncer is not None:
                bouncer.stop()
            await drop_database(args.postgres, database)
    for path, figures in results.items():
        per_client = (figures["loaded"] - figures["baseline"]) / args.devices
        print(
            f"{path:9}: worker RSS {figures['baseline']:.1f} MiB with no client, "
            f"{figures['loaded']:.1f} MiB with {args.devices} "
            f"({per_client:.2f} MiB per client); store database connections "
            f"{figures['connections']:.0f}"
        )
    ratio = results["direct"]["connections"] / max(results["pgbouncer"]["connections"], 1)
    print(f"connections direct ÷ through PgBouncer (pool 4): {ratio:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
