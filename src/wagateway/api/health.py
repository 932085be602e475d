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

from wagateway.api.deps import bearer_token
from wagateway.core.errors import ApiError
from wagateway.core.secrets import constant_time_equals
from wagateway.core.timefmt import rfc3339
from wagateway.devices.service import device_counts
from wagateway.gateway import Gateway, GatewayDep
from wagateway.webhooks.service import pending_event_count

router = APIRouter(tags=["health"])

DEVICES = Gauge("wagateway_devices", "Devices by status", ["status"])
WEBHOOK_QUEUE = Gauge("wagateway_webhook_queue_depth", "Webhook events waiting for delivery")


def _metrics_reader(request: Request, token: str) -> bool:
    """Whether the caller may read cross-tenant figures: always without a metrics token."""
    if not token:
        return True
    given = bearer_token(request)
    return given is not None and constant_time_equals(given, token)


async def _cluster(gw: Gateway) -> dict[str, Any]:
    """`checks.cluster` (CONTRACT §9): this node and every live one. Not ok when this node
    stopped beating, or another process took its node id over."""
    try:
        nodes = await gw.membership.view()
    except Exception as exc:  # the database check says why
        return {"ok": False, "node_id": gw.node_id, "error": type(exc).__name__}
    return {
        "ok": gw.membership.alive,
        "node_id": gw.node_id,
        "devices_owned": len(gw.ownership),
        "nodes": [
            {
                "node_id": n.node_id,
                "last_seen": rfc3339(n.last_seen),
                "devices_owned": n.devices_owned,
            }
            for n in nodes
        ],
    }


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    restoring: bool = Field(
        description="the node started moments ago and is still bringing its devices up from "
        "their stored sessions; it answers calls meanwhile"
    )
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
        await gw.db.ping()
        checks["database"] = {"ok": True, "dialect": gw.db.dialect}
    except Exception as exc:  # any failure means the database is unusable for us
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    for name, engine in gw.runtime.engines.items():
        engine_health = await engine.health()
        checks[f"engine:{name}"] = {"ok": engine_health.ok, **engine_health.detail}
    checks["webhook_dispatcher"] = {"ok": gw.dispatcher.healthy}
    checks["session_runtime"] = {"ok": gw.runtime.started}
    checks["outbound_queue"] = {"ok": gw.queue.alive}
    checks["cluster"] = await _cluster(gw)
    # Whom the rate limits hold for: "gateway" (shared in Redis) or "node"; not ok while the
    # Redis set for them does not answer.
    checks["rate_limits"] = await gw.rate_limiter.health()
    if not checks["database"]["ok"]:
        overall, code = "down", 503
    elif all(c["ok"] for c in checks.values()):
        overall, code = "ok", 200
    else:
        overall, code = "degraded", 200
    if not _metrics_reader(request, gw.settings.metrics_token):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    body = {"status": overall, "restoring": gw.placement.restoring, "checks": checks}
    return JSONResponse(body, status_code=code)


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
    by_status = await device_counts(gw.db)
    queue = await pending_event_count(gw.db)
    for status in ("qr_generated", "connected", "disconnected", "expired", "destroyed"):
        DEVICES.labels(status).set(by_status.get(status, 0))
    WEBHOOK_QUEUE.set(queue or 0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
