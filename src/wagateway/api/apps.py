"""The calling app's own settings (webhook target), for integrators without the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wagateway.api.deps import CurrentApp
from wagateway.apps import service
from wagateway.apps.limits import LimitsOut, effective
from wagateway.apps.models import App
from wagateway.apps.pacing import PacingUpdate
from wagateway.core.netguard import published_egress
from wagateway.core.openapi import APP_CALLER, WITH_BODY, errors
from wagateway.core.settings import Settings
from wagateway.devices.policies import DEFAULT_PRESENCE_MODE, PresenceMode
from wagateway.devices.schemas import CallPolicyIn, call_policy_update, presence_mode_update
from wagateway.gateway import GatewayDep

router = APIRouter(prefix="/app", tags=["app"])


class AppOut(BaseModel):
    app_id: str
    name: str
    engine: str
    webhook_url: str
    domain_url: str
    pacing: dict[str, Any] | None
    limits: LimitsOut = Field(description="API rate limits and device quota (set by the operator)")
    call_policy: dict[str, Any] | None = Field(
        description="what happens to calls to the app's devices (`reject`, `reply_text`); "
        "null: calls are only reported. A device's own policy wins"
    )
    presence_mode: str | None = Field(
        description="on_demand or always_online; null: the default, "
        f"{DEFAULT_PRESENCE_MODE}. A device's own mode wins"
    )
    egress_addresses: list[str] = Field(
        description="the addresses webhooks and media fetches come from, for receivers that "
        "filter by source (the server's WAGW_EGRESS_ADDRESSES; empty when not published)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, app: App, settings: Settings) -> AppOut:
        return cls(
            app_id=app.id,
            name=app.name,
            engine=app.engine,
            webhook_url=app.webhook_url,
            domain_url=app.domain_url,
            pacing=app.pacing,
            limits=effective(settings, app),
            call_policy=app.call_policy,
            presence_mode=app.presence_mode,
            egress_addresses=published_egress(settings.egress_addresses),
            created_at=app.created_at,
            updated_at=app.updated_at,
        )


class AppUpdate(BaseModel):
    name: str | None = None
    webhook_url: str | None = None
    domain_url: str | None = None
    pacing: PacingUpdate | None = Field(None, description="send pacing defaults for its devices")
    call_policy: CallPolicyIn | None = Field(
        None,
        description="reject calls (`reject: true`) and answer the caller with `reply_text`; "
        "null clears it (calls are only reported)",
    )
    presence_mode: PresenceMode | None = Field(
        None, description="on_demand (the default) or always_online; null clears it"
    )


@router.get("", response_model=AppOut, responses=errors(APP_CALLER))
async def get_app(app: CurrentApp, gw: GatewayDep) -> AppOut:
    """The app the token belongs to (never its secrets)."""
    return AppOut.of(app, gw.settings)


@router.patch("", response_model=AppOut, responses=errors(APP_CALLER, WITH_BODY))
async def update_app(body: AppUpdate, app: CurrentApp, gw: GatewayDep) -> AppOut:
    """Change the name or the webhook target: empty, an http(s) URL, or a path starting
    with `/` joined to `domain_url` (or the server's WAGW_WEBHOOK_BASE_URL); the
    `call_policy` and `presence_mode` of the app's devices (a device's own wins)."""
    row = await service.change_app(
        gw.db,
        None,  # the app itself, by its own token: the request log is its record
        app.id,
        name=body.name,
        webhook_url=body.webhook_url,
        domain_url=body.domain_url,
        pacing=body.pacing.model_dump(exclude_none=True) if body.pacing else None,
        call_policy=call_policy_update(body, body.call_policy),
        presence_mode=presence_mode_update(body, body.presence_mode),
    )
    if "presence_mode" in body.model_fields_set:
        await gw.devices.app_presence_mode_changed(app.id)
    return AppOut.of(row, gw.settings)
