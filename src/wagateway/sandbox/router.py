"""Sandbox controls (CONTRACT §6): play the phone and the network for sandbox apps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wagateway.apps.models import App
from wagateway.core.deps import CurrentApp, GatewayDep
from wagateway.core.errors import ApiError, not_found
from wagateway.devices.schemas import DeviceOut
from wagateway.devices.service import normalise_phone
from wagateway.devices.state import Status
from wagateway.engines.base import EngineError
from wagateway.gateway import Gateway

router = APIRouter(prefix="/sandbox", tags=["sandbox"])


class ScanRequest(BaseModel):
    qr: str
    phone: str


class PairRequest(BaseModel):
    pairing_code: str


class InboundRequest(BaseModel):
    from_: str = Field(alias="from", description="the contact's phone number")
    type: Literal["text"] = Field("text", description="only text until the messaging pipeline")
    text: str = Field(min_length=1, max_length=65536)


class InboundAccepted(BaseModel):
    wa_message_id: str


def _require_sandbox(app: App) -> None:
    if app.engine != "sandbox":
        raise ApiError(403, "forbidden", "sandbox controls are only for apps on the sandbox engine")


async def _connected_device(gw: Gateway, app: App, device_id: str) -> None:
    _require_sandbox(app)
    device = await gw.devices.get(app.id, device_id)
    if device.status != Status.CONNECTED:
        raise ApiError(
            409, "device_not_connected", "the device is not connected", {"status": device.status}
        )


@router.post("/scan", response_model=DeviceOut)
async def scan(body: ScanRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """A simulated phone scans this QR: the device becomes `connected` as `phone`."""
    _require_sandbox(app)
    phone = normalise_phone(body.phone)
    device_id = gw.sandbox.device_for_qr(body.qr)
    if device_id is None:
        raise not_found("active QR")
    await gw.devices.get(app.id, device_id)  # 404 when the QR belongs to another app
    try:
        await gw.sandbox.scan(device_id, body.qr, phone)
    except EngineError as exc:
        raise not_found("active QR") from exc
    return DeviceOut.of(await gw.devices.get(app.id, device_id))


@router.post("/pair", response_model=DeviceOut)
async def enter_pairing_code(body: PairRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The simulated phone types a pairing code: the device links as the code's phone."""
    _require_sandbox(app)
    device_id = gw.sandbox.device_for_pairing_code(body.pairing_code)
    if device_id is None:
        raise not_found("active pairing code")
    await gw.devices.get(app.id, device_id)
    try:
        await gw.sandbox.enter_pairing_code(device_id, body.pairing_code)
    except EngineError as exc:
        raise not_found("active pairing code") from exc
    return DeviceOut.of(await gw.devices.get(app.id, device_id))


async def _on_connected_device(
    gw: Gateway, app: App, device_id: str, action: Callable[[str], Awaitable[object]]
) -> DeviceOut:
    """Run a sandbox action that needs a connected device; answer with the device after it."""
    await _connected_device(gw, app, device_id)
    try:
        await action(device_id)
    except EngineError as exc:
        raise ApiError(409, "device_not_connected", exc.message) from exc
    return DeviceOut.of(await gw.devices.get(app.id, device_id))


@router.post("/devices/{device_id}/drop", response_model=DeviceOut)
async def drop(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The device's socket drops: `connection` goes `reconnecting`, then back `online`."""
    return await _on_connected_device(gw, app, device_id, gw.sandbox.drop)


@router.post("/devices/{device_id}/logout", response_model=DeviceOut)
async def phone_logout(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The phone unlinks the device: → `disconnected` with reason `logged_out`."""
    return await _on_connected_device(gw, app, device_id, gw.sandbox.phone_logout)


@router.post("/devices/{device_id}/inbound", response_model=InboundAccepted, status_code=202)
async def inbound(
    device_id: str, body: InboundRequest, app: CurrentApp, gw: GatewayDep
) -> InboundAccepted:
    """A contact writes to the device: a `message` event (direction inbound) follows."""
    await _connected_device(gw, app, device_id)
    sender = normalise_phone(body.from_, "from")
    try:
        wa_message_id = await gw.sandbox.contact_writes(device_id, sender, body.text)
    except EngineError as exc:
        raise ApiError(409, "device_not_connected", exc.message) from exc
    return InboundAccepted(wa_message_id=wa_message_id)


class ReceivedOut(BaseModel):
    wa_message_id: str
    to: str
    type: str
    first_received_at: datetime
    times_received: int


class ReceivedList(BaseModel):
    received: list[ReceivedOut]


@router.get("/devices/{device_id}/received", response_model=ReceivedList)
async def received(device_id: str, app: CurrentApp, gw: GatewayDep) -> ReceivedList:
    """What the simulated network received from this device, once per WhatsApp message id
    (a resend of the same id counts in `times_received`, as recipients dedupe it)."""
    _require_sandbox(app)
    await gw.devices.get(app.id, device_id)
    rows = await gw.sandbox.received_from(device_id)
    return ReceivedList(
        received=[
            ReceivedOut(
                wa_message_id=r.wa_message_id,
                to=r.to_jid,
                type=r.type,
                first_received_at=r.first_received_at,
                times_received=r.times_received,
            )
            for r in rows
        ]
    )
