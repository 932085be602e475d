"""A device's groups on its page (CONTRACT §8.3): who is in each, and a form that adds or
removes a participant through the engine, under the same rules as the API (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from wagateway.core.addresses import normalise_recipient
from wagateway.core.errors import validation_error
from wagateway.dashboard.projects import device_url, project_of
from wagateway.dashboard.web import PREFIX, ActingViewerDep, act, audit_device_action
from wagateway.devices.models import Device
from wagateway.devices.refusals import group_refusal, not_connected
from wagateway.devices.state import Status
from wagateway.engines.base import EngineError, GroupInfo, with_valid_text
from wagateway.gateway import Gateway, GatewayDep

router = APIRouter(prefix=PREFIX)


async def groups_of(gw: Gateway, device: Device) -> list[GroupInfo] | None:
    """The device's groups as WhatsApp says now; None when it cannot be asked."""
    if device.status != Status.CONNECTED:
        return None
    try:
        found = await gw.runtime.engine_for(device.engine).groups(device.id)
    except EngineError:
        return None
    return [with_valid_text(g) for g in found]


@router.post("/projects/{app_id}/devices/{device_id}/groups/participants", include_in_schema=False)
async def change_participant(
    request: Request,
    app_id: str,
    device_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    group: Annotated[str, Form()] = "",
    change: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        if change not in ("add", "remove"):
            raise validation_error("change must be add or remove", "change")
        if not group.endswith("@g.us"):
            raise validation_error("group must be a group JID", "group")
        jid = normalise_recipient(phone, "phone")
        device = await gw.devices.get(app_id, device_id)
        if device.status != Status.CONNECTED:
            raise not_connected(device)
        engine = gw.runtime.engine_for(device.engine)
        try:
            [result] = await engine.update_group_participants(device.id, group, change, [jid])
        except EngineError as exc:
            raise group_refusal(exc) from exc
        await audit_device_action(
            gw,
            viewer,
            "group.participants",
            app_id,
            device_id,
            group=group,
            action=change,
            jid=jid,
            status=result.status,
        )
        return f"{change} {result.jid} in {group}: {result.status}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)
