"""The webhooks page: the delivery log with filters, one delivery's payload and attempts,
redelivery (one, or every failed one), and a test event."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wagateway.apps import endpoints
from wagateway.core.netguard import published_egress
from wagateway.dashboard.projects import project_of, project_url
from wagateway.dashboard.web import PREFIX, ActingViewerDep, ViewerDep, act, back_to, flash, render
from wagateway.gateway import GatewayDep
from wagateway.webhooks import service as deliveries

router = APIRouter(prefix=PREFIX)
PAGE = 50


@router.get("/projects/{app_id}/webhooks", response_class=HTMLResponse, include_in_schema=False)
async def deliveries_page(
    request: Request,
    app_id: str,
    viewer: ViewerDep,
    gw: GatewayDep,
    device_id: str = "",
    event: str = "",
    state: str = "",
    cursor: str = "",
    endpoint_id: str = "",
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    page = await deliveries.deliveries_page(
        gw.db,
        app_id,
        device_id=device_id or None,
        event=event or None,
        state=state or None,
        include_archived=True,
        limit=PAGE,
        cursor=cursor or None,
        endpoint_id=endpoint_id or None,
    )
    devices = await gw.devices.list(app_id, include_destroyed=True)
    return render(
        request,
        "webhooks.html",
        viewer,
        project=project,
        page=page,
        devices=devices,
        device_names={d.id: d.name for d in devices},
        last_attempts={d.seq: d.attempts[-1] for d in page.events if d.attempts},
        endpoints=await endpoints.list_endpoints(gw.db, app_id),
        filters={
            "device_id": device_id,
            "event": event,
            "state": state,
            "cursor": cursor,
            "endpoint_id": endpoint_id,
        },
        states=deliveries.STATES,
        egress_addresses=published_egress(gw.settings.egress_addresses),
    )


@router.get(
    "/projects/{app_id}/webhooks/{request_id}", response_class=HTMLResponse, include_in_schema=False
)
async def delivery_page(
    request: Request, app_id: str, request_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    event = await deliveries.delivery(gw.db, app_id, request_id)
    return render(
        request,
        "delivery.html",
        viewer,
        project=project,
        event=event,
        attempts=event.attempts,
        payload=json.dumps(event.payload, indent=2, ensure_ascii=False),
    )


@router.post("/projects/{app_id}/webhooks/{request_id}/redeliver", include_in_schema=False)
async def redeliver(
    request: Request,
    app_id: str,
    request_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    endpoint_id: Annotated[str, Form()] = "",
) -> Response:
    """Again to every endpoint the event is for, or (`endpoint_id`) to that one."""
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        await deliveries.redeliver_as(gw.db, viewer.actor, app_id, request_id, endpoint_id or None)
        to = f" to endpoint {endpoint_id}" if endpoint_id else ""
        return f"Event {request_id} queued for delivery again{to}."

    return await act(request, gw, viewer, project_url(app_id, f"/webhooks/{request_id}"), action)


@router.post("/projects/{app_id}/webhooks-redeliver-failed", include_in_schema=False)
async def redeliver_failed(
    request: Request,
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    endpoint_id: Annotated[str, Form()] = "",
) -> Response:
    """Every failed event again (of one endpoint, when the log is filtered to one)."""
    await project_of(gw, viewer, app_id)
    back = project_url(app_id, "/webhooks")
    if endpoint_id:
        back += "?" + urlencode({"endpoint_id": endpoint_id})

    async def action() -> str:
        count = await deliveries.redeliver_failed_as(
            gw.db, viewer.actor, app_id, endpoint_id=endpoint_id or None
        )
        return f"{count} failed event(s) queued for delivery again."

    return await act(request, gw, viewer, back, action)


@router.post("/projects/{app_id}/webhooks-test", include_in_schema=False)
async def send_test_event(app_id: str, viewer: ActingViewerDep, gw: GatewayDep) -> Response:
    await project_of(gw, viewer, app_id)
    event_id = await deliveries.send_test_event_as(gw.db, viewer.actor, app_id)
    enabled = [e for e in await endpoints.list_endpoints(gw.db, app_id) if e.enabled]
    note = "" if enabled else " No endpoint is enabled, so it will be skipped."
    await flash(gw, viewer, f"Test event {event_id} queued.{note}")
    return back_to(project_url(app_id, "/webhooks"))
