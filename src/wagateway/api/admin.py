"""The admin API (CONTRACT §10): apps, their keys and limits for a control plane of one's own,
with `Authorization: Bearer <WAGW_ADMIN_TOKEN>`; only when that setting is given (`main.py`
includes this router then). The operations the CLI and the dashboard have, through the same
services; every call audited with the actor `admin API` (`api/deps.py`'s `admin_caller`).
An app token never opens it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wagateway.api.apps import AppOut, AppUpdate
from wagateway.api.deps import AdminCaller
from wagateway.api.webhooks import SecretRotate
from wagateway.apps import MAX_TOKEN_GRACE_SECONDS
from wagateway.apps import service as apps
from wagateway.apps.limits import LimitsOut, LimitsOverride
from wagateway.apps.models import App
from wagateway.audit import service as audit
from wagateway.core.openapi import WITH_BODY, errors
from wagateway.core.settings import Settings
from wagateway.devices.schemas import call_policy_update, presence_mode_update
from wagateway.gateway import GatewayDep

router = APIRouter(prefix="/admin", tags=["admin"])

ADMIN = ("unauthorized",)
APP = (*ADMIN, "validation_error", "not_found")  # a route with an `{app_id}`


class AdminAppOut(AppOut):
    rotation_enabled: bool = Field(description="whether the app token may be rotated")
    rotation_pin_set: bool = Field(description="whether a rotation needs the app's PIN")

    @classmethod
    def of(cls, app: App, settings: Settings) -> AdminAppOut:
        return cls(
            **AppOut.of(app, settings).model_dump(),
            rotation_enabled=app.rotation_enabled,
            rotation_pin_set=bool(app.rotation_pin_hash),
        )


class AdminAppList(BaseModel):
    apps: list[AdminAppOut]


class AppCreate(BaseModel):
    """What `wagateway apps create` takes."""

    name: str
    engine: Literal["sandbox", "whatsmeow"] = "sandbox"
    webhook_url: str = Field("", description="an http(s) URL, a /path joined to domain_url, or ''")
    domain_url: str = Field("", description="the base URL for a relative webhook path")
    rotation_pin: str | None = Field(
        None, min_length=4, max_length=64, description="a PIN that rotating the token then needs"
    )


class CreatedAppOut(BaseModel):
    """What `wagateway apps create --json` prints: the app token and webhook secret, shown
    once (reveal them again with the reveal routes)."""

    app_id: str
    app_token: str
    webhook_secret: str


class AdminAppUpdate(AppUpdate):
    rotation_enabled: bool | None = Field(None, description="allow or forbid token rotation")
    rotation_pin: str | None = Field(
        None, min_length=4, max_length=64, description="a new rotation PIN"
    )
    clear_rotation_pin: bool = Field(False, description="rotation needs no PIN any more")


class TokenRotate(BaseModel):
    pin: str | None = Field(
        None, max_length=64, description="the app's rotation PIN, if it has one"
    )
    grace_seconds: int | None = Field(
        None,
        ge=0,
        le=MAX_TOKEN_GRACE_SECONDS,
        description="the old token keeps working this long; default WAGW_TOKEN_ROTATION_GRACE_SECONDS",
    )


class AppTokenOut(BaseModel):
    app_token: str


class WebhookSecretOut(BaseModel):
    webhook_secret: str


class LimitsUpdate(LimitsOverride):
    """What `wagateway apps set-limits` takes."""

    max_devices: int | None = Field(
        None, ge=-1, le=2**31 - 1, description="device quota: 0 = none, -1 = the server's default"
    )
    reset: bool = Field(False, description="start again from the server's defaults")


def _secret(values: dict[str, str], status: int = 200) -> JSONResponse:
    """A key: never cached (as the dashboard's reveal dialog)."""
    return JSONResponse(values, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/apps", response_model=AdminAppList, responses=errors(ADMIN))
async def list_apps(caller: AdminCaller, gw: GatewayDep) -> AdminAppList:
    """Every app that is not deleted (never its secrets)."""
    rows = await apps.all_apps(gw.db)
    await audit.record_done(gw.db, caller, "project.list", detail={"count": len(rows)})
    return AdminAppList(apps=[AdminAppOut.of(app, gw.settings) for app in rows])


@router.post(
    "/apps",
    status_code=201,
    response_model=CreatedAppOut,
    responses=errors(ADMIN, WITH_BODY),
)
async def create_app(body: AppCreate, caller: AdminCaller, gw: GatewayDep) -> Response:
    """Create an app, as `wagateway apps create --json`: its id, app token and webhook
    secret."""
    created = await apps.create_app_as(
        gw.db,
        gw.box,
        caller,
        body.name,
        body.engine,
        body.webhook_url,
        body.domain_url,
        body.rotation_pin,
    )
    return _secret(created.credentials(), 201)


@router.get("/apps/{app_id}", response_model=AdminAppOut, responses=errors(APP))
async def get_app(app_id: str, caller: AdminCaller, gw: GatewayDep) -> AdminAppOut:
    async with gw.db.transaction() as session:
        app = await apps.get_app(session, app_id)
        audit.record(session, caller, "project.show", app_id=app_id)
    return AdminAppOut.of(app, gw.settings)


@router.patch("/apps/{app_id}", response_model=AdminAppOut, responses=errors(APP, WITH_BODY))
async def update_app(
    app_id: str, body: AdminAppUpdate, caller: AdminCaller, gw: GatewayDep
) -> AdminAppOut:
    """What `PATCH /app` changes, for any app, and its token rotation policy (the PIN is
    checked as the dashboard's: 4 to 64 characters)."""
    rotation = body.rotation_enabled is not None or body.rotation_pin or body.clear_rotation_pin
    settings_given = body.model_fields_set & set(AppUpdate.model_fields)
    app: App | None = None
    if settings_given or not rotation:
        app = await apps.change_app(
            gw.db,
            caller,
            app_id,
            name=body.name,
            webhook_url=body.webhook_url,
            domain_url=body.domain_url,
            pacing=body.pacing.model_dump(exclude_none=True) if body.pacing else None,
            call_policy=call_policy_update(body, body.call_policy),
            presence_mode=presence_mode_update(body, body.presence_mode),
        )
    if rotation:
        app = await apps.set_rotation_policy_as(
            gw.db,
            caller,
            app_id,
            enabled=body.rotation_enabled,
            new_pin=body.rotation_pin,
            clear_pin=body.clear_rotation_pin,
        )
    assert app is not None
    if "presence_mode" in body.model_fields_set:
        await gw.devices.app_presence_mode_changed(app_id)
    return AdminAppOut.of(app, gw.settings)


@router.delete("/apps/{app_id}", status_code=204, responses=errors(APP))
async def delete_app(app_id: str, caller: AdminCaller, gw: GatewayDep) -> Response:
    """Delete the app: every device destroyed as `DELETE /devices/{id}` does (their records
    archived), its tokens revoked, the app archived. 404 afterwards."""
    await gw.devices.archive_app(caller, app_id)
    return Response(status_code=204)


@router.post(
    "/apps/{app_id}/token/rotate",
    response_model=AppTokenOut,
    responses=errors(
        APP, WITH_BODY, "invalid_rotation_pin", "app_token_rotation_disabled", "rate_limit_exceeded"
    ),
)
async def rotate_token(
    app_id: str, caller: AdminCaller, gw: GatewayDep, body: TokenRotate | None = None
) -> Response:
    """A new app token; the old one stops working (after `grace_seconds`). The app's rules
    apply (CONTRACT §5): 403 when rotation is disabled, 401 `invalid_rotation_pin` for a
    wrong PIN, 429 after too many wrong PINs (as in the dashboard)."""
    body = body or TokenRotate()
    grace = (
        gw.settings.token_rotation_grace_seconds
        if body.grace_seconds is None
        else body.grace_seconds
    )
    token = await apps.rotate_token_as(
        gw.db, gw.box, gw.settings, caller, app_id, body.pin, grace, throttle_guesses=True
    )
    return _secret({"app_token": token})


@router.post("/apps/{app_id}/token/reveal", response_model=AppTokenOut, responses=errors(APP))
async def reveal_token(app_id: str, caller: AdminCaller, gw: GatewayDep) -> Response:
    """The app's current token."""
    return _secret({"app_token": await apps.reveal_token_as(gw.db, gw.box, caller, app_id)})


@router.post(
    "/apps/{app_id}/webhook-secret/rotate",
    response_model=WebhookSecretOut,
    responses=errors(APP, WITH_BODY),
)
async def rotate_webhook_secret(
    app_id: str, caller: AdminCaller, gw: GatewayDep, body: SecretRotate | None = None
) -> Response:
    """A new webhook signing secret; the old one also signs for `grace_seconds` (a day by
    default, as in the dashboard)."""
    body = body or SecretRotate()
    secret = await apps.rotate_webhook_secret_as(gw.db, gw.box, caller, app_id, body.grace_seconds)
    return _secret({"webhook_secret": secret})


@router.post(
    "/apps/{app_id}/webhook-secret/reveal", response_model=WebhookSecretOut, responses=errors(APP)
)
async def reveal_webhook_secret(app_id: str, caller: AdminCaller, gw: GatewayDep) -> Response:
    """The app's webhook signing secret."""
    secret = await apps.reveal_webhook_secret_as(gw.db, gw.box, caller, app_id)
    return _secret({"webhook_secret": secret})


@router.put("/apps/{app_id}/limits", response_model=LimitsOut, responses=errors(APP, WITH_BODY))
async def set_limits(
    app_id: str, body: LimitsUpdate, caller: AdminCaller, gw: GatewayDep
) -> LimitsOut:
    """The app's own API rate limits or device quota, as `wagateway apps set-limits`; what
    applies now."""
    override = LimitsOverride(**body.model_dump(include=set(LimitsOverride.model_fields)))
    return await apps.set_limits_as(
        gw.db, gw.settings, caller, app_id, override, body.max_devices, body.reset
    )
