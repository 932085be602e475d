"""The real neonize library, loaded in a real worker process, on a machine that cannot reach
WhatsApp: the failure path has to be clean (no crash, a clear reason, the worker lives on)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from wagateway.engines.base import EngineEvent, QrCode, SessionEnded
from wagateway.engines.whatsmeow import neonize_loader
from wagateway.engines.workers.supervisor import WorkerPool

pytestmark = pytest.mark.skipif(
    not neonize_loader.available(), reason="neonize is not installed (pip install -e '.[test]')"
)

BACKEND = "wagateway.engines.whatsmeow.backend:factory"


def test_offline_pairing_ends_with_a_clear_error_and_the_worker_lives(tmp_path: Path) -> None:
    async def scenario() -> None:
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        pool = WorkerPool("whatsmeow", BACKEND, {"store_dir": str(tmp_path / "stores")})
        await pool.start(sink)
        try:
            await pool.call("d1", "begin_pairing", {"epoch": 1})
            deadline = asyncio.get_running_loop().time() + 30
            while not any(isinstance(e, SessionEnded) for e in events):
                assert asyncio.get_running_loop().time() < deadline, events
                await asyncio.sleep(0.05)
            ended = next(e for e in events if isinstance(e, SessionEnded))
            assert ended.device_id == "d1" and ended.epoch == 1
            assert ended.reason == "engine_error"
            assert "could not connect to WhatsApp" in ended.detail
            assert "dial" in ended.detail  # neonize's own words: failed to dial ... websocket
            assert not any(isinstance(e, QrCode) for e in events)
            assert await pool.ping() == [True]
            assert pool.health()["workers"][0]["restarts"] == 0
            assert pool.worker_pid("d1") is None  # the ended session is no longer placed
        finally:
            await pool.shutdown()

    asyncio.run(scenario())


def test_offline_restore_retries_then_ends_and_reports_its_descriptors(tmp_path: Path) -> None:
    """A linked device whose network is down: retried with back-off (here 19 short delays,
    20 attempts), reported as reconnecting, then `engine_error` naming the attempts. Each
    neonize connect leaks a descriptor (NEONIZE-NOTES), so the worker reports both counts
    in its health for the supervisor and operators to watch."""

    async def scenario() -> None:
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        stores = tmp_path / "stores"
        stores.mkdir()
        (stores / "d2.linked").write_text('{"wa_number": "6281", "wa_device_jid": "6281:3@s"}')
        pool = WorkerPool(
            "whatsmeow",
            BACKEND,
            {"store_dir": str(stores), "connect_retry_delays": [0.01] * 19},
        )
        await pool.start(sink)
        try:
            await pool.call("d2", "restore", {"epoch": 5})
            deadline = asyncio.get_running_loop().time() + 60
            while not any(isinstance(e, SessionEnded) for e in events):
                assert asyncio.get_running_loop().time() < deadline, events
                await asyncio.sleep(0.05)
            kinds = [type(e).__name__ for e in events]
            assert kinds == ["ConnectionLost", "SessionEnded"], kinds
            ended = events[-1]
            assert isinstance(ended, SessionEnded) and ended.reason == "engine_error"
            assert "after 20 attempts" in ended.detail and "dial" in ended.detail
            assert await pool.ping() == [True]
            [health] = await pool.backend_health()
            assert health.detail["connects"] == 20
            assert isinstance(health.detail["open_fds"], int)
        finally:
            await pool.shutdown()

    asyncio.run(scenario())
