"""The body gate (core/body_limit.py) and the check it runs (api/deps.py): the caller of a
route that acts for an app is verified before a byte of its body is read, once per request;
each route has its own cap; and which routes of the real app are gated."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from starlette.types import Message

from wagateway.api import deps
from wagateway.api.deps import (
    DEFERRED_CHECK_MAX_BODY,
    acts_for_an_app,
    current_app,
    sending_app,
    verify_before_body,
)
from wagateway.apps.service import app_of_token
from wagateway.apps.service import create_app as create_app_row
from wagateway.apps.tokens import TokenClaims
from wagateway.core.body_limit import BodyLimitMiddleware
from wagateway.core.db import Database
from wagateway.core.errors import ApiError, install_error_handlers
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.rate_limit import RateLimiter
from wagateway.core.secrets import SecretBox, token_hash
from wagateway.core.settings import Settings
from wagateway.main import create_app

# --- the middleware, with a verify of the test's own ----------------------------------------


async def acting(request: Request) -> str:
    return str(request.state.caller)


def gated_app(verified: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things/{thing_id}/media")
    async def media(thing_id: str, body: dict[str, Any], who: Annotated[str, Depends(acting)]):
        return {"thing": thing_id, "who": who, "size": len(str(body))}

    @app.post("/open")
    async def open_route(body: dict[str, Any]) -> dict[str, int]:
        return {"size": len(str(body))}

    async def verify(request: Request, length: int | None) -> None:
        verified.append({"params": dict(request.path_params), "length": length})
        if request.headers.get("authorization") != "Bearer good":
            raise ApiError(401, "invalid_api_key", "no", headers={"WWW-Authenticate": "Bearer"})
        request.state.caller = "good caller"

    app.add_middleware(
        BodyLimitMiddleware,
        router=app.router,
        max_bytes=100,
        route_caps={("POST", "/things/{thing_id}/media"): 10_000},
        verifies=lambda route: route.path == "/things/{thing_id}/media",
        verify=verify,
    )
    return app


def call(
    app: FastAPI, path: str, body: bytes, headers: dict[str, str], chunked: bool = False
) -> tuple[int, dict[str, str], bytes, int]:
    """(status, headers, body, how many times the app asked for the request's body)."""
    raw = [(b"content-type", b"application/json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append(
        (b"transfer-encoding", b"chunked") if chunked else (b"content-length", b"%d" % len(body))
    )
    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": raw, "scheme": "http",
        "server": ("gw", 80), "client": ("127.0.0.1", 5000), "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }  # fmt: skip
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], response_headers, content, reads


@pytest.mark.parametrize("chunked", [False, True])
def test_a_refused_caller_is_answered_before_its_body_is_read(chunked: bool) -> None:
    verified: list[dict[str, Any]] = []
    app = gated_app(verified)
    status, headers, content, reads = call(
        app, "/things/t-1/media", b'{"a": 1}', {"authorization": "Bearer bad"}, chunked
    )
    assert (status, reads) == (401, 0), content
    assert headers["connection"] == "close" and headers["www-authenticate"] == "Bearer"
    assert verified == [{"params": {"thing_id": "t-1"}, "length": None if chunked else 8}]


def test_a_verified_caller_reaches_the_route_with_what_verify_found() -> None:
    verified: list[dict[str, Any]] = []
    status, _, content, reads = call(
        gated_app(verified), "/things/t-2/media", b'{"a": 1}', {"authorization": "Bearer good"}
    )
    assert status == 200 and reads == 1
    assert content == b'{"thing":"t-2","who":"good caller","size":8}'
    assert len(verified) == 1


def test_each_route_has_its_cap_and_only_gated_routes_verify() -> None:
    verified: list[dict[str, Any]] = []
    app = gated_app(verified)
    body = b'{"a": "' + b"x" * 500 + b'"}'
    status, headers, content, reads = call(app, "/open", body, {})
    assert (status, reads) == (413, 0) and headers["connection"] == "close"
    assert b'"max_bytes":100' in content
    status, *_ = call(app, "/things/t-3/media", body, {"authorization": "Bearer good"})
    assert status == 200
    status, _, content, _ = call(app, "/open", b'{"a": 1}', {})
    assert status == 200 and verified == [{"params": {"thing_id": "t-3"}, "length": len(body)}]


# --- which routes of the gateway are gated ---------------------------------------------------


def test_every_api_route_that_takes_a_body_is_gated_and_the_dashboard_is_not(
    tmp_path: Path,
) -> None:
    from fastapi.routing import iter_route_contexts

    app = create_app(Settings(data_dir=tmp_path))
    body_routes = [
        ctx
        for ctx in iter_route_contexts(app.router.routes)
        if getattr(ctx, "methods", None) and set(ctx.methods) - {"GET", "HEAD"}
    ]
    assert body_routes
    for ctx in body_routes:
        dashboard = (ctx.path or "").startswith("/dashboard")
        assert acts_for_an_app(ctx) is not dashboard, ctx.path


# --- the check, against the real store: once per request -------------------------------------


async def _gateway(tmp_path: Path) -> tuple[SimpleNamespace, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        token = (await create_app_row(session, SecretBox(os.urandom(32)), "shop")).app_token
    gateway = SimpleNamespace(
        db=db,
        settings=Settings(data_dir=tmp_path),
        token_claims=TokenClaims(),
        rate_limiter=RateLimiter(),
    )
    return gateway, token


def _request(gateway: SimpleNamespace, token: str) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(gateway=gateway))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/devices/d-1/messages",
            "headers": headers,
            "path_params": {"device_id": "d-1"},
            "app": app,
            "state": {},
            "query_string": b"",
        }  # fmt: skip
    )


