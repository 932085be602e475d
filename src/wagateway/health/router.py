"""Liveness and readiness in one answer (CONTRACT §5), and Prometheus metrics.

`/health` is open to anyone (load balancers, orchestrators) and says only whether each part
works. The figures behind it (sessions, devices per worker, connects, process ids) add up every
tenant's activity, so they go only to callers `/metrics` admits: everyone while
`WAGW_METRICS_TOKEN` is unset, else those presenting it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from wagateway.core.deps import GatewayDep, bearer_token
from wagateway.core.errors import ApiError
from wagateway.core.secrets import constant_time_equals
from wagateway.devices.models import Device
from wagateway.webhooks.models import Event
from wagateway.webhooks.states import EventState

router = APIRouter(tags=["health"])

DEVICES = Gauge("wagateway_devices", "Devices by status", ["status"])
WEBHOOK_QUEUE = Gauge("wagateway_webhook_queue_depth", "Webhook events waiting for delivery")


def _metrics_reader(request: Request, token: str) -> bool:
    """Whether the caller may read cross-tenant figures: always without a metrics token."""
    if not token:
        return True
    given = bearer_token(request)
    return given is not None and constant_time_equals(given, token)


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, dict[str, Any]] = Field(
        description="by part (`database`, `engine:<name>`, the background workers): `ok`, "
        "and more only for callers `/metrics` admits"
    )


@router.get(
    "/health",
    responses={
        200: {"model": HealthOut, "description": "`ok` or `degraded`"},
        503: {"model": HealthOut, "description": "`down`: the database is unusable"},
    },
)
async def health(request: Request, gw: GatewayDep) -> JSONResponse:
    """`ok`, `degraded` (a background worker or engine is unwell) or `down` (no database: 503).

    With `WAGW_METRICS_TOKEN` set, each check shows only `ok` unless that token comes as a
    Bearer token."""
    checks: dict[str, Any] = {}
    try:
        async with gw.db.read() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": gw.db.dialect}
    except Exception as exc:  # any failure means the database is unusable for us
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    for name, engine in gw.runtime.engines.items():
        engine_health = await engine.health()
        checks[f"engine:{name}"] = {"ok": engine_health.ok, **engine_health.detail}
    checks["webhook_dispatcher"] = {"ok": gw.dispatcher.healthy}
    checks["session_runtime"] = {"ok": gw.runtime.started}
    checks["outbound_queue"] = {"ok": gw.queue.alive}
    if not checks["database"]["ok"]:
        overall, code = "down", 503
    elif all(c["ok"] for c in checks.values()):
        overall, code = "ok", 200
    else:
        overall, code = "degraded", 200
    if not _metrics_reader(request, gw.settings.metrics_token):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return JSONResponse({"status": overall, "checks": checks}, status_code=code)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, gw: GatewayDep) -> Response:
    """Prometheus text; with `WAGW_METRICS_TOKEN` set, only for `Authorization: Bearer` it."""
    if not _metrics_reader(request, gw.settings.metrics_token):
        raise ApiError(
            401,
            "unauthorized",
            "/metrics needs the metrics token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with gw.db.read() as session:
        by_status = dict(
            (
                await session.execute(select(Device.status, func.count()).group_by(Device.status))
            ).all()
        )
        queue = await session.scalar(
            select(func.count()).select_from(Event).where(Event.state == EventState.PENDING)
        )
    for status in ("qr_generated", "connected", "disconnected", "expired", "destroyed"):
        DEVICES.labels(status).set(by_status.get(status, 0))
    WEBHOOK_QUEUE.set(queue or 0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
