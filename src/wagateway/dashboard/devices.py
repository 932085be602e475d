"""The "Messenger Management" screen and a device's own page: create, watch the QR rotate
live (server-sent events), pair by code, disconnect, regenerate the QR, delete; sandbox
buttons; a test message; recent messages and events, and the archive after deletion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from wagateway.apps.limits import device_quota
from wagateway.audit import service as audit
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.timefmt import rfc3339
from wagateway.dashboard.device_account import blocked_contacts
from wagateway.dashboard.device_groups import groups_of
from wagateway.dashboard.device_messages import REACTIONS, message_rows
from wagateway.dashboard.projects import (
    device_url,
    presence_mode_from_form,
    project_of,
    project_url,
)
from wagateway.dashboard.web import (
    PREFIX,
    ActingViewerDep,
    Viewer,
    ViewerDep,
    act,
    back_to,
    flash,
    render,
)
from wagateway.devices.models import Device
from wagateway.devices.policies import PRESENCE_MODES, CallPolicy, validated_call_policy
from wagateway.devices.qr_image import qr_png_data_url
from wagateway.devices.state import Status
from wagateway.gateway import Gateway, GatewayDep
from wagateway.messages.chats import list_chats
from wagateway.messages.schemas import SendMessageRequest
from wagateway.sandbox.controls import InboundRequest
from wagateway.webhooks import service as deliveries

router = APIRouter(prefix=PREFIX)
LIVE_POLL_SECONDS = 0.5
# A stream ends after this long and the browser's EventSource reconnects by itself, which
# also re-checks the login: a logged-out browser stops receiving within a minute.
LIVE_STREAM_SECONDS = 60.0
KEEP_ALIVE_SECONDS = 15.0

QR_RULE = (
    "A new QR can be made only when the device is not linked and its current QR has "
    "expired (or after Disconnect). While a QR is still valid, scan that one; once linked, "
    "disconnect first."
)


def plain_words(exc: ApiError) -> str:
    """Errors as an operator should read them on the page."""
    if exc.code == "qr_reset_not_allowed":
        return f"{exc.message}. {QR_RULE}"
    return exc.message


def device_snapshot(device: Device) -> dict[str, Any]:
    """What the live views show of a device (the QR image is added only when it changed)."""
    return {
        "device_id": device.id,
        "device_name": device.name,
        "status": device.status,
        "connection": device.connection,
        "wa_number": device.wa_number,
        "qr": device.qr if device.status == Status.QR_GENERATED else None,
        "qr_expires_at": rfc3339(device.qr_expires_at),
        "pairing_code": device.pairing_code,
        "last_error": device.last_error,
    }


async def _audit_done(
    gw: Gateway, viewer: Viewer, action: str, app_id: str, device_id: str, **detail: Any
) -> None:
    # For what the engine or the send queue commits (a sandbox phone, a queued message):
    # there is no transaction of the action to join, so the entry follows it.
    await audit.record_done(
        gw.db, viewer.actor, action, app_id=app_id, device_id=device_id, detail=detail
    )


# --- the devices screen ---------------------------------------------------------------------


@router.get("/projects/{app_id}", response_class=HTMLResponse, include_in_schema=False)
async def devices_page(
    request: Request, app_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    devices = await gw.devices.list(app_id, include_destroyed=True)
    return render(
        request,
        "project.html",
        viewer,
        project=project,
        live=[d for d in devices if d.status != Status.DESTROYED],
        archived=[d for d in devices if d.status == Status.DESTROYED],
    )


@router.post("/projects/{app_id}/devices", include_in_schema=False)
async def create_device(
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    device_name: Annotated[str, Form()] = "",
) -> Response:
    project = await project_of(gw, viewer, app_id)
    try:
        quota = device_quota(gw.settings, project)
        device = await gw.devices.create(
            app_id, project.engine, device_name, quota=quota, actor=viewer.actor
        )
    except ApiError as exc:
        await flash(gw, viewer, plain_words(exc), "error")
        return back_to(project_url(app_id))
    return back_to(device_url(app_id, device.id))


@router.get("/projects/{app_id}/live", include_in_schema=False)
async def live(request: Request, app_id: str, viewer: ViewerDep, gw: GatewayDep) -> Response:
    """Server-sent events: the project's devices, sent again whenever one of them changes
    (status, connection, a rotated QR). Read from the database, so it works whichever node
    owns the device."""
    await project_of(gw, viewer, app_id)
    loop = asyncio.get_running_loop()

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        started = last_sent_at = loop.time()
        last: list[dict[str, Any]] | None = None
        while loop.time() - started < LIVE_STREAM_SECONDS:
            if await request.is_disconnected():
                return
            snapshot = [device_snapshot(d) for d in await gw.devices.list(app_id)]
            if snapshot != last:
                for item in snapshot:
                    item["qr_image"] = qr_png_data_url(item["qr"]) if item["qr"] else None
                yield f"data: {json.dumps(snapshot)}\n\n"
                for item in snapshot:
                    del item["qr_image"]
                last, last_sent_at = snapshot, loop.time()
            elif loop.time() - last_sent_at > KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent_at = loop.time()
            await asyncio.sleep(LIVE_POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# --- one device -----------------------------------------------------------------------------


@router.get(
    "/projects/{app_id}/devices/{device_id}", response_class=HTMLResponse, include_in_schema=False
)
async def device_page(
    request: Request, app_id: str, device_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    device = await gw.devices.get(app_id, device_id, allow_destroyed=True)
    events = await deliveries.deliveries_page(
        gw.db, app_id, device_id=device_id, include_archived=True, limit=20
    )
    messages, _ = await gw.messages.list(app_id, device_id, limit=20, allow_destroyed=True)
    chats, _ = await list_chats(gw.db, app_id, device_id, limit=20, allow_destroyed=True)
    return render(
        request,
        "device.html",
        viewer,
        project=project,
        device=device,
        snapshot=device_snapshot(device),
        qr_image=qr_png_data_url(device.qr) if device.qr else None,
        messages=messages,
        message_rows=message_rows(gw, messages),
        reactions=REACTIONS,
        events=events.events,
        qr_rule=QR_RULE,
        archived=device.status == Status.DESTROYED,
        own_call_policy=CallPolicy.from_stored(device.call_policy),
        project_call_policy=CallPolicy.from_stored(project.call_policy) or CallPolicy(),
        presence_modes=PRESENCE_MODES,
        blocklist=await blocked_contacts(gw, device),
        chats=chats,
        groups=await groups_of(gw, device),
    )


@router.post("/projects/{app_id}/devices/{device_id}/settings", include_in_schema=False)
async def save_device_settings(
    request: Request, app_id: str, device_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    """The device's own call policy (`calls`: `project` follows the project's, `report`
    only reports calls, `reject` rejects them with the reply text) and presence mode."""
    await project_of(gw, viewer, app_id)
    form = dict(await request.form())

    async def action() -> str:
        choice = str(form.get("calls", "project"))
        if choice not in ("project", "report", "reject"):
            raise validation_error("calls must be project, report or reject", "calls")
        text = str(form.get("call_reply_text", ""))
        policy = None
        if choice != "project":
            policy = validated_call_policy(choice == "reject", text if choice == "reject" else None)
        await gw.devices.update(
            app_id,
            device_id,
            call_policy=policy.stored() if policy is not None else None,
            presence_mode=presence_mode_from_form(form),
            actor=viewer.actor,
        )
        return "Device settings saved."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/qr", include_in_schema=False)
async def regenerate_qr(
    request: Request, app_id: str, device_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        device = await gw.devices.regenerate_qr(app_id, device_id, actor=viewer.actor)
        return "A new QR is ready." if device.qr else f"No QR: {device.last_error}"

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/pairing-code", include_in_schema=False)
async def pairing_code(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    phone: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        device = await gw.devices.request_pairing_code(app_id, device_id, phone, actor=viewer.actor)
        return f"Pairing code {device.pairing_code}: enter it on the phone {device.pairing_phone}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/disconnect", include_in_schema=False)
async def disconnect(
    request: Request, app_id: str, device_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        await gw.devices.disconnect(app_id, device_id, actor=viewer.actor)
        return "Disconnected. Regenerate the QR to link a phone again."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/delete", include_in_schema=False)
async def delete(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    confirm_name: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        device = await gw.devices.delete(
            app_id, device_id, actor=viewer.actor, confirm_name=confirm_name
        )
        return f"Device “{device.name}” deleted; its messages and events are archived below."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/messages", include_in_schema=False)
async def send_test_message(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    to: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        result = await gw.messages.send(
            app_id, device_id, SendMessageRequest(to=to, type="text", text=text)
        )
        await _audit_done(
            gw, viewer, "message.send", app_id, device_id, message_id=result.body.message_id
        )
        return f"Message {result.body.message_id} queued to {result.body.to}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


# --- sandbox buttons ------------------------------------------------------------------------


@router.post("/projects/{app_id}/devices/{device_id}/sandbox/scan", include_in_schema=False)
async def sandbox_scan(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    phone: Annotated[str, Form()] = "",
) -> Response:
    project = await project_of(gw, viewer, app_id)

    async def action() -> str:
        device = await gw.sandbox_controls.scan_current_qr(project, device_id, phone)
        await _audit_done(gw, viewer, "sandbox.scan", app_id, device_id)
        return f"Scanned: linked as {device.wa_number}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/sandbox/inbound", include_in_schema=False)
async def sandbox_inbound(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    sender: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    project = await project_of(gw, viewer, app_id)

    async def action() -> str:
        body = InboundRequest.model_validate({"from": sender, "type": "text", "text": text})
        await gw.sandbox_controls.inbound(project, device_id, body)
        await _audit_done(gw, viewer, "sandbox.inbound", app_id, device_id)
        return f"{sender} wrote to the device."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)


@router.post("/projects/{app_id}/devices/{device_id}/sandbox/drop", include_in_schema=False)
async def sandbox_drop(
    request: Request, app_id: str, device_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    project = await project_of(gw, viewer, app_id)

    async def action() -> str:
        await gw.sandbox_controls.drop(project, device_id)
        await _audit_done(gw, viewer, "sandbox.drop", app_id, device_id)
        return "The connection dropped; the device reconnects by itself."

    return await act(request, gw, viewer, device_url(app_id, device_id), action, plain_words)