def _count_token_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []

    async def counted(db: Any, token: str) -> Any:
        reads.append(token)
        return await app_of_token(db, token)

    monkeypatch.setattr(deps, "app_of_token", counted)
    return reads


def test_a_large_body_s_token_is_read_once_and_the_route_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_token_reads(monkeypatch)

    async def scenario() -> None:
        gateway, token = await _gateway(tmp_path)
        try:
            # Not remembered: verified before the body, and the dependency reuses it.
            request = _request(gateway, token)
            await verify_before_body(request, 100)
            sender = await sending_app(request, gateway)  # type: ignore[arg-type]
            assert sender.token_check is None
            assert len(reads) == 1
            # Remembered now; a large body still gets a real check first, read once.
            request = _request(gateway, token)
            await verify_before_body(request, DEFERRED_CHECK_MAX_BODY + 1)
            app = await current_app(request, gateway)  # type: ignore[arg-type]
            assert len(reads) == 2
            # A small body with the remembered token: nothing now, the check deferred.
            request = _request(gateway, token)
            await verify_before_body(request, DEFERRED_CHECK_MAX_BODY)
            sender = await sending_app(request, gateway)  # type: ignore[arg-type]
            assert sender.app_id == app.id and sender.token_check is not None
            assert len(reads) == 2
            # A chunked body (no length) is checked first too.
            request = _request(gateway, token)
            await verify_before_body(request, None)
            assert len(reads) == 3
            assert gateway.token_claims.app_of(token_hash(token)) == app.id
        finally:
            await gateway.db.dispose()

    asyncio.run(scenario())


def test_tokens_that_cannot_be_an_app_s_are_refused_without_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_token_reads(monkeypatch)

    async def scenario() -> None:
        gateway, _ = await _gateway(tmp_path)
        try:
            for token in ("not-a-token", "wag_short"):
                with pytest.raises(ApiError) as refused:
                    await verify_before_body(_request(gateway, token), 10**6)
                assert refused.value.code == "invalid_api_key"
            assert reads == []
        finally:
            await gateway.db.dispose()

    asyncio.run(scenario())
