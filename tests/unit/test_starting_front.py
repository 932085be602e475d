"""What a node serves while the gateway loads behind it (core/starting_front.py): `/health`
at once, every other call held and then answered by the gateway, a clear 503 past the hold,
and a refused or failed load that stops the server. In process, through the ASGI interface,
with a small Starlette app standing for the gateway and a loader the test releases."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wagateway.core.starting_front import StartingFront


def in_a_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Loaded:
    """The app the loader returns: its lifespan records start and stop."""

    def __init__(self) -> None:
        self.events: list[str] = []

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self.events.append("started")
            yield
            self.events.append("stopped")

        async def devices(request: Request) -> JSONResponse:
            return JSONResponse({"served_by": "gateway", "started": self.events[:1]})

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok", "restoring": False, "checks": {}})

        self.app = Starlette(
            routes=[Route("/devices", devices), Route("/health", health)], lifespan=lifespan
        )


class Node:
    """A front with its lifespan under way, as uvicorn runs it."""

    def __init__(self, load: Any, hold_seconds: float = 30.0, refusal: str | None = None) -> None:
        self.stopped = threading.Event()
        self.front = StartingFront(
            load,
            stop_serving=self.stopped.set,
            refusal_of=lambda exc: refusal if isinstance(exc, PermissionError) else None,
            hold_seconds=hold_seconds,
        )
        self._lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(
            self.front({"type": "lifespan"}, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        assert (await self._lifespan_out.get())["type"] == "lifespan.startup.complete"

    async def shut_down(self) -> str:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        said = await asyncio.wait_for(self._lifespan_out.get(), 10)
        assert self._task is not None
        await self._task
        return str(said["type"])

    async def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.front(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], headers, body


def gated_loader(loaded: Loaded) -> tuple[threading.Event, Any]:
    release = threading.Event()

    def load() -> Starlette:
        assert release.wait(30), "the test never released the loader"
        return loaded.app

    return release, load


@in_a_loop
async def test_health_answers_at_once_and_calls_wait_for_the_gateway() -> None:
    loaded = Loaded()
    release, load = gated_loader(loaded)
    node = Node(load)
    await node.start()

    status, headers, body = await node.get("/health")
    assert status == 503 and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "status": "down",
        "restoring": True,
        "checks": {"startup": {"ok": False}},
    }
    status, _, body = await node.get("/health", method="HEAD")
    assert status == 503 and body == b""

    held = asyncio.create_task(node.get("/devices"))
    await asyncio.sleep(0.2)
    assert not held.done()  # held, not refused, while the gateway loads
    release.set()
    status, _, body = await asyncio.wait_for(held, 10)
    # Answered by the gateway, after its lifespan had started.
    assert status == 200 and json.loads(body) == {"served_by": "gateway", "started": ["started"]}
    status, _, body = await node.get("/health")
    assert status == 200 and json.loads(body)["status"] == "ok"

    assert await node.shut_down() == "lifespan.shutdown.complete"
    assert loaded.events == ["started", "stopped"]
    assert node.front.exit_code is None and not node.stopped.is_set()


@in_a_loop
async def test_a_call_held_past_the_limit_gets_a_clear_503() -> None:
    loaded = Loaded()
    release, load = gated_loader(loaded)
    node = Node(load, hold_seconds=0.2)
    await node.start()

    status, headers, body = await node.get("/devices")

    assert status == 503
    assert headers["retry-after"] == "1"
    answer = json.loads(body)
    assert answer["error"]["code"] == "internal_error"
    assert answer["error"]["details"] == {"reason": "starting"}
    assert answer["request_id"] == headers["x-request-id"]
    release.set()
    assert await node.shut_down() == "lifespan.shutdown.complete"
    assert loaded.events == ["started", "stopped"]


@in_a_loop
async def test_told_to_stop_while_loading_it_starts_then_stops_the_gateway() -> None:
    loaded = Loaded()
    release, load = gated_loader(loaded)
    node = Node(load)
    await node.start()

    stopping = asyncio.create_task(node.shut_down())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # the load is waited for: a thread cannot be interrupted
    release.set()

    assert await stopping == "lifespan.shutdown.complete"
    assert loaded.events == ["started", "stopped"]


@pytest.mark.parametrize(
    ("failure", "exit_code", "refusal"),
    [
        (PermissionError("the database is another node's"), 2, "error: refused: another key"),
        (RuntimeError("a bug"), 1, None),
    ],
)
@in_a_loop
async def test_a_load_that_fails_stops_the_server(
    failure: Exception, exit_code: int, refusal: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    def load() -> Starlette:
        raise failure

    node = Node(load, refusal="error: refused: another key")
    await node.start()

    status, _, body = await node.get("/devices")  # held until the load ended, then refused

    assert status == 503 and json.loads(body)["error"]["details"] == {"reason": "starting"}
    assert node.stopped.is_set()
    assert (node.front.exit_code, node.front.refusal) == (exit_code, refusal)
    # A refusal is said once, by the CLI; anything else is logged with its traceback.
    assert ("gateway_load_failed" in caplog.text) is (refusal is None)
    assert await node.shut_down() == "lifespan.shutdown.complete"


@in_a_loop
async def test_a_gateway_whose_start_fails_stops_the_server() -> None:
    @asynccontextmanager
    async def refusing(_app: Starlette) -> AsyncIterator[None]:
        raise PermissionError("another node's media store")
        yield

    node = Node(lambda: Starlette(lifespan=refusing), refusal="error: refused: media")
    await node.start()

    status, _, _ = await node.get("/devices")

    assert status == 503
    assert (node.front.exit_code, node.front.refusal) == (2, "error: refused: media")
    assert await node.shut_down() == "lifespan.shutdown.complete"
