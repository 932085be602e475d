"""Sandbox controls (CONTRACT §6): play the phone and the network for sandbox apps."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

import segno
from fastapi import APIRouter
from pydantic import BaseModel, Field

from wagateway.apps.models import App
from wagateway.core.deps import CurrentApp, GatewayDep
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.devices.schemas import DeviceOut
from wagateway.devices.service import normalise_phone
from wagateway.devices.state import Status
from wagateway.engines.base import EngineError
from wagateway.gateway import Gateway
from wagateway.messages.recipients import normalise_recipient

router = APIRouter(prefix="/sandbox", tags=["sandbox"])


class ScanRequest(BaseModel):
    qr: str
    phone: str


class PairRequest(BaseModel):
    pairing_code: str


class InboundRequest(BaseModel):
    from_: str = Field(alias="from", description="the contact's phone number")
    type: Literal["text", "image", "document", "location"] = "text"
    text: str | None = Field(None, max_length=65536)
    caption: str | None = Field(None, max_length=3000)
    file_name: str | None = Field(None, max_length=255)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    media_size: int | None = Field(
        None, ge=1, le=16 * 1024 * 1024, description="pad the generated document to this size"
    )
    forwarded: bool = False
    reply_to: str | None = None
    mentions: list[str] = Field(default_factory=list)


class RevokeRequest(BaseModel):
    from_: str = Field(alias="from")
    wa_message_id: str


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
    """A contact writes to the device: a `message` event (direction inbound) follows. Images
    and documents are generated (a small PNG, a small PDF) and land in the media store."""
    await _connected_device(gw, app, device_id)
    sender = normalise_phone(body.from_, "from")
    content, media = sandbox_content(body)
    try:
        wa_message_id = await gw.sandbox.contact_writes(
            device_id,
            sender,
            body.type,
            content,
            media,
            forwarded=body.forwarded,
            reply_to=body.reply_to,
            mentions=tuple(normalise_recipient(m, "mentions") for m in body.mentions),
        )
    except EngineError as exc:
        raise ApiError(409, "device_not_connected", exc.message) from exc
    return InboundAccepted(wa_message_id=wa_message_id)


@router.post("/devices/{device_id}/revoke", status_code=202)
async def revoke(
    device_id: str, body: RevokeRequest, app: CurrentApp, gw: GatewayDep
) -> dict[str, str]:
    """The contact deletes a message for everyone: a `message_revoked` event follows."""
    await _connected_device(gw, app, device_id)
    sender = normalise_phone(body.from_, "from")
    try:
        await gw.sandbox.contact_revokes(device_id, sender, body.wa_message_id)
    except EngineError as exc:
        raise ApiError(409, "device_not_connected", exc.message) from exc
    return {"wa_message_id": body.wa_message_id}


def sandbox_content(body: InboundRequest) -> tuple[dict[str, object], bytes | None]:
    """The content fields and generated media of a simulated inbound message."""
    if body.type == "text":
        if not body.text:
            raise validation_error("text is required for type text", "text")
        return {"text": body.text}, None
    if body.type == "location":
        if body.latitude is None or body.longitude is None:
            raise validation_error("latitude and longitude are required", "latitude")
        return {"latitude": body.latitude, "longitude": body.longitude}, None
    if body.type == "image":
        image = segno.make(body.caption or "WA Gateway sandbox").png_data_uri(scale=4)
        data = base64.b64decode(image.split(",", 1)[1])
        content: dict[str, object] = {"mime_type": "image/png"}
    else:
        data = SAMPLE_PDF
        if body.media_size:
            data = data + b"%" + b"0" * max(body.media_size - len(data) - 1, 0)
        content = {"mime_type": "application/pdf", "file_name": body.file_name or "sample.pdf"}
    if body.caption is not None:
        content["caption"] = body.caption
    return content, data


SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


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
