"""Everything under /dashboard: pages, actions, the live stream, and static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from wagateway.core.routing import add_routes_of
from wagateway.dashboard import (
    auth,
    device_account,
    device_groups,
    device_messages,
    devices,
    endpoints,
    projects,
    webhooks,
)
from wagateway.dashboard.web import PREFIX

# Every part of the dashboard (tests walk these to prove each project route is scoped).
PARTS = (
    auth.router,
    projects.router,
    devices.router,
    webhooks.router,
    endpoints.router,
    device_messages.router,
    device_account.router,
    device_groups.router,
)


def mount_dashboard(app: FastAPI) -> None:
    for part in PARTS:
        add_routes_of(part, app)
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="dashboard-static",
    )

    @app.get(PREFIX, include_in_schema=False)
    async def dashboard_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
