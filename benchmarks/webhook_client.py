"""Benchmark: aiohttp vs httpx as the outbound HTTP client for webhook delivery.

Why this exists: the gateway's webhook dispatcher (`wagateway.delivery.http`) POSTs
signed events with an `aiohttp.ClientSession`. This script is the measured reason for that
choice: it sends webhook-shaped POSTs (a ~600-byte JSON body plus `Content-Type`,
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers) to a real HTTP receiver
on 127.0.0.1 with both `aiohttp.ClientSession` (`TCPConnector`) and `httpx.AsyncClient`, at
several concurrency levels, and prints the sustained POST rate of each, plus the ratio
aiohttp/httpx measured in the same run.

Method:
- The receiver is an `aiohttp.web` app in a separate process (multiprocessing, spawn), so
  it does not share the clients' event loop or CPU accounting; it answers 200 "ok".
- Each (client, concurrency) run uses a fresh client whose connection pool holds exactly
  `concurrency` keep-alive connections (httpx's default keep-alive cap of 20 is raised so
  it does not churn connections at concurrency 64), warms up, then has `concurrency`
  workers send up to `--requests` POSTs, stopping early after `--max-seconds`.
- Every request gets a fresh id, timestamp and HMAC-SHA256 signature, and its response
  body is read, like the dispatcher does.
- The default asyncio event loop is measured: uvloop is deliberately not used even when it
  is installed.
- Traffic is loopback only.

Run: `.venv/bin/python benchmarks/webhook_client.py [--quick]` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import aiohttp
import httpcore
import httpx
from aiohttp import web
from loopback import HOST, serve_until_stopped

PATH = "/webhook"
BODY_TARGET_BYTES = 600
REQUEST_TIMEOUT_S = 10.0
SIGNING_KEY = b"benchmark-signing-key-0123456789"
CLIENTS: tuple[str, ...] = ("aiohttp", "httpx")
BASELINE = "httpx"

# A sender performs one POST and returns the response status code.
Sender = Callable[[bytes, dict[str, str]], Awaitable[int]]


# --- receiver (runs in a child process) --------------------------------------------------


async def _handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")


async def _serve(port_conn: Connection, stop: MpEvent) -> None:
    app = web.Application()
    app.router.add_post(PATH, _handle)
    await serve_until_stopped(app, port_conn, stop)


def _receiver_main(port_conn: Connection, stop: MpEvent) -> None:
    asyncio.run(_serve(port_conn, stop))


class Receiver:
    """The local webhook receiver, in its own process; use as a context manager."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self._parent_conn, child_conn = ctx.Pipe(duplex=False)
        self._child_conn = child_conn
        self._process = ctx.Process(
            target=_receiver_main, args=(child_conn, self._stop), name="webhook-receiver"
        )
        self.port = 0

    def __enter__(self) -> Receiver:
        self._process.start()
        self._child_conn.close()
        if not self._parent_conn.poll(30):
            self._process.kill()
            raise RuntimeError("the receiver process did not start within 30 s")
        self.port = int(self._parent_conn.recv())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"


# --- webhook-shaped requests -------------------------------------------------------------


def _make_body() -> bytes:
    """A JSON event envelope padded to about BODY_TARGET_BYTES bytes."""
    event: dict[str, Any] = {
        "event": "message.received",
        "request_id": str(uuid.uuid4()),
        "app_id": "app_01HZX3K9Q2W7E4R5T6Y7U8I9O0",
        "device_id": "dev_01HZX3KAB1C2D3E4F5G6H7J8K9",
        "created_at": "2026-05-09T07:35:25.123Z",
        "data": {
            "message_id": "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzRUIwQjM1",
            "from": "+15551234567",
            "to": "+15557654321",
            "type": "text",
            "text": "",
            "timestamp": 1778312125,
        },
    }
    base = len(json.dumps(event, separators=(",", ":")).encode())
    event["data"]["text"] = "x" * max(0, BODY_TARGET_BYTES - base)
    return json.dumps(event, separators=(",", ":")).encode()


def _headers(body: bytes) -> dict[str, str]:
    """Standard Webhooks headers with a fresh id, timestamp and signature."""
    msg_id = f"evt_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(SIGNING_KEY, signed, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "User-Agent": "wagateway-benchmark/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + signature.decode(),
    }


# --- clients -----------------------------------------------------------------------------


