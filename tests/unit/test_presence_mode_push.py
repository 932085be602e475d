"""The engine learns a device's presence_mode (CONTRACT §8.1) from the gateway: after each
`Connected`, and whenever `SessionRuntime.push_presence_mode` is called (the settings routes,
after a change): the device's own mode, else its app's, else on_demand; nothing for a device
that is not connected. On both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tests.support.databases import DatabaseProvider
from tests.support.seeds import inbound_sink
from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.devices.runtime import SessionRuntime
from wagateway.engines.base import Connected


class RecordingEngine:
    name = "sandbox"

    def __init__(self) -> None:
        self.modes: list[tuple[str, str]] = []
        self.told = asyncio.Event()

    async def start(self, sink: object) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        self.modes.append((device_id, mode))
        self.told.set()


def test_the_engine_is_told_the_resolved_mode(backend: DatabaseProvider, tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path, database_url=backend.new_url(tmp_path)).resolved_database_url

    async def scenario() -> list[tuple[str, str]]:
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        engine = RecordingEngine()
        try:
            async with db.transaction() as session:
                session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
                for device_id, status, mode in (
                    ("own", "connected", "on_demand"),
                    ("inherits", "connected", None),
                    ("offline", "disconnected", "always_online"),
                ):
                    session.add(
                        Device(
                            id=device_id,
                            app_id="app",
                            name=device_id,
                            engine="sandbox",
                            status=status,
                            connection="online" if status == "connected" else "offline",
                            session_epoch=1,
                            presence_mode=mode,
                        )
                    )
            runtime = SessionRuntime(
                db,
                [engine],
                inbound_sink(tmp_path / "m"),
            )
            await runtime.push_presence_mode("inherits")  # no app mode: the default
            async with db.transaction() as session:
                app = await session.get(App, "app")
                assert app is not None
                app.presence_mode = "always_online"
            for device_id in ("inherits", "own", "offline", "missing"):
                await runtime.push_presence_mode(device_id)
            # After a Connected the gateway tells the engine by itself.
            engine.told.clear()
            await runtime.handle(
                Connected(
                    "inherits",
                    1,
                    "6281234567890",
                    "6281234567890:3@s.whatsapp.net",
                    datetime.now(UTC),
                    reconnected=True,
                )
            )
            await asyncio.wait_for(engine.told.wait(), 10)
            return engine.modes
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == [
        ("inherits", "on_demand"),
        ("inherits", "always_online"),  # the app's
        ("own", "on_demand"),  # the device's own wins
        ("inherits", "always_online"),  # after its Connected
    ]
