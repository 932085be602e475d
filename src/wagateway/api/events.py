"""The event stream (CONTRACT §10): `GET /events/stream` (Server-Sent Events), `/events/ws`
(WebSocket) and `POST /events/tickets` for browsers. What is read and when is
`delivery/stream.py`'s, who may open a stream `api/deps.py`'s (`stream_app`); here: the two
wire formats."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from wagateway.api.deps import CurrentApp, StreamApp, app_id_of_stream
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.http_protocol import ABORT_CONNECTION, ON_SHUTDOWN
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.core.timefmt import rfc3339
from wagateway.delivery.stream import (
    SHUTTING_DOWN,
    Consumer,
    Delivered,
    EventStreams,
    Notice,
    StreamFilter,
    decode_cursor,
    frame,
)
from wagateway.gateway import Gateway, GatewayDep

router = APIRouter(prefix="/events", tags=["events"])

# How long a stream's last message (why it ends) may take to go out before the connection is
# dropped: a consumer cut off for not reading would otherwise hold it for ever.
LAST_WORDS_SECONDS = 2.0


class TicketOut(BaseModel):
    ticket: str = Field(description="single use, in `?ticket=` of `/events/stream` or `/events/ws`")
    expires_at: str = Field(description="RFC 3339; the ticket is refused after it")


@router.post("/tickets", response_model=TicketOut, status_code=201, responses=errors(APP_CALLER))
async def create_ticket(app: CurrentApp, gw: GatewayDep) -> TicketOut:
    """A short-lived stream ticket for a browser, which cannot send the Bearer header on an
    `EventSource` or a WebSocket: `?ticket=` opens one stream of this app, once, within 60 s."""
    ticket, expires = gw.stream_tickets.issue(app.id)
    return TicketOut(ticket=ticket, expires_at=rfc3339(datetime.fromtimestamp(expires, UTC)) or "")


def _filter(events: str | None, device_id: str | None) -> StreamFilter:
    names = frozenset(name.strip() for name in (events or "").split(",") if name.strip())
    return StreamFilter(events=names, device_id=device_id or None)


def _cursor(last_event_id: str | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return None
    seq = decode_cursor(last_event_id)
    if seq is None:
        raise validation_error("Last-Event-ID is not a cursor of this stream", "last_event_id")
    return seq


async def _open(
    streams: EventStreams, app_id: str, flt: StreamFilter, after: int | None
) -> Consumer:
    consumer = await streams.open(app_id, flt, after)
    if consumer is None:
        raise ApiError(
            503,
            "stream_capacity_reached",
            "the gateway has as many event streams open as it allows; retry later",
            {"max_streams": streams.settings.stream_max_connections},
            headers={"Retry-After": "5"},
        )
    return consumer


_FILTER_DOCS = {
    "events": "comma-separated event names to receive (empty: all)",
    "device_id": "only this device's events",
}

_SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Server-Sent Events stream. Each event: `id:` (an opaque cursor) and "
        "`data:` (the webhook envelope as JSON, CONTRACT §4). Named events: `retention_gap` "
        "(first, when a resumed cursor is older than the retention) and `error` (last, "
        '`{"code": "consumer_too_slow" | "server_shutting_down" | "internal_error", "message"}`). '
        "Comments (`: keepalive`) while idle.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **errors(APP_CALLER, "validation_error", "stream_capacity_reached"),
}


@router.get(
    "/stream",
    response_class=JSONResponse,  # its errors; a stream answers text/event-stream
    responses=_SSE_RESPONSES,
)
async def event_stream(
    app_id: StreamApp,
    gw: GatewayDep,
    events: str | None = Query(None, description=_FILTER_DOCS["events"]),
    device_id: str | None = Query(None, description=_FILTER_DOCS["device_id"]),
    last_event_id: str | None = Header(
        None, description="resume after this event's `id:` (replays what was missed)"
    ),
) -> Response:
    """The app's events as Server-Sent Events, the same envelopes as its webhooks (CONTRACT
    §10). Without `Last-Event-ID`: events from now on; with it: every event after that one,
    as far back as `WAGW_STREAM_RETENTION_SECONDS` reaches. A consumer that falls more than
    `WAGW_STREAM_BUFFER_EVENTS` behind is cut off (`event: error`, `consumer_too_slow`).

    The same stream as a WebSocket: `/events/ws` (the same query, plus `last_event_id`;
    frames `{"type": "event", "id", "event"}`), which OpenAPI cannot describe; see
    docs/behaviour.md, "Event stream"."""
    flt = _filter(events, device_id)
    consumer = await _open(gw.streams, app_id, flt, _cursor(last_event_id))
    return EventStreamResponse(consumer, gw.streams)


def _sse(item: Delivered | Notice) -> bytes:
    if isinstance(item, Delivered):
        return f"id: {item.cursor}\ndata: {item.body}\n\n".encode()
    name = "retention_gap" if item.code == "retention_gap" else "error"
    return f"event: {name}\ndata: {item.json()}\n\n".encode()


class EventStreamResponse(Response):
    """An ASGI response that writes a consumer's events as they come, until the consumer
    ends (cut off, shutdown) or the client goes away."""

    def __init__(self, consumer: Consumer, streams: EventStreams) -> None:
        super().__init__(media_type="text/event-stream")
        self._consumer = consumer
        self._streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ON_SHUTDOWN] = self._streams.close_all
        writer = asyncio.create_task(self._write(send))
        listener = asyncio.create_task(_until_disconnect(receive))
        guard = asyncio.create_task(
            _drop_when_stuck(self._consumer, writer, scope.get(ABORT_CONNECTION))
        )
        try:
            await asyncio.wait({writer, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (writer, listener, guard):
                task.cancel()
            await asyncio.gather(writer, listener, guard, return_exceptions=True)
            await self._consumer.close()

    async def _write(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
                    # An ended stream ends its connection: a client reconnects on a new one.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b": stream open\n\n", "more_body": True})
        keepalive = self._streams.settings.stream_keepalive_seconds
        while True:
            item = await self._consumer.next(keepalive)
            if item is None:
                chunk = b": keepalive\n\n"
            else:
                chunk = _sse(item)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if isinstance(item, Notice) and item is self._consumer.ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop_when_stuck(consumer: Consumer, writer: asyncio.Task[None], abort: Any) -> None:
    """Once the consumer has ended, give its last message `LAST_WORDS_SECONDS` to go out,
    then drop the connection: a client that stopped reading never takes it."""
    await consumer.wait_ended()
    await asyncio.sleep(LAST_WORDS_SECONDS)
    if not writer.done():
        if callable(abort):
            abort()
        writer.cancel()


@router.websocket("/ws")
async def event_socket(
    websocket: WebSocket,
    events: str | None = None,
    device_id: str | None = None,
    ticket: str | None = None,
    last_event_id: str | None = None,
) -> None:
    """The event stream as a WebSocket: text frames `{"type": "event", "id": cursor,
    "event": envelope}`; `?last_event_id=` resumes. Cut off: close 1008 `consumer_too_slow`."""
    gw: Gateway = websocket.app.state.gateway
    try:
        app_id = await app_id_of_stream(websocket, gw, ticket)
        consumer = await _open(
            gw.streams, app_id, _filter(events, device_id), _cursor(last_event_id)
        )
    except ApiError as exc:
        # Refused after the handshake, with close code 4000 + the HTTP status and the error
        # code as the reason: a browser's WebSocket never sees a refused handshake's status
        # (only 1006), but it does see a close code and reason.
        await websocket.accept()
        await _close_quietly(websocket, Notice(exc.code, exc.message), 4000 + exc.status)
        return
    await websocket.accept()
    writer = asyncio.create_task(_write_frames(websocket, consumer))
    listener = asyncio.create_task(_until_ws_disconnect(websocket))
    guard = asyncio.create_task(_drop_when_stuck(consumer, writer, None))
    try:
        await asyncio.wait({writer, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (writer, listener, guard):
            task.cancel()
        await asyncio.gather(writer, listener, guard, return_exceptions=True)
        await consumer.close()
        if writer.cancelled() and consumer.ended is not None:
            await _close_quietly(websocket, consumer.ended)


async def _write_frames(websocket: WebSocket, consumer: Consumer) -> None:
    while True:
        item = await consumer.next(30.0)
        if item is None:
            continue  # WebSocket pings keep the connection alive
        if isinstance(item, Notice) and item is consumer.ended:
            await _close_quietly(websocket, item)
            return
        await websocket.send_text(json.dumps(frame(item), ensure_ascii=False))


async def _close_quietly(websocket: WebSocket, notice: Notice, code: int | None = None) -> None:
    if code is None:
        code = 1012 if notice.code == SHUTTING_DOWN else 1008
    try:
        async with asyncio.timeout(LAST_WORDS_SECONDS):
            await websocket.close(code=code, reason=notice.code)
    except (TimeoutError, RuntimeError, WebSocketDisconnect, OSError):
        pass


async def _until_ws_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
