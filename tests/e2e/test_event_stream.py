"""The event stream (CONTRACT §10) against a real server: SSE and WebSocket consumers get the
webhooks' envelopes in the same order, filters hold, a consumer resuming with its last id
misses nothing, tickets open one stream once, strangers are refused; a server of its own
for the budget and for a shutdown no stream holds up."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import GatewayServer, WebhookReceiver

pytestmark = pytest.mark.e2e

CONTACT = "6285550002222"


class SseConsumer:
    """An SSE client reading in the background: `items` are (id, event, data) as they come."""

    def __init__(self) -> None:
        self.items: list[tuple[str | None, str | None, str]] = []
        self.status: int | None = None
        self.body = b""

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(data) for _, name, data in self.items if name is None]

    @property
    def ids(self) -> list[str | None]:
        return [cursor for cursor, name, _ in self.items if name is None]

    async def run(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                # The body first: `sse` hands the consumer over once its status is set.
                self.body = await response.aread()
                self.status = response.status_code
                return
            self.status = response.status_code
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if not line:
                    if "data" in fields:
                        self.items.append((fields.get("id"), fields.get("event"), fields["data"]))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")


@asynccontextmanager
async def sse(
    base_url: str, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[SseConsumer]:
    """An SSE consumer open (its answer's head received) for the block's length."""
    consumer = SseConsumer()
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(5, read=None)) as client:
        task = asyncio.create_task(consumer.run(client, path, headers or {}))
        await until(lambda: consumer.status is not None or task.done(), "the stream to open")
        try:
            yield consumer
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, httpx.HTTPError):
                await task


class WsConsumer:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return [f["event"] for f in self.frames if f["type"] == "event"]

    async def run(self) -> None:
        async for message in self.connection:
            self.frames.append(json.loads(message))


@asynccontextmanager
async def ws(
    base_url: str, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[WsConsumer]:
    async with connect(
        base_url.replace("http://", "ws://") + path, additional_headers=headers or {}
    ) as connection:
        consumer = WsConsumer(connection)
        task = asyncio.create_task(consumer.run())
        try:
            yield consumer
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task


async def ws_refusal(
    base_url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int | None, str | None]:
    """The close code and reason of a WebSocket the gateway refuses (after its handshake)."""
    async with connect(
        base_url.replace("http://", "ws://") + path, additional_headers=headers or {}
    ) as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    frame = closed.value.rcvd
    return (frame.code, frame.reason) if frame is not None else (None, None)


async def until(
    check: Callable[[], object],
    what: str,
    timeout: float = 15,
    state: Callable[[], object] = lambda: None,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {state()}")
        await asyncio.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(work: Callable[[], Any]) -> Awaitable[Any]:
    return asyncio.to_thread(work)


def inbound(api: httpx.Client, device_id: str, text: str) -> None:
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, "text": text}
    )
    assert response.status_code == 202, response.text


def webhooks_of(receiver: WebhookReceiver, device_id: str) -> list[dict[str, Any]]:
    return [d.json for d in receiver.events(device_id)]


def test_sse_and_websocket_get_the_webhook_envelopes_in_order_and_resume(
    server: GatewayServer, api: httpx.Client, app_creds: dict, receiver: WebhookReceiver
) -> None:
    headers = bearer(app_creds["app_token"])

    async def scenario() -> None:
        async with (
            sse(server.base_url, "/events/stream", headers) as everything,
            ws(server.base_url, "/events/ws", headers) as socket,
            sse(
                server.base_url, "/events/stream?events=device_connected,message", headers
            ) as filtered,
        ):
            assert everything.status == 200 and filtered.status == 200
            device = await call(lambda: create_device(api, "streamed"))
            device_id = device["device_id"]
            await call(lambda: scan(api, device["qr"]))
            for text in ("one", "two"):
                await call(lambda text=text: inbound(api, device_id, text))

            def settled() -> bool:
                hooks = webhooks_of(receiver, device_id)
                return (
                    sum(h["event"] == "message" for h in hooks) == 2
                    and everything.envelopes == hooks
                    and socket.envelopes == hooks
                )

            await until(settled, "both streams to carry the webhooks' envelopes")
            hooks = webhooks_of(receiver, device_id)
            # the same events, in the same order, byte for byte as the webhook bodies
            assert [h["event"] for h in hooks][:2] == ["device_qr_generated", "device_connected"]
            assert everything.ids == [f["id"] for f in socket.frames if f["type"] == "event"]
            assert len(set(everything.ids)) == len(hooks)
            await until(
                lambda: (
                    filtered.envelopes
                    == [h for h in hooks if h["event"] in ("device_connected", "message")]
                ),
                "the filtered stream",
            )
            assert all(h["app_id"] == app_creds["app_id"] for h in everything.envelopes)
            last_seen = everything.ids[-1]
            assert last_seen is not None

        # Every consumer gone: more happens meanwhile, then a consumer comes back.
        for text in ("three", "four"):
            await call(lambda text=text: inbound(api, device_id, text))
        await until(
            lambda: sum(h["event"] == "message" for h in webhooks_of(receiver, device_id)) == 4,
            "the missed events' webhooks",
        )
        seen_before = hooks
        missed = webhooks_of(receiver, device_id)[len(hooks) :]
        async with (
            sse(server.base_url, "/events/stream", {**headers, "Last-Event-ID": last_seen}) as back,
            ws(
                server.base_url,
                f"/events/ws?last_event_id={last_seen}&device_id={device_id}",
                headers,
            ) as socket_back,
        ):
            await until(
                lambda: back.envelopes == missed and socket_back.envelopes == missed,
                "the missed events, exactly",
            )
            await call(lambda: inbound(api, device_id, "five"))
            await until(
                lambda: (
                    (now := webhooks_of(receiver, device_id))[-1]["payload"].get("text") == "five"
                    and back.envelopes == now[len(seen_before) :]
                    and socket_back.envelopes == back.envelopes
                ),
                "live events after the replay",
                state=lambda: (back.items, socket_back.frames, webhooks_of(receiver, device_id)),
            )
            assert len({json.dumps(e, sort_keys=True) for e in back.envelopes}) == len(
                back.envelopes
            )

    asyncio.run(scenario())


def test_tickets_open_one_stream_once_and_strangers_are_refused(
    server: GatewayServer, api: httpx.Client, app_creds: dict
) -> None:
    other = server.create_app("stream stranger", "")
    with server.client(other["app_token"]) as other_api:
        other_ticket = other_api.post("/events/tickets").json()["ticket"]
    issued = api.post("/events/tickets")
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["ticket"]
    assert issued.json()["expires_at"].endswith("Z")
    ws_ticket = api.post("/events/tickets").json()["ticket"]

    async def scenario() -> None:
        async with sse(server.base_url, f"/events/stream?ticket={ticket}") as first:
            assert first.status == 200
            # the other app's stream sees none of this app's events
            async with sse(server.base_url, f"/events/stream?ticket={other_ticket}") as foreign:
                assert foreign.status == 200
                device = await call(lambda: create_device(api, "ticketed"))
                await until(lambda: first.envelopes, "the ticket's stream to get the event")
                assert first.envelopes[0]["device_id"] == device["device_id"]
                await asyncio.sleep(0.5)
                assert foreign.envelopes == []
        async with sse(server.base_url, f"/events/stream?ticket={ticket}") as again:
            assert again.status == 401
            assert json.loads(again.body)["error"]["code"] == "invalid_api_key"
        for path, headers in (
            ("/events/stream", {}),
            ("/events/stream", bearer("wag_" + "x" * 40)),
            ("/events/stream?ticket=st_Zm9yZ2Vk.c2ln", {}),
        ):
            async with sse(server.base_url, path, headers) as refused:
                assert refused.status == 401, (path, refused.body)
                assert json.loads(refused.body)["error"]["code"] == "invalid_api_key"
        async with sse(
            server.base_url,
            "/events/stream",
            {**bearer(app_creds["app_token"]), "Last-Event-ID": "nope"},
        ) as bad_cursor:
            assert bad_cursor.status == 400
        async with ws(server.base_url, f"/events/ws?ticket={ws_ticket}") as opened:
            assert opened.connection.state.name == "OPEN"
        for path in (f"/events/ws?ticket={ws_ticket}", "/events/ws"):
            assert await ws_refusal(server.base_url, path) == (4401, "invalid_api_key")

    asyncio.run(scenario())
    assert ticket not in server.logs()


def stalled_consumer(gateway: GatewayServer, token: str) -> socket.socket:
    """An SSE consumer that reads its answer's head and then never reads again (a small
    receive buffer, so the server's writes back up soon)."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.connect(("127.0.0.1", gateway.port))
    conn.sendall(
        b"GET /events/stream HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(1024)
    assert head.startswith(b"HTTP/1.1 200"), head
    return conn


def drain(conn: socket.socket) -> str:
    """Read a connection to its end: "reset", or the code of the stream's last word."""
    conn.settimeout(10)
    data = b""
    try:
        while chunk := conn.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        return "reset"
    last = data.rsplit(b"event: error\ndata: ", 1)[-1].split(b"\n", 1)[0]
    return str(json.loads(last)["code"])


@pytest.mark.storage_agnostic
def test_stream_budget_slow_consumer_and_shutdown(
    make_server: Callable[..., GatewayServer], receiver: WebhookReceiver
) -> None:
    gateway = make_server(
        WAGW_STREAM_MAX_CONNECTIONS="3",
        WAGW_MAX_CONNECTIONS="4",
        WAGW_STREAM_BUFFER_EVENTS="20",
    ).start()
    creds = gateway.create_app("budget", receiver.url)
    headers = bearer(creds["app_token"])

    async def scenario() -> None:
        async with (
            sse(gateway.base_url, "/events/stream", headers) as one,
            ws(gateway.base_url, "/events/ws", headers) as socket_one,
        ):
            assert one.status == 200
            stalled = await call(lambda: stalled_consumer(gateway, creds["app_token"]))
            # Over the budget of 3 streams: 503 for both kinds.
            async with sse(gateway.base_url, "/events/stream", headers) as fourth:
                assert fourth.status == 503
                body = json.loads(fourth.body)
                assert body["error"]["code"] == "stream_capacity_reached"
            assert await ws_refusal(gateway.base_url, "/events/ws", headers) == (
                4503,
                "stream_capacity_reached",
            )
            # Streams take none of the API's connections: as many calls at once go through as
            # with no stream open (uvicorn counts the connection asking: 4 allows 3 others).
            async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as client:
                answers = await asyncio.gather(
                    *(client.get("/webhooks/deliveries") for _ in range(3))
                )
            assert [a.status_code for a in answers] == [200] * 3

            # The stalled consumer falls behind and is cut off; the others miss nothing.
            with gateway.client(creds["app_token"]) as api:
                device = await call(lambda: create_device(api, "busy"))
                device_id = device["device_id"]
                await call(lambda: scan(api, device["qr"]))
                # Large messages: the kernel buffers megabytes on loopback before the
                # server's writes to the stalled consumer back up into its event buffer.
                for n in range(300):
                    await call(lambda n=n: inbound(api, device_id, f"{n} " + "x" * 60000))
                    if n % 5 == 4 and "stream_consumer_cut_off" in gateway.logs():
                        break
                assert "stream_consumer_cut_off" in gateway.logs()
                await call(lambda: inbound(api, device_id, "after the cut"))
            await until(
                lambda: (
                    (hooks := webhooks_of(receiver, device_id))
                    and hooks[-1]["payload"].get("text") == "after the cut"
                    and one.envelopes == hooks
                    and socket_one.envelopes == hooks
                ),
                "every event on the other streams and the webhook",
                timeout=30,
            )
            # The stalled connection was let go: reading it now ends (a reset, or the end of
            # the stream with its last word), it does not hang.
            ended = await call(lambda: drain(stalled))
            assert ended in ("reset", "consumer_too_slow")
            stalled.close()
            # A stopping server ends its streams at once rather than waiting for them.
            started = time.monotonic()
            await asyncio.to_thread(gateway.stop)
            assert time.monotonic() - started < 5
            await until(lambda: any(name == "error" for _, name, _ in one.items), "last word")
            assert json.loads(one.items[-1][2])["code"] == "server_shutting_down"

    asyncio.run(scenario())
    errors = [line for line in gateway.logs().splitlines() if '"level": "error"' in line]
    assert errors == []  # refusals, the cut-off and the shutdown are no errors
