"""The error envelope (CONTRACT §1) also for the errors nobody raised on purpose."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from wagateway.core.errors import install_error_handlers
from wagateway.core.request_id import RequestIdMiddleware


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
