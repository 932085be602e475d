"""The send route's deferred token check (api/deps.py `sending_app`, apps/tokens.py), in
process through FastAPI and the real error handlers: however a request carrying a token
this process remembers, and that was rotated out since, ends (a body its model refuses, an
error of the route, a 429, a route that never reaches a write), it is answered 401
`invalid_api_key`; with a live token the answer is the route's own. The settling is one
middleware's (api/owed_checks.py), which every ending passes through, not the error
handlers'."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from wagateway.api.deps import SendingApp
from wagateway.api.owed_checks import SettleOwedTokenChecks
from wagateway.apps.service import create_app, rotate_token
from wagateway.apps.tokens import TokenClaims
from wagateway.core.db import Database
from wagateway.core.errors import install_error_handlers, not_found
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.rate_limit import Limits, RateLimiter
from wagateway.core.secrets import SecretBox, token_hash
from wagateway.core.settings import Settings


class Body(BaseModel):
    text: str


def _send_route(gateway: SimpleNamespace) -> FastAPI:
    """A send route whose body says how it ends: `write` (the check settled in a write, as
    the message's accepting unit does), `404`, or `end` (it answers without a write)."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(SettleOwedTokenChecks)
    app.state.gateway = gateway

    @app.post("/devices/{device_id}/messages")
    async def send(device_id: str, body: Body, sender: SendingApp) -> dict[str, Any]:
        if body.text == "404":
            raise not_found("device")
        if body.text == "crash":
            raise RuntimeError("an unexpected error of the route")
        if body.text == "write" and sender.token_check is not None:
            await gateway.db.grouped(sender.token_check.confirm)
        return {"app_id": sender.app_id, "deferred": sender.token_check is not None}

    return app


def test_a_stale_token_is_answered_401_however_the_send_ends(tmp_path: Path) -> None:
    asyncio.run(_a_stale_token_is_answered_401_however_the_send_ends(tmp_path))


async def _a_stale_token_is_answered_401_however_the_send_ends(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    box = SecretBox(os.urandom(32))
    async with db.transaction() as session:
        created = await create_app(session, box, "shop")
    app_id, token = created.app.id, created.app_token
    gateway = SimpleNamespace(
        db=db,
        settings=Settings(data_dir=tmp_path),
        token_claims=TokenClaims(),
        rate_limiter=RateLimiter(),
    )
    transport = httpx.ASGITransport(app=_send_route(gateway), raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

        async def send(body: dict[str, Any]) -> httpx.Response:
            return await client.post("/devices/d-1/messages", json=body, headers=headers)

        first = await send({"text": "write"})  # checked now; remembered from here on
        assert first.json() == {"app_id": app_id, "deferred": False}
        assert (await send({"text": "write"})).json() == {"app_id": app_id, "deferred": True}
        # A live token gets the route's own answers.
        refused = await send({})
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "validation_error")
        assert refused.json()["error"]["details"] == {"field": "text"}
        assert (await send({"text": "404"})).status_code == 404
        assert (await send({"text": "end"})).status_code == 200
        crashed = await send({"text": "crash"})
        assert (crashed.status_code, crashed.json()["error"]["code"]) == (500, "internal_error")

        async with db.transaction() as session:
            await rotate_token(session, box, app_id)
        spent = Limits(app_rate=0.001, app_burst=1, device_rate=0, device_burst=1)
        for case, body in [
            ("the body's model refuses it", {}),
            ("the route raises 404", {"text": "404"}),
            ("the route fails unexpectedly", {"text": "crash"}),
            ("the route never writes", {"text": "end"}),
            ("the write checks it", {"text": "write"}),
            ("the app is over its limit", {"text": "write"}),
        ]:
            # A refusal makes the process forget the token: remembered again for each case.
            gateway.token_claims.remember(token_hash(token), app_id)
            if case == "the app is over its limit":
                gateway.rate_limiter.remember(app_id, spent)
                await gateway.rate_limiter.take(app_id, "d-1", spent)
            stale = await send(body)
            assert stale.status_code == 401, (case, stale.text)
            assert stale.json()["error"]["code"] == "invalid_api_key", case
            assert stale.headers["www-authenticate"] == "Bearer", case
            assert gateway.token_claims.app_of(token_hash(token)) is None, case
    await db.dispose()
