"""What a node serves from its first moment, while the gateway itself is still loading.

Importing the gateway (FastAPI and every route's models, SQLAlchemy and the mapped models,
pydantic) and starting it take longer than a node may stay silent after it starts (issue
20: the API answers within a second). So `serve`, once it has checked the schema, listens
with this small ASGI app in front and loads the gateway behind it on a thread:

- `GET /health` answers at once: 503 `down`, `restoring: true`, with `checks.startup` not
  ok, so a load balancer or orchestrator waits before it sends calls here;
- every other call is held until the gateway is loaded, then passed to it unchanged: a
  call made in the first second is answered, later, instead of refused;
- a call held longer than `HOLD_SECONDS` (a machine starved of CPU, say) gets 503
  `internal_error` with `Retry-After` and `details.reason: "starting"`;
- when loading or the gateway's start fails, held calls get that 503 and the process
  stops: with exit code 2 and one line on stderr for a refusal (a schema from a newer
  version, another node's key: what `refusal_of` has words for), else 1 and the failure
  logged.

Once loaded, the gateway's own lifespan runs in this app's, on uvicorn's event loop, and
every call goes straight to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send  # type names alone: no Starlette import

if TYPE_CHECKING:
    from starlette.applications import Starlette

HOLD_SECONDS = 10.0

_log = logging.getLogger(__name__)


class StartingFront:
    """The ASGI app `serve` runs: see the module's docstring.

    `load` runs on a thread and returns the loaded app. `stop_serving` is called when it
    fails, or the loaded app's lifespan start does; `exit_code` and `refusal` (the line
    `refusal_of` made of the failure, if any) say how the process should end.
    """

    def __init__(
        self,
        load: Callable[[], Starlette],
        stop_serving: Callable[[], None],
        refusal_of: Callable[[Exception], str | None],
        *,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self._load = load
        self._stop_serving = stop_serving
        self._refusal_of = refusal_of
        self._hold_seconds = hold_seconds
        self._app: Starlette | None = None
        self._settled: asyncio.Event | None = None
        self._loading: asyncio.Task[None] | None = None
        self._lifespans = AsyncExitStack()
        self.exit_code: int | None = None
        self.refusal: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is not None:
            await self._app(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == "/health":
            await _answer(send, 503, _STARTING_HEALTH, scope["method"] == "HEAD")
        else:
            await self._hold(scope, receive, send)

    async def _hold(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._settled is not None  # uvicorn runs the lifespan before it listens
        try:
            # In this task (wait_for would make one): released, the call goes on at once.
            async with asyncio.timeout(self._hold_seconds):
                await self._settled.wait()
        except TimeoutError:
            pass
        if self._app is not None:
            await self._app(scope, receive, send)
        elif scope["type"] == "http":
            await _answer(send, 503, _starting_error(), scope["method"] == "HEAD", retry=True)
        else:  # a WebSocket: refused before it is accepted (an HTTP 403 to the client)
            await send({"type": "websocket.close", "code": 1013})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._settled = asyncio.Event()
        self._loading = asyncio.create_task(self._load_behind())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        # Told to stop while loading: the load finishes first (a thread cannot be interrupted,
        # nor a gateway half started), then the gateway stops as it would have anyway.
        await self._loading
        try:
            await self._lifespans.aclose()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _load_behind(self) -> None:
        assert self._settled is not None
        try:
            app = await asyncio.to_thread(self._load)
            await self._lifespans.enter_async_context(app.router.lifespan_context(app))
            self._app = app
        except Exception as exc:
            self.refusal = self._refusal_of(exc)
            if self.refusal is None:
                _log.exception("gateway_load_failed")
            self.exit_code = 1 if self.refusal is None else 2
            self._stop_serving()
        finally:
            self._settled.set()


_STARTING_HEALTH = {
    "status": "down",
    "restoring": True,
    "checks": {"startup": {"ok": False}},
}


def _starting_error() -> dict[str, Any]:
    return {
        "error": {
            "code": "internal_error",
            "message": "the gateway is starting; retry after Retry-After seconds",
            "details": {"reason": "starting"},
        },
        "request_id": str(uuid.uuid4()),
    }


async def _answer(
    send: Send, status: int, body: dict[str, Any], head: bool, *, retry: bool = False
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if retry:
        headers.append((b"retry-after", b"1"))
        headers.append((b"x-request-id", body["request_id"].encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else payload})
