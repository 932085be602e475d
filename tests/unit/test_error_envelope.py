"""The error envelope (CONTRACT §1) also for the errors nobody raised on purpose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from wagateway.core.errors import install_error_handlers
from wagateway.core.request_id import RequestIdMiddleware
from wagateway.core.settings import Settings
from wagateway.main import create_app


def test_an_unhandled_error_is_a_500_envelope_with_its_request_id() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    async def call() -> httpx.Response:
        # Starlette re-raises after answering (for the server's log): not the client's concern.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get("/boom", headers={"X-Request-ID": "trace-500"})

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error", "details": {}},
        "request_id": "trace-500",
    }
    assert response.headers["x-request-id"] == "trace-500"
    assert "secret detail" not in response.text


def test_asyncpg_errors_get_the_database_envelope_wherever_a_node_reaches_postgresql(
    tmp_path: Path,
) -> None:
    """A node on PostgreSQL (or with whatsmeow's store there) answers asyncpg's own errors
    as the database's (503, Retry-After); a node on SQLite does not import asyncpg for it."""
    from asyncpg import InterfaceError, PostgresError

    on_postgresql = Settings(data_dir=tmp_path, database_url="postgresql://gw@127.0.0.1/gw")
    store_there = Settings(data_dir=tmp_path, whatsmeow_store_url="postgres://gw@127.0.0.1/wa")
    for settings in (on_postgresql, store_there):
        handlers = create_app(settings).exception_handlers
        assert PostgresError in handlers and InterfaceError in handlers
    handlers = create_app(Settings(data_dir=tmp_path)).exception_handlers
    assert PostgresError not in handlers
