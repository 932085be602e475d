"""The ASGI application: routes, error envelope, request ids, and the gateway's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wagateway import __version__
from wagateway.api.account import router as account_router
from wagateway.api.admin import router as admin_router
from wagateway.api.apps import router as app_router
from wagateway.api.archive import router as archive_router
from wagateway.api.chat_actions import router as chat_actions_router
from wagateway.api.chats import router as chats_router
from wagateway.api.deps import (
    acts_for_an_app,
    for_the_admin,
    verified_before_body,
    verify_caller_before_body,
)
from wagateway.api.device_queries import router as queries_router
from wagateway.api.devices import router as devices_router
from wagateway.api.events import router as events_router
from wagateway.api.groups import router as groups_router
from wagateway.api.health import router as health_router
from wagateway.api.media import router as media_router
from wagateway.api.message_edits import router as message_edits_router
from wagateway.api.messages import router as messages_router
from wagateway.api.owed_checks import SettleOwedTokenChecks
from wagateway.api.sandbox import router as sandbox_router
from wagateway.api.webhooks import router as webhooks_router
from wagateway.core.body_limit import BodyLimitMiddleware, media_body_cap
from wagateway.core.errors import install_error_handlers
from wagateway.core.gc_tuning import settle_after_startup
from wagateway.core.openapi import describe_api
from wagateway.core.request_id import RequestIdMiddleware
from wagateway.core.routing import add_routes_of
from wagateway.core.settings import Settings, get_settings
from wagateway.core.text_guard import RefuseUnstorableTextMiddleware
from wagateway.dashboard.router import mount_dashboard
from wagateway.dashboard.web import DashboardHeadersMiddleware, page_for_error
from wagateway.gateway import Gateway

API_DESCRIPTION = """
WA Gateway's runtime API. Authenticate with `Authorization: Bearer <app_token>`.
Errors always use the envelope `{"error": {"code", "message", "details"}, "request_id"}`;
each operation lists the codes it can answer with at each of its error statuses.
Any operation may also answer 503 `internal_error` with `Retry-After` and
`details.reason: "database_unavailable"` while the database cannot be reached (a restart of
PostgreSQL, say): retry after `Retry-After` seconds (a send with the same `Idempotency-Key`,
which answers the first outcome if the send was accepted before the database went away).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = Gateway(settings)
        app.state.gateway = gateway
        await gateway.start()
        settle_after_startup()
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(
        title="WA Gateway",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry hooks look for configured providers on every
        # request, a cost on every call (benchmarks/README.md, decisions log); the gateway's
        # metrics are Prometheus.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app, page_for_error, asyncpg_errors=settings.reaches_postgresql)
    # Innermost first. The owed token check sees every answer, the error handlers'
    # included; the body's cap and its sender's check run before the text check reads a
    # body (and before the route does).
    app.add_middleware(SettleOwedTokenChecks)
    app.add_middleware(RefuseUnstorableTextMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        router=app.router,
        max_bytes=settings.max_request_bytes,
        # Only a send carries media inline; the sandbox's inbound route generates its own.
        route_caps={
            ("POST", "/devices/{device_id}/messages"): max(
                settings.max_request_bytes, media_body_cap(settings.send_media_max_bytes)
            )
        },
        verifies=verified_before_body,  # an app's routes, and the admin API's
        verify=verify_caller_before_body,
    )
    app.add_middleware(DashboardHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # Routes are matched in order, each a walk past those before it: the send route, hit
    # once per message at volume, comes first.
    for router in (
        messages_router,
        health_router,
        app_router,
        devices_router,
        queries_router,
        chat_actions_router,
        message_edits_router,
        groups_router,
        media_router,
        archive_router,
        webhooks_router,
        sandbox_router,
        account_router,
        chats_router,
        events_router,
    ):
        add_routes_of(router, app)
    if settings.admin_token:  # no admin token, no admin API: /admin is 404 (docs/behaviour.md)
        add_routes_of(admin_router, app)
    mount_dashboard(app)
    describe_api(
        app,
        secured=acts_for_an_app,
        internal_callers=bool(settings.internal_allowlist),
        admin=for_the_admin,
    )
    return app
