"""Projects (apps): the overview, creating one, its settings, its keys and members, and
the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from wagateway.apps import service as apps
from wagateway.apps.models import App
from wagateway.apps.pacing import PacingUpdate
from wagateway.apps.service import KEEP, Keep
from wagateway.audit import service as audit
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.netguard import published_egress
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
from wagateway.devices.policies import PRESENCE_MODES, CallPolicy, validated_call_policy
from wagateway.devices.service import change_project_settings
from wagateway.gateway import Gateway, GatewayDep
from wagateway.messages.overview import project_overviews
from wagateway.operators import service as operators

router = APIRouter(prefix=PREFIX)
PACING_FIELDS = ("rate_per_second", "jitter", "typing_seconds", "daily_cap")


async def project_of(gw: Gateway, viewer: Viewer, app_id: str) -> App:
    """The project if this operator may see it, else 404 (for pages and actions alike)."""
    return await operators.project_of(gw.db, viewer.operator, app_id)


def project_url(app_id: str, rest: str = "") -> str:
    return f"{PREFIX}/projects/{app_id}{rest}"


def device_url(app_id: str, device_id: str, rest: str = "") -> str:
    return project_url(app_id, f"/devices/{device_id}{rest}")


async def reconfirm_password(gw: Gateway, viewer: Viewer, password: str) -> None:
    ok = await operators.reconfirm_password(
        gw.db, gw.settings, viewer.operator, password, viewer.ip
    )
    if not ok:
        raise ApiError(403, "forbidden", "the password is wrong", {"field": "password"})


def secret_answer(**values: str) -> JSONResponse:
    """A key for the reveal dialog only: never cached, never part of a page."""
    return JSONResponse(values, headers={"Cache-Control": "no-store"})


# --- overview -------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def overview(request: Request, viewer: ViewerDep, gw: GatewayDep) -> HTMLResponse:
    projects = await operators.projects_of(gw.db, viewer.operator)
    figures = await project_overviews(gw.db, [p.id for p in projects])
    return render(
        request,
        "overview.html",
        viewer,
        projects=projects,
        figures=figures,
        engines=apps.ENGINES,
    )


@router.post("/projects", include_in_schema=False)
async def create_project(
    viewer: ActingViewerDep,
    gw: GatewayDep,
    name: Annotated[str, Form()] = "",
    engine: Annotated[str, Form()] = "sandbox",
) -> Response:
    try:
        created = await operators.create_project(
            gw.db, gw.box, viewer.actor, viewer.operator, name, engine
        )
    except ApiError as exc:
        await flash(gw, viewer, exc.message, "error")
        return back_to(f"{PREFIX}/")
    # The new token is not shown here: the operator reveals it when (if) it is needed.
    await flash(gw, viewer, f"Project “{created.app.name}” created.")
    return back_to(project_url(created.app.id))


# --- settings -------------------------------------------------------------------------------


@router.get("/projects/{app_id}/settings", response_class=HTMLResponse, include_in_schema=False)
async def settings_page(
    request: Request, app_id: str, viewer: ViewerDep, gw: GatewayDep
) -> HTMLResponse:
    project = await project_of(gw, viewer, app_id)
    members = await operators.members_of_project(gw.db, app_id)
    return render(
        request,
        "settings.html",
        viewer,
        project=project,
        members=members,
        engines=apps.ENGINES,
        pacing=project.pacing or {},
        defaults={
            "rate_per_second": gw.settings.pacing_rate_per_second,
            "jitter": gw.settings.pacing_jitter,
            "typing_seconds": gw.settings.pacing_typing_seconds,
            "daily_cap": gw.settings.pacing_daily_cap,
        },
        webhook_base_url=gw.settings.webhook_base_url,
        egress_addresses=published_egress(gw.settings.egress_addresses),
        token_grace=gw.settings.token_rotation_grace_seconds,
        call_policy=CallPolicy.from_stored(project.call_policy) or CallPolicy(),
        presence_modes=PRESENCE_MODES,
    )


def call_policy_from_form(form: dict[str, Any]) -> CallPolicy | None | Keep:
    """The call policy fields of a settings form (`calls_form` marks that it has them):
    reject ticked → a policy (with the reply text, if any); neither ticked nor a text →
    none. A text without reject is refused (`devices/policies.py`)."""
    if "calls_form" not in form:
        return KEEP
    reject = bool(form.get("call_reject"))
    text = str(form.get("call_reply_text", ""))
    if not reject and not text.strip():
        return None
    return validated_call_policy(reject, text)


def presence_mode_from_form(form: dict[str, Any]) -> str | None | Keep:
    """The presence mode select: a mode, empty for none (the default or the project's)."""
    if "presence_mode" not in form:
        return KEEP
    return str(form["presence_mode"]) or None


def _pacing_from_form(form: dict[str, Any]) -> dict[str, Any]:
    given = {k: form[k] for k in PACING_FIELDS if str(form.get(k, "")).strip() != ""}
    try:
        return PacingUpdate.model_validate(given).model_dump(exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else None
        raise validation_error(f"{field}: {first['msg']}", field) from exc


@router.post("/projects/{app_id}/settings", include_in_schema=False)
async def save_settings(
    request: Request, app_id: str, viewer: ActingViewerDep, gw: GatewayDep
) -> Response:
    project = await project_of(gw, viewer, app_id)
    form = dict(await request.form())

    async def action() -> str:
        await change_project_settings(
            gw.db,
            viewer.actor,
            app_id,
            name=str(form.get("name", project.name)),
            engine=str(form.get("engine", project.engine)),
            webhook_url=str(form.get("webhook_url", "")),
            domain_url=str(form.get("domain_url", "")),
            pacing=_pacing_from_form(form),
            call_policy=call_policy_from_form(form),
            presence_mode=presence_mode_from_form(form),
        )
        if "presence_mode" in form:
            await gw.devices.app_presence_mode_changed(app_id)
        return "Settings saved."

    return await act(request, gw, viewer, project_url(app_id, "/settings"), action)


@router.post("/projects/{app_id}/rotation-policy", include_in_schema=False)
async def save_rotation_policy(
    request: Request,
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    password: Annotated[str, Form()] = "",
    rotation_enabled: Annotated[str, Form()] = "",
    rotation_pin: Annotated[str, Form()] = "",
    clear_pin: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        await reconfirm_password(gw, viewer, password)
        await apps.set_rotation_policy_as(
            gw.db,
            viewer.actor,
            app_id,
            enabled=bool(rotation_enabled),
            new_pin=rotation_pin or None,
            clear_pin=bool(clear_pin),
        )
        return "Key rotation policy saved."

    return await act(request, gw, viewer, project_url(app_id, "/settings"), action)


@router.post("/projects/{app_id}/members", include_in_schema=False)
async def add_member(
    request: Request,
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    email: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        if not viewer.operator.is_admin:
            raise ApiError(403, "forbidden", "only admins add members to a project")
        member = await operators.add_member_as(gw.db, viewer.actor, app_id, email)
        return f"{member.email} can now see this project."

    return await act(request, gw, viewer, project_url(app_id, "/settings"), action)


# --- keys: JSON for the reveal dialog, never rendered into a page --------------------------


@router.post("/projects/{app_id}/api-key/reveal", include_in_schema=False)
async def reveal_api_key(
    app_id: str, viewer: ActingViewerDep, gw: GatewayDep, password: Annotated[str, Form()] = ""
) -> JSONResponse:
    await project_of(gw, viewer, app_id)
    await reconfirm_password(gw, viewer, password)
    token = await apps.reveal_token_as(gw.db, gw.box, viewer.actor, app_id)
    return secret_answer(app_token=token)


@router.post("/projects/{app_id}/api-key/rotate", include_in_schema=False)
async def rotate_api_key(
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    password: Annotated[str, Form()] = "",
    pin: Annotated[str, Form()] = "",
) -> JSONResponse:
    await project_of(gw, viewer, app_id)
    # A throttled guesser is turned away before the password costs a hash.
    await apps.refuse_rotation_while_throttled(gw.db, gw.settings, viewer.actor, app_id)
    await reconfirm_password(gw, viewer, password)
    token = await apps.rotate_token_as(
        gw.db,
        gw.box,
        gw.settings,
        viewer.actor,
        app_id,
        pin or None,
        gw.settings.token_rotation_grace_seconds,
        throttle_guesses=True,
    )
    return secret_answer(app_token=token)


@router.post("/projects/{app_id}/webhook-secret/reveal", include_in_schema=False)
async def reveal_webhook_secret(
    app_id: str, viewer: ActingViewerDep, gw: GatewayDep, password: Annotated[str, Form()] = ""
) -> JSONResponse:
    await project_of(gw, viewer, app_id)
    await reconfirm_password(gw, viewer, password)
    secret = await apps.reveal_webhook_secret_as(gw.db, gw.box, viewer.actor, app_id)
    return secret_answer(webhook_secret=secret)


@router.post("/projects/{app_id}/webhook-secret/rotate", include_in_schema=False)
async def rotate_webhook_secret(
    app_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    password: Annotated[str, Form()] = "",
    grace_hours: Annotated[
        float, Form(ge=0, le=apps.MAX_WEBHOOK_SECRET_GRACE_SECONDS / 3600)
    ] = apps.WEBHOOK_SECRET_GRACE_SECONDS / 3600,
) -> JSONResponse:
    await project_of(gw, viewer, app_id)
    await reconfirm_password(gw, viewer, password)
    secret = await apps.rotate_webhook_secret_as(
        gw.db, gw.box, viewer.actor, app_id, int(grace_hours * 3600)
    )
    return secret_answer(webhook_secret=secret)


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(request: Request, viewer: ViewerDep, gw: GatewayDep) -> HTMLResponse:
    projects = await operators.projects_of(gw.db, viewer.operator)
    entries = await audit.recent_entries(
        gw.db, None if viewer.operator.is_admin else [p.id for p in projects], limit=200
    )
    names = {p.id: p.name for p in projects}
    return render(request, "audit.html", viewer, entries=entries, names=names)
