"""Sandbox controls (CONTRACT §6): play the phone and the network for sandbox apps."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wagateway.core.deps import CurrentApp, GatewayDep
from wagateway.devices.schemas import DeviceOut
from wagateway.sandbox.controls import InboundRequest

router = APIRouter(prefix="/sandbox", tags=["sandbox"])


class ScanRequest(BaseModel):
    qr: str
    phone: str


class PairRequest(BaseModel):
    pairing_code: str


class RevokeRequest(BaseModel):
    from_: str = Field(alias="from")
    wa_message_id: str


class InboundAccepted(BaseModel):
    wa_message_id: str


@router.post("/scan", response_model=DeviceOut)
async def scan(body: ScanRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """A simulated phone scans this QR: the device becomes `connected` as `phone`."""
    return DeviceOut.of(await gw.sandbox_controls.scan(app, body.qr, body.phone))


@router.post("/pair", response_model=DeviceOut)
async def enter_pairing_code(body: PairRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The simulated phone types a pairing code: the device links as the code's phone."""
    return DeviceOut.of(await gw.sandbox_controls.enter_pairing_code(app, body.pairing_code))


@router.post("/devices/{device_id}/drop", response_model=DeviceOut)
async def drop(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The device's socket drops: `connection` goes `reconnecting`, then back `online`."""
    return DeviceOut.of(await gw.sandbox_controls.drop(app, device_id))


@router.post("/devices/{device_id}/logout", response_model=DeviceOut)
async def phone_logout(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The phone unlinks the device: → `disconnected` with reason `logged_out`."""
    return DeviceOut.of(await gw.sandbox_controls.phone_logout(app, device_id))


@router.post("/devices/{device_id}/inbound", response_model=InboundAccepted, status_code=202)
async def inbound(
    device_id: str, body: InboundRequest, app: CurrentApp, gw: GatewayDep
) -> InboundAccepted:
    """A contact writes to the device: a `message` event (direction inbound) follows. Images
    and documents are generated (a small PNG, a small PDF) and land in the media store."""
    wa_message_id = await gw.sandbox_controls.inbound(app, device_id, body)
    return InboundAccepted(wa_message_id=wa_message_id)


@router.post("/devices/{device_id}/revoke", status_code=202)
async def revoke(
    device_id: str, body: RevokeRequest, app: CurrentApp, gw: GatewayDep
) -> dict[str, str]:
    """The contact deletes a message for everyone: a `message_revoked` event follows."""
    await gw.sandbox_controls.revoke(app, device_id, body.from_, body.wa_message_id)
    return {"wa_message_id": body.wa_message_id}


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
    rows = await gw.sandbox_controls.received(app, device_id)
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
