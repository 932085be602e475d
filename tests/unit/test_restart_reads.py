"""A restart brings every linked device back at once (issue 20: 10,000 online within
10 s, benchmarks/startup.py). What makes that possible is that the reads do not grow with
the devices: the stored sessions are read together (core/joined_reads.py), each
`Connected` write finds its device among those its group loaded at once, and the
presence_mode pushed after it is read in that write, not by a read of its own. Checked
here with the real sandbox engine on SQLite and PostgreSQL (where the device rows are read
locked) by counting the queries of a restore. And a
restored session stands when the engine cannot be told its history limit, and a sandbox
restore whose stored session cannot be read tries again."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.support.migrated import migrated_sqlite_url
from tests.support.seeds import inbound_sink, linked_device, shop_app
from tests.support.sql import recorded_statements, selects_from
from wagateway.core.db import Database
from wagateway.core.joined_reads import JoinedReads
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.devices.runtime import SessionRuntime
from wagateway.engines.base import Connected, EngineError
from wagateway.sandbox.engine import SandboxEngine, read_stored_sessions
from wagateway.sandbox.models import SandboxNetworkEntry, SandboxSession

DEVICES = 40


def test_restoring_many_devices_reads_in_batches_not_per_device(
    migrated_db_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)

    async def scenario() -> tuple[list[str], int, int]:
        db = Database(migrated_db_url)
        now = datetime.now(UTC)
        async with db.transaction() as session:
            # always_online: each push shows in the network log.
            session.add(shop_app(presence_mode="always_online"))
            for n in range(DEVICES):
                phone = f"62812{n:08d}"
                session.add(linked_device(f"dev{n:03d}", phone, linked_at=now))
                session.add(
                    SandboxSession(
                        device_id=f"dev{n:03d}",
                        phone=phone,
                        device_jid=f"{phone}:2@s.whatsapp.net",
                        linked_at=now,
                    )
                )
        engine = SandboxEngine(settings, db)
        runtime = SessionRuntime(db, [engine], inbound_sink(tmp_path / "m"))
        statements = recorded_statements(db, reads=True)
        try:
            await runtime.start()  # on its own, a runtime takes over every linked device
            deadline = time.monotonic() + 30
            while True:
                async with db.read() as session:
                    online = await session.scalar(
                        select(func.count())
                        .select_from(Device)
                        .where(Device.connection == "online")
                    )
                    pushed = await session.scalar(
                        select(func.count())
                        .select_from(SandboxNetworkEntry)
                        .where(SandboxNetworkEntry.kind == "presence")
                    )
                if (online, pushed) == (DEVICES, DEVICES) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            recorded = [s for s in statements if "count(" not in s]  # the polling above
            return recorded, online or 0, pushed or 0
        finally:
            await runtime.shutdown()
            await db.dispose()

    statements, online, pushed = asyncio.run(scenario())
    assert online == DEVICES
    assert pushed == DEVICES  # every device was told its presence_mode after connecting
    # Per device these were one query each: a device, an app, a stored session.
    for table in ("devices", "apps", "sandbox_sessions"):
        reads = selects_from(table, statements)
        assert 1 <= len(reads) < DEVICES // 4, (table, len(reads))


class _HistoryRefusingEngine:
    """Restores by connecting at once; refuses to be told a history limit."""

    name = "sandbox"

    def __init__(self) -> None:
        self.sink: object = None

    async def start(self, sink: object) -> None:
        self.sink = sink

    async def shutdown(self) -> None:
        pass

    async def restore(self, device_id: str, epoch: int) -> None:
        assert callable(self.sink)
        await self.sink(
            Connected(
                device_id,
                epoch,
                "6281200000001",
                "6281200000001:2@s.whatsapp.net",
                datetime.now(UTC),
                reconnected=True,
            )
        )

    async def set_history_limit(self, device_id: str, limit: int) -> None:
        raise EngineError("engine_error", "the worker could not be told")

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        pass


def test_a_restored_session_stands_when_its_history_limit_cannot_be_told(
    tmp_path: Path,
) -> None:
    """A device with `history_sync` is told its history limit after its restore; that
    failing is a warning, not the end of a session that is up."""

    async def scenario() -> tuple[str, str]:
        db = Database(await migrated_sqlite_url(tmp_path))
        async with db.transaction() as session:
            session.add(shop_app())
            session.add(linked_device("dev", "6281200000001", history_sync=True))
        runtime = SessionRuntime(
            db,
            [_HistoryRefusingEngine()],  # type: ignore[list-item]
            inbound_sink(tmp_path / "m"),
            history_max_messages=100,
        )
        try:
            await runtime.start()
            async with db.read() as session:
                device = await session.get(Device, "dev")
                assert device is not None
                return device.status, device.connection
        finally:
            await runtime.shutdown()
            await db.dispose()

    assert asyncio.run(scenario()) == ("connected", "online")


def test_a_sandbox_restore_whose_stored_session_cannot_be_read_tries_again(
    tmp_path: Path,
) -> None:
    """The database out of reach when a session is restored (PostgreSQL restarting, say):
    the sandbox tries again, as a phone keeps reconnecting, instead of leaving the device
    without a session while the gateway believes it restored it."""
    settings = Settings(data_dir=tmp_path, sandbox_time_scale=0.01)

    async def scenario() -> tuple[int, str]:
        db = Database(await migrated_sqlite_url(tmp_path))
        async with db.transaction() as session:
            session.add(shop_app())
            session.add(linked_device("dev", "6281200000001"))
            session.add(
                SandboxSession(
                    device_id="dev",
                    phone="6281200000001",
                    device_jid="6281200000001:2@s.whatsapp.net",
                    linked_at=datetime.now(UTC),
                )
            )
        engine = SandboxEngine(settings, db)
        failures = 3

        async def unreachable_at_first(session: Any, keys: list[str]) -> dict[str, Any]:
            nonlocal failures
            if failures:
                failures -= 1
                raise OSError("connection refused")
            return await read_stored_sessions(session, keys)

        engine._stored_sessions = JoinedReads(db, unreachable_at_first)
        runtime = SessionRuntime(db, [engine], inbound_sink(tmp_path / "m"))
        try:
            await runtime.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with db.read() as session:
                    device = await session.get(Device, "dev")
                    assert device is not None
                if device.connection == "online":
                    break
                await asyncio.sleep(0.05)
            return failures, device.connection
        finally:
            await runtime.shutdown()
            await db.dispose()

    assert asyncio.run(scenario()) == (0, "online")
