"""The account itself on a device's page (CONTRACT §8.4): restart the session without
unlinking, and the blocklist with an unblock button per contact. Each action is the API's own
service call (`AccountActions`); refusals come back as the page's error message."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from wagateway.core.errors import ApiError
from wagateway.dashboard.projects import device_url, project_of
from wagateway.dashboard.web import PREFIX, ActingViewerDep, act, audit_device_action
from wagateway.devices.models import Device
from wagateway.devices.state import Status
from wagateway.gateway import Gateway, GatewayDep

router = APIRouter(prefix=PREFIX)
log = structlog.get_logger(__name__)


async def blocked_contacts(gw: Gateway, device: Device) -> list[str] | None:
    """The device's blocklist for its page (asked of the engine at most every 30 s: the page
    reloads itself every few seconds); None when it cannot be asked (not connected, or the
    engine could not answer)."""
    if device.status != Status.CONNECTED:
        return None
    try:
        return await gw.account.recent_blocklist(device.app_id, device.id)
    except ApiError as exc:
        log.info("dashboard_blocklist_unavailable", device_id=device.id, error=exc.message)
        return None


@router.post("/projects/{app_id}/devices/{device_id}/restart", include_in_schema=False)
async def restart(
    request: Request, app_id: str, device_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        await gw.account.restart(app_id, device_id, actor=viewer.actor)
        return "Restarting: the device reconnects without unlinking."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)


@router.post(
    "/projects/{app_id}/devices/{device_id}/contacts/{jid}/unblock", include_in_schema=False
)
async def unblock(
    request: Request,
    app_id: str,
    device_id: str,
    jid: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        target = await gw.account.set_blocked(app_id, device_id, jid, False)
        await audit_device_action(gw, viewer, "contact.unblock", app_id, device_id, jid=target)
        return f"Unblocked {target}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)