class Client:
    """One HTTP client library, with a pool of `concurrency` keep-alive connections."""

    def __init__(self, name: str, url: str, concurrency: int) -> None:
        self.name = name
        self._url = url
        self._concurrency = concurrency
        self._aiohttp: aiohttp.ClientSession | None = None
        self._httpx: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Sender:
        if self.name == "aiohttp":
            connector = aiohttp.TCPConnector(
                limit=self._concurrency, limit_per_host=self._concurrency
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                trust_env=False,
            )
            self._aiohttp = session

            async def send_aiohttp(body: bytes, headers: dict[str, str]) -> int:
                async with session.post(
                    self._url, data=body, headers=headers, allow_redirects=False
                ) as resp:
                    await resp.read()
                    return resp.status

            return send_aiohttp

        if self.name == "httpx":
            client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=self._concurrency,
                    max_keepalive_connections=self._concurrency,
                ),
                timeout=REQUEST_TIMEOUT_S,
                trust_env=False,
            )
            self._httpx = client

            async def send_httpx(body: bytes, headers: dict[str, str]) -> int:
                resp = await client.post(self._url, content=body, headers=headers)
                return resp.status_code

            return send_httpx

        raise ValueError(f"unknown client {self.name!r}")

    async def __aexit__(self, *exc: object) -> None:
        if self._aiohttp is not None:
            await self._aiohttp.close()
        if self._httpx is not None:
            await self._httpx.aclose()


# --- one measured run --------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    client: str
    concurrency: int
    ok: int
    errors: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / self.ok * 1e6 if self.ok else float("nan")


async def _run(
    client: str, url: str, concurrency: int, requests: int, max_seconds: float
) -> Result:
    body = _make_body()
    async with Client(client, url, concurrency) as send:
        # Warm-up (not timed): open the pool's connections and exercise the code paths.
        await asyncio.gather(*(send(body, _headers(body)) for _ in range(2 * concurrency)))

        remaining = requests
        ok = 0
        errors = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal remaining, ok, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                try:
                    status = await send(body, _headers(body))
                except (aiohttp.ClientError, httpx.HTTPError, OSError, TimeoutError):
                    errors += 1
                    continue
                if status == 200:
                    ok += 1
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return Result(client, concurrency, ok, errors, seconds, cpu_seconds)


# --- command line ------------------------------------------------------------------------


def _concurrency_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}") from exc
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return levels


def _client_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(CLIENTS))
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"clients must be among {', '.join(CLIENTS)}")
    return names


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="POST rate of aiohttp vs httpx against a local webhook receiver."
    )
    parser.add_argument("--requests", type=int, default=3000, help="POSTs per run (default 3000)")
    parser.add_argument(
        "--concurrency",
        type=_concurrency_levels,
        default=[1, 16, 64],
        help="comma-separated concurrent workers per run (default 1,16,64)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=20.0,
        help="stop a run after this many seconds (default 20)",
    )
    parser.add_argument(
        "--clients",
        type=_client_names,
        default=list(CLIENTS),
        help="comma-separated clients to run (default aiohttp,httpx)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 300 requests at concurrency 1,16",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 300
        args.concurrency = [1, 16]
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.max_seconds <= 0:
        parser.error("--max-seconds must be positive")
    return args


def _print_table(results: list[Result]) -> None:
    baseline = {r.concurrency: r for r in results if r.client == BASELINE}
    header = (
        f"{'client':<8} {'conc':>5} {'requests':>9} {'errors':>7} {'seconds':>8} "
        f"{'POST/s':>9} {'CPU us/req':>11} {'vs ' + BASELINE:>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        base = baseline.get(r.concurrency)
        ratio = f"{r.rate / base.rate:.2f}x" if base and base.rate > 0 else "n/a"
        print(
            f"{r.client:<8} {r.concurrency:>5} {r.ok:>9} {r.errors:>7} {r.seconds:>8.2f} "
            f"{r.rate:>9.0f} {r.cpu_us_per_request:>11.0f} {ratio:>9}"
        )


def _summary(results: list[Result]) -> str:
    by_key = {(r.client, r.concurrency): r for r in results}
    parts = []
    for level in sorted({r.concurrency for r in results}):
        a, b = by_key.get(("aiohttp", level)), by_key.get((BASELINE, level))
        if a and b and b.rate > 0:
            parts.append(f"{a.rate / b.rate:.2f}x at {level}")
    if not parts:
        return "summary: no comparable runs"
    return "summary: aiohttp/httpx POST rate = " + ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    uvloop_note = (
        "uvloop is installed but NOT used"
        if importlib.util.find_spec("uvloop") is not None
        else "uvloop not installed"
    )
    print(
        f"python {platform.python_version()} | aiohttp {aiohttp.__version__} | "
        f"httpx {httpx.__version__} | cpus {os.cpu_count()}"
    )
    print(f"event loop: default asyncio ({uvloop_note})")
    if importlib.util.find_spec("sniffio") is None:
        print(
            "note: sniffio is not installed; httpcore "
            f"{httpcore.__version__} then retries a failed `import sniffio` on every "
            "lock/event setup (encode/httpcore#1103), which slows httpx"
        )
    print(
        f"requests/run {args.requests} | concurrency {','.join(map(str, args.concurrency))} "
        f"| max {args.max_seconds:g} s/run | body {len(_make_body())} B | receiver: "
        f"aiohttp.web in a separate process on {HOST}"
    )

    results: list[Result] = []
    with Receiver() as receiver:
        print(f"receiver: {receiver.url}\n")
        for level in args.concurrency:
            for client in args.clients:
                results.append(
                    asyncio.run(_run(client, receiver.url, level, args.requests, args.max_seconds))
                )
    _print_table(results)
    print()
    print(_summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
