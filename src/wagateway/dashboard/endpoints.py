"""A project's webhook endpoints (CONTRACT §10): the list, creating one, its own page (edit,
enable or disable, rotate its secret, a test event, delete). A new or rotated secret is
shown once, in the answer to the form that made it: never in a URL, a flash or a log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from wagateway.apps import endpoints
from wagateway.apps import service as apps
from wagateway.apps.endpoints import EndpointChanges, EndpointView
from wagateway.apps.models import App
from wagateway.core.errors import ApiError, validation_error
from wagateway.dashboard.projects import project_of, project_url
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
from wagateway.gateway import Gateway, GatewayDep
from wagateway.webhooks import service as deliveries
from wagateway.webhooks.event_names import EVENT_NAMES
from wagateway.webhooks.models import DEFAULT_ENDPOINT

router = APIRouter(prefix=PREFIX)
EVENT_CHOICES = sorted(EVENT_NAMES)
MAX_GRACE_HOURS = apps.MAX_WEBHOOK_SECRET_GRACE_SECONDS / 3600
DEFAULT_GRACE_HOURS = apps.WEBHOOK_SECRET_GRACE_SECONDS / 3600


def endpoints_url(app_id: str, endpoint_id: str = "") -> str:
    return project_url(app_id, "/webhook-endpoints" + (f"/{endpoint_id}" if endpoint_id else ""))


def endpoint_log_url(app_id: str, endpoint_id: str) -> str:
    return project_url(app_id, "/webhooks?" + urlencode({"endpoint_id": endpoint_id}))


async def _devices(gw: Gateway, app_id: str) -> list[Device]:
    return await gw.devices.list(app_id, include_destroyed=True)


def _changes(form: FormData) -> EndpointChanges:
    """Every field of the create and edit forms (an unticked box is absent: off, none)."""
    return EndpointChanges(
        url=str(form.get("url", "")),
        description=str(form.get("description", "")),
        events=[str(v) for v in form.getlist("events")],
        device_ids=[str(v) for v in form.getlist("device_ids")],
        enabled=bool(form.get("enabled")),
    )


def _grace_seconds(value: str) -> int:
    try:
        hours = float(value) if value.strip() else DEFAULT_GRACE_HOURS
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= MAX_GRACE_HOURS:
        raise validation_error(
            f"the grace period is a number of hours from 0 to {MAX_GRACE_HOURS:g}", "grace_hours"
        )
    return int(hours * 3600)


async def _refused(gw: Gateway, viewer: Viewer, exc: ApiError, back: str) -> Response:
    await flash(gw, viewer, exc.message, "error")
    return back_to(back)


def _secret_page(
    request: Request,
    viewer: Viewer,
    project: App,
    endpoint: EndpointView,
    secret: str,
    headline: str,
) -> HTMLResponse:
    """The one page a secret is ever on: the answer to the POST that made it, not kept by
    the browser (no-store, as every dashboard page); reloading it would send the form again
    (the browser asks first), which makes another endpoint or rotates again."""
    return render(
        request,
        "endpoint_secret.html",
        viewer,
        project=project,
        endpoint=endpoint,
        secret=secret,
        headline=headline,
    )


# --- the list and creating one --------------------------------------------------------------


@router.get(
    "/projects/{app_id}/webhook-endpoints", response_class=HTMLResponse, include_in_schema=False
)
async def endpoints_page(
    request: Request, app_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    devices = await _devices(gw, app_id)
    return render(
        request,
        "endpoints.html",
        viewer,
        project=project,
        endpoints=await endpoints.list_endpoints(gw.db, app_id),
        devices=devices,
        device_names={d.id: d.name for d in devices},
        event_choices=EVENT_CHOICES,
        max_endpoints=endpoints.MAX_ENDPOINTS,
    )


@router.post("/projects/{app_id}/webhook-endpoints", include_in_schema=False)
async def create_endpoint(
    request: Request, app_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    project = await project_of(gw, viewer, app_id)
    form = await request.form()
    try:
        view, secret = await endpoints.create_endpoint(
            gw.db,
            gw.box,
            viewer.actor,
            app_id,
            _changes(form),
            {d.id for d in await _devices(gw, app_id)},
        )
    except ApiError as exc:
        return await _refused(gw, viewer, exc, endpoints_url(app_id))
    return _secret_page(request, viewer, project, view, secret, "Endpoint created")


# --- one endpoint ---------------------------------------------------------------------------


@router.get(
    "/projects/{app_id}/webhook-endpoints/{endpoint_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def endpoint_page(
    request: Request, app_id: str, endpoint_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    endpoint = await endpoints.get_endpoint(gw.db, app_id, endpoint_id)
    devices = await _devices(gw, app_id)
    return render(
        request,
        "endpoint.html",
        viewer,
        project=project,
        endpoint=endpoint,
        devices=devices,
        device_names={d.id: d.name for d in devices},
        event_choices=EVENT_CHOICES,
        is_default=endpoint_id == DEFAULT_ENDPOINT,
        default_grace_hours=DEFAULT_GRACE_HOURS,
        max_grace_hours=MAX_GRACE_HOURS,
        log_url=endpoint_log_url(app_id, endpoint_id),
    )


@router.post("/projects/{app_id}/webhook-endpoints/{endpoint_id}", include_in_schema=False)
async def update_endpoint(
    request: Request, app_id: str, endpoint_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    await project_of(gw, viewer, app_id)
    form = await request.form()

    async def action() -> str:
        await endpoints.update_endpoint(
            gw.db,
            viewer.actor,
            app_id,
            endpoint_id,
            _changes(form),
            {d.id for d in await _devices(gw, app_id)},
        )
        return "Endpoint saved."

    return await act(request, gw, viewer, endpoints_url(app_id, endpoint_id), action)


@router.post("/projects/{app_id}/webhook-endpoints/{endpoint_id}/enabled", include_in_schema=False)
async def set_endpoint_enabled(
    request: Request,
    app_id: str,
    endpoint_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)
    on = enabled == "1"

    async def action() -> str:
        await endpoints.update_endpoint(
            gw.db, viewer.actor, app_id, endpoint_id, EndpointChanges(enabled=on), ()
        )
        if on:
            return "Endpoint enabled: it gets the events from now on."
        return "Endpoint disabled: it gets nothing until it is enabled again."

    return await act(request, gw, viewer, endpoints_url(app_id, endpoint_id), action)


@router.post(
    "/projects/{app_id}/webhook-endpoints/{endpoint_id}/rotate-secret", include_in_schema=False
)
async def rotate_endpoint_secret(
    request: Request,
    app_id: str,
    endpoint_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    grace_hours: Annotated[str, Form()] = "",
) -> Response:
    project = await project_of(gw, viewer, app_id)
    try:
        secret, _until = await endpoints.rotate_endpoint_secret(
            gw.db, gw.box, viewer.actor, app_id, endpoint_id, _grace_seconds(grace_hours)
        )
        view = await endpoints.get_endpoint(gw.db, app_id, endpoint_id)
    except ApiError as exc:
        return await _refused(gw, viewer, exc, endpoints_url(app_id, endpoint_id))
    return _secret_page(request, viewer, project, view, secret, "Secret rotated")


@router.post("/projects/{app_id}/webhook-endpoints/{endpoint_id}/test", include_in_schema=False)
async def send_test_event(
    request: Request, app_id: str, endpoint_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        event_id = await deliveries.send_test_event_as(gw.db, viewer.actor, app_id, endpoint_id)
        return f"Test event {event_id} queued to endpoint {endpoint_id}."

    return await act(request, gw, viewer, endpoint_log_url(app_id, endpoint_id), action)


@router.post("/projects/{app_id}/webhook-endpoints/{endpoint_id}/delete", include_in_schema=False)
async def delete_endpoint(
    app_id: str,
    endpoint_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    confirm_id: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)
    try:
        if confirm_id.strip() != endpoint_id:
            raise validation_error("to delete it, type its id exactly", "confirm_id")
        await endpoints.delete_endpoint(gw.db, viewer.actor, app_id, endpoint_id)
    except ApiError as exc:
        return await _refused(gw, viewer, exc, endpoints_url(app_id, endpoint_id))
    if endpoint_id == DEFAULT_ENDPOINT:
        done = "Endpoint default deleted: the project's webhook URL is cleared."
    else:
        done = f"Endpoint {endpoint_id} deleted; its attempts stay in the delivery log."
    await flash(gw, viewer, done)
    return back_to(endpoints_url(app_id))
