"""An app's limits: API rate limits and device quota, the server's defaults unless the
operator gave the app its own (`wagateway apps set-limits`). Apps cannot change their own."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from wagateway.apps.models import App
from wagateway.core.errors import ApiError
from wagateway.core.rate_limit import Limits
from wagateway.core.settings import Settings


class LimitsOverride(BaseModel):
    """Per-app overrides; a field left out (or null) inherits the server's default."""

    # Finite only: an infinite rate is "no limit", which 0 already says, and JSON (the
    # column's type) has no Infinity (PostgreSQL refused it with a traceback).
    requests_per_second: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="0 = no app limit"
    )
    burst: int | None = Field(None, ge=1)
    device_requests_per_second: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="0 = none"
    )
    device_burst: int | None = Field(None, ge=1)


class LimitsOut(BaseModel):
    """What applies to the app now (defaults and overrides resolved)."""

    requests_per_second: float
    burst: int
    device_requests_per_second: float
    device_burst: int
    max_devices: int | None = Field(description="device quota; null = none")


def rate_limits(settings: Settings, app: App) -> Limits:
    given: dict[str, Any] = {k: v for k, v in (app.limits or {}).items() if v is not None}
    return Limits(
        app_rate=float(given.get("requests_per_second", settings.rate_limit_per_second)),
        app_burst=int(given.get("burst", settings.rate_limit_burst)),
        device_rate=float(
            given.get("device_requests_per_second", settings.device_rate_limit_per_second)
        ),
        device_burst=int(given.get("device_burst", settings.device_rate_limit_burst)),
    )


def device_quota(settings: Settings, app: App) -> int | None:
    quota = settings.max_devices_per_app if app.max_devices is None else app.max_devices
    return quota or None


def effective(settings: Settings, app: App) -> LimitsOut:
    limits = rate_limits(settings, app)
    return LimitsOut(
        requests_per_second=limits.app_rate,
        burst=limits.app_burst,
        device_requests_per_second=limits.device_rate,
        device_burst=limits.device_burst,
        max_devices=device_quota(settings, app),
    )


def too_many_devices(quota: int) -> ApiError:
    return ApiError(
        409,
        "too_many_devices",
        f"this app has reached its quota of {quota} devices; delete one first",
        {"max_devices": quota},
    )


def set_limits(
    app: App,
    override: LimitsOverride,
    max_devices: int | None = None,
    reset: bool = False,
) -> None:
    """Merge the given overrides into the app's (or start again from the defaults with
    `reset`); `max_devices` -1 returns the quota to the server's default."""
    given = override.model_dump(exclude_none=True)
    merged = given if reset else {**(app.limits or {}), **given}
    app.limits = merged or None
    if reset:
        app.max_devices = None
    if max_devices is not None:
        app.max_devices = None if max_devices < 0 else max_devices
