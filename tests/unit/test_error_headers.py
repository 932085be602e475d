"""An unhandled error's 500 is answered from outside every middleware: it still carries the
request id and `nosniff`, and the envelope without a stack trace."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from wagateway.core.errors import install_error_handlers
from wagateway.core.request_id import RequestIdMiddleware


def test_an_unhandled_error_keeps_the_response_headers() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("wag_not_for_the_caller")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"ok": True}

    async def call(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get(path, headers={"X-Request-ID": "req-42"})

    failed = asyncio.run(call("/boom"))
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"
    assert "wag_not_for_the_caller" not in failed.text
    assert failed.headers["x-request-id"] == "req-42"
    assert failed.headers["x-content-type-options"] == "nosniff"
    ok = asyncio.run(call("/fine"))
    assert ok.headers["x-request-id"] == "req-42"
    assert ok.headers.get_list("x-content-type-options") == ["nosniff"]
