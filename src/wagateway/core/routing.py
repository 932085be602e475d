"""Routers declared apart, served as the app's own routes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def add_routes_of(router: APIRouter, app: FastAPI) -> None:
    """`router`'s routes become the app's own, as they were built when declared: the
    router's prefix, tags and dependencies are in them already (APIRouter applies them as
    each route is added), and nothing is added on top, as `include_router` could.

    `include_router` keeps the router as such and builds each of its routes a second time,
    lazily, at the first request that walks past them: on the way to a node's first answers
    after it starts (benchmarks/startup.py)."""
    app.router.routes.extend(router.routes)
