"""Device lifecycle routes (CONTRACT §2). Thin: parse, authorise, call the service."""

from __future__ import annotations

from fastapi import APIRouter, status

from wagateway.api.deps import CurrentApp
from wagateway.apps.limits import device_quota
from wagateway.core.openapi import APP_CALLER, DEVICE_ROUTE, WITH_BODY, errors
from wagateway.devices.schemas import (
    DeviceCreate,
    DeviceList,
    DeviceOut,
    DeviceUpdate,
    PairingCodeRequest,
    call_policy_update,
    presence_mode_update,
)
from wagateway.gateway import GatewayDep

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceOut,
    responses=errors(APP_CALLER, WITH_BODY, "conflict", "too_many_devices"),
)
async def create_device(body: DeviceCreate, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """Create a device and open its first pairing window: answers with the first QR.

    If the engine produces no QR within a bounded wait the device is still created,
    `disconnected`, with `last_error` saying why.
    """
    pacing = body.pacing.model_dump(exclude_none=True) if body.pacing else None
    quota = device_quota(gw.settings, app)
    device = await gw.devices.create(
        app.id, app.engine, body.device_name, pacing, quota, history_sync=body.history_sync
    )
    return DeviceOut.of(device)


@router.get("", response_model=DeviceList, responses=errors(APP_CALLER, "validation_error"))
async def list_devices(
    app: CurrentApp, gw: GatewayDep, include_destroyed: bool = False
) -> DeviceList:
    """The app's devices; destroyed ones only with `include_destroyed=true`."""
    devices = await gw.devices.list(app.id, include_destroyed)
    return DeviceList(devices=[DeviceOut.of(d) for d in devices])


@router.get("/{device_id}", response_model=DeviceOut, responses=errors(DEVICE_ROUTE))
async def get_device(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """One device: its status, connection and, while pairing, the current QR."""
    return DeviceOut.of(await gw.devices.get(app.id, device_id))


@router.patch(
    "/{device_id}", response_model=DeviceOut, responses=errors(DEVICE_ROUTE, WITH_BODY, "conflict")
)
async def update_device(
    device_id: str, body: DeviceUpdate, app: CurrentApp, gw: GatewayDep
) -> DeviceOut:
    """Rename the device or change its send pacing (rate, jitter, typing, daily cap), its
    own `call_policy` and `presence_mode` (either null: the app's applies), or
    `history_sync` (whether its next link imports WhatsApp's history)."""
    pacing = body.pacing.model_dump(exclude_none=True) if body.pacing else None
    device = await gw.devices.update(
        app.id,
        device_id,
        body.device_name,
        pacing,
        call_policy=call_policy_update(body, body.call_policy),
        presence_mode=presence_mode_update(body, body.presence_mode),
        history_sync=body.history_sync,
    )
    return DeviceOut.of(device)


@router.post(
    "/{device_id}/qr",
    response_model=DeviceOut,
    responses=errors(DEVICE_ROUTE, "qr_reset_not_allowed"),
)
async def regenerate_qr(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """Start a new pairing window. 409 `qr_reset_not_allowed` while the current QR is valid
    or the device is connected: disconnect first or wait until expiry."""
    return DeviceOut.of(await gw.devices.regenerate_qr(app.id, device_id))


@router.post(
    "/{device_id}/pairing-code",
    response_model=DeviceOut,
    responses=errors(DEVICE_ROUTE, WITH_BODY, "qr_reset_not_allowed"),
)
async def pairing_code(
    device_id: str, body: PairingCodeRequest, app: CurrentApp, gw: GatewayDep
) -> DeviceOut:
    """Link by an 8-character code typed on the phone (WhatsApp → Linked devices →
    Link with phone number). Same conflict rules as a QR reset."""
    return DeviceOut.of(await gw.devices.request_pairing_code(app.id, device_id, body.phone))


@router.post("/{device_id}/disconnect", response_model=DeviceOut, responses=errors(DEVICE_ROUTE))
async def disconnect_device(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """Log the companion out of WhatsApp → `disconnected`. Relink with `POST /qr`."""
    return DeviceOut.of(await gw.devices.disconnect(app.id, device_id))


@router.delete("/{device_id}", response_model=DeviceOut, responses=errors(DEVICE_ROUTE))
async def delete_device(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """Destroy the device: logged out, session erased, records archived. 410 afterwards."""
    return DeviceOut.of(await gw.devices.delete(app.id, device_id))
