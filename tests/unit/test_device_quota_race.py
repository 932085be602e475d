"""The device quota holds for the gateway as a whole (CONTRACT §9): creates racing on two
nodes (two `Database`s, each with its own connections, on one database) never pass the last
slot twice. Creates of one app take turns on its row (`SELECT … FOR UPDATE` on PostgreSQL;
SQLite's writes take turns anyway), in the services run in process."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from wagateway.apps import service as apps
from wagateway.core.db import Database
from wagateway.core.errors import ApiError
from wagateway.core.secrets import SecretBox
from wagateway.devices.models import Device
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Status

QUOTA = 5
# per node: 16 creates at once for 4 slots (more would need more connections than a shared
# test server's max_connections leaves beside the other tests)
CREATES = 8


class _Runtime:
    """The device runtime as far as a create reaches it: no owner to record, no pairing."""

    async def own_for_session(self, session: Any, device_id: str) -> None:
        return None

    def hold(self, device_id: str, token: object) -> None:
        return None

    async def begin_pairing_and_wait(self, device: Device, timeout: float) -> None:
        return None


def test_racing_creates_on_two_nodes_never_pass_the_quota(migrated_db_url: str) -> None:
    async def run() -> None:
        nodes = [Database(migrated_db_url), Database(migrated_db_url)]
        try:
            async with nodes[0].transaction() as session:
                app = (await apps.create_app(session, SecretBox(b"k" * 32), "quota")).app
            services = [
                DeviceService(db, _Runtime(), qr_wait_timeout=1.0, name_max=100)  # type: ignore[arg-type]
                for db in nodes
            ]
            # One already there: QUOTA - 1 slots left for 2 x CREATES creates at once.
            await services[0].create(app.id, "sandbox", "first", quota=QUOTA)

            async def create(node: int, n: int) -> str:
                try:
                    await services[node].create(app.id, "sandbox", f"d{node}-{n}", quota=QUOTA)
                except ApiError as exc:
                    return exc.code
                return "created"

            outcomes = await asyncio.gather(
                *(create(node, n) for n in range(CREATES) for node in (0, 1))
            )
            assert sorted(set(outcomes)) == ["created", "too_many_devices"]
            assert outcomes.count("created") == QUOTA - 1
            async with nodes[1].read() as session:
                live = await session.scalar(
                    select(func.count())
                    .select_from(Device)
                    .where(Device.app_id == app.id, Device.status != Status.DESTROYED)
                )
            assert live == QUOTA
        finally:
            for db in nodes:
                await db.dispose()

    asyncio.run(run())
