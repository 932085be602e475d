"""Devices found by id alone, of any app: internal calls and the host's CLI name a device
without its app. Light on purpose (no device runtime, no engines): the CLI imports it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.apps.service import reveal_token
from wagateway.audit import service as audit
from wagateway.core.db import Database
from wagateway.core.errors import not_found
from wagateway.core.secrets import SecretBox
from wagateway.devices.models import Device


async def app_of_device(session: AsyncSession, device_id: str) -> App | None:
    """The app a device belongs to (internal calls name a device, not an app)."""
    stmt = select(App).join(Device, Device.app_id == App.id).where(Device.id == device_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def device_and_token(db: Database, box: SecretBox, device_id: str) -> tuple[Device, str]:
    """A device (a destroyed one too) and the current token of its app; 404 for an unknown
    device. For the host's CLI, which acts on a device through the running gateway's API."""
    async with db.read() as session:
        device = await session.get(Device, device_id)
        if device is None:
            raise not_found("device")
        return device, await reveal_token(session, box, device.app_id)


async def find_device(db: Database, device_id: str) -> Device | None:
    """A device by id alone, of any app, destroyed or not: for the host's CLI, which names a
    device without its app (and without loading the device runtime)."""
    async with db.read() as session:
        return await session.get(Device, device_id)


async def app_of_internal_call(
    db: Database, device_id: str, caller: audit.Actor, detail: dict[str, Any]
) -> App | None:
    """The app of the device a token-less internal call names (None: no such device), the
    call audited as `internal_request` in the same transaction. Recorded also when the
    device is unknown or the action then fails: the entry is of the access itself."""
    async with db.transaction() as session:
        app = await app_of_device(session, device_id)
        audit.record(
            session,
            caller,
            "internal_request",
            app_id=app.id if app else None,
            device_id=device_id,
            detail=detail,
        )
    return app
