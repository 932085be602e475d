"""Benchmark: end-to-end throughput and latency of the messaging pipeline.

Why this exists: the target for the messaging pipeline is ">= 500 messages/s end to end on
one node, p99 under 1 s at half that load". This script measures both halves of that
sentence against the real thing, on the machine you run it on: a real `wagateway serve`
process (sandbox engine, SQLite or PostgreSQL), driven through its public REST API, with a
real HTTP webhook receiver. A message counts as done when its `receipt` webhook with status
`read` has arrived at the receiver, so the figure includes the API, the durable send queue,
the sandbox engine, the receipts and the ordered webhook dispatcher.

Method:
- A webhook receiver (`aiohttp.web`) runs in a separate process (multiprocessing, spawn) on
  a free loopback port. It answers 200 to every POST and records the arrival time (wall
  clock) of each event; the parent reads `GET /stats` (counts) and `GET /reads`
  ({message_id: arrival of its `read` receipt}, plus failed receipts).
- `wagateway serve` runs as a subprocess on a free port with a fresh temporary data dir and
  WAGW_SANDBOX_TIME_SCALE=0 (receipts at once), WAGW_PACING_RATE_PER_SECOND=0 (unpaced),
  WAGW_OUTBOUND_ALLOWLIST=127.0.0.0/8, WAGW_LOG_LEVEL=warning and 0.2 s webhook/send poll
  intervals. `--postgres` creates a fresh PostgreSQL database for it (dropped afterwards);
  `--database-url` points it at a database of your own.
- Setup (not timed): one app (the receiver as its webhook) made with `wagateway apps create`,
  `--devices` devices linked with `POST /sandbox/scan`, and one warm-up message per device
  whose read receipt is awaited.
- Saturation mode (default): `--concurrency` client workers (one `aiohttp.ClientSession`)
  send `--devices` x `--messages` text messages, devices interleaved, as fast as the API
  accepts them. Each 202's arrival time is recorded. Then the script waits (at most
  `--timeout` s) for every accepted message's read receipt.
- Load mode (`--load-fraction F --rate R`): an open-loop schedule sends message i at
  t0 + i / (F x R), whatever the previous requests are doing (so a slow server cannot slow
  the offered load down and hide its own latency). Latency is reported both from the 202 and
  from the scheduled send time.
- Baseline, same run, before the gateway starts: a bare ASGI app (`async def app(scope,
  receive, send)` answering 200 "hello") served by uvicorn with the same settings `wagateway
  serve` uses (uvicorn's defaults: uvloop/httptools when installed), in a separate process,
  hit with the same number of POSTs (small JSON body, Authorization header) at the same
  concurrency by the same client code, in `--baseline-rounds` rounds (default 3; the median
  round is shown). accepted msg/s / baseline req/s says how much of this machine's plain
  HTTP capacity the gateway's send API achieves.
- Several nodes (`--nodes N`, PostgreSQL only): N `wagateway serve` processes on one fresh
  database, with one shared S3 media store (moto, started in this process) and one master
  key; devices are linked through the nodes in turn, the run starts once every node is past
  its first placement pass, the devices are spread (none above its fair share) and all
  online; the API calls go round-robin over the nodes and the CPU is summed over all nodes'
  process trees. `--nodes 1` is one node with the same settings, the baseline for N
  (`benchmarks/nodes.py` runs both, interleaved).
- The client runs in this process on the default asyncio event loop; on a small machine the
  client, the receiver and the server share the cores (the CPU columns show who used what).
- Traffic is loopback only. Every subprocess is stopped and the temp dir removed on exit,
  Ctrl-C or error (`--keep-data` keeps the data dir and server log).

Run: `.venv/bin/python benchmarks/messaging.py [--quick]` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from floor import WebhookFloor, ceilings, measure_webhook_floor
from loopback import HOST, bound_socket, cpu_seconds, serve_until_stopped, tree_cpu_seconds

HOOK_PATH = "/hooks/wa"
FLOOR_PATH = "/floor"  # the webhook floor's POSTs: answered, not recorded
WAGATEWAY = Path(sys.executable).parent / "wagateway"
PG_ADMIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REQUEST_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 60.0

SERVER_ENV = {
    "WAGW_SANDBOX_TIME_SCALE": "0",  # receipts follow at once
    "WAGW_PACING_RATE_PER_SECOND": "0",  # unpaced
    "WAGW_OUTBOUND_ALLOWLIST": "127.0.0.0/8",  # the receiver is on loopback
    "WAGW_LOG_LEVEL": "warning",
    "WAGW_WEBHOOK_POLL_INTERVAL": "0.2",
    "WAGW_SEND_POLL_INTERVAL": "0.2",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _ignore_sigint() -> None:
    # Children are stopped by the parent, in order; Ctrl-C in the terminal must not race it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- webhook receiver (child process) ----------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []  # (unix time, event name)
        self.read: dict[str, float] = {}  # message_id -> first `read` receipt arrival
        self.failed: dict[str, str] = {}  # message_id -> error code of a `failed` receipt
        self.request_ids: set[str] = set()
        self.duplicates = 0
        self.bad_bodies = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        try:
            event = json.loads(body)
            name = str(event.get("event"))
            payload = event.get("payload") or {}
        except (ValueError, AttributeError):
            self.bad_bodies += 1
            return web.Response(text="ok")
        self.arrivals.append((now, name))
        request_id = event.get("request_id") or request.headers.get("X-WA-Request-ID")
        if request_id:
            if request_id in self.request_ids:
                self.duplicates += 1
            self.request_ids.add(request_id)
        if name == "receipt" and isinstance(payload, dict):
            message_id = payload.get("message_id")
            status = payload.get("status")
            if message_id and status == "read":
                self.read.setdefault(message_id, now)
            elif message_id and status == "failed":
                error = payload.get("error") or {}
                self.failed.setdefault(message_id, str(error.get("code", "unknown")))
        return web.Response(text="ok")

    async def stats(self, request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        until = float(request.query.get("until", "inf"))
        events: dict[str, int] = {}
        window = 0
        for at, name in self.arrivals:
            if since <= at <= until:
                window += 1
                events[name] = events.get(name, 0) + 1
        return web.json_response(
            {
                "posts": len(self.arrivals),
                "window_posts": window,
                "window_events": events,
                "read": len(self.read),
                "failed": len(self.failed),
                "duplicates": self.duplicates,
                "bad_bodies": self.bad_bodies,
            }
        )

    async def reads(self, request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        read = self.read if since <= 0 else {m: t for m, t in self.read.items() if t >= since}
        return web.json_response({"read": read, "failed": self.failed})


async def _floor_hook(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")


async def _serve_receiver(port_conn: Connection, stop: MpEvent) -> None:
    recorder = _Recorder()
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post(HOOK_PATH, recorder.hook)
    app.router.add_post(FLOOR_PATH, _floor_hook)
    app.router.add_get("/stats", recorder.stats)
    app.router.add_get("/reads", recorder.reads)
    await serve_until_stopped(app, port_conn, stop)


def _receiver_main(port_conn: Connection, stop: MpEvent) -> None:
    _ignore_sigint()
    asyncio.run(_serve_receiver(port_conn, stop))


class Receiver:
    """The webhook receiver in its own process; use as a context manager."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self._parent_conn, self._child_conn = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_receiver_main,
            args=(self._child_conn, self._stop),
            name="webhook-receiver",
            daemon=True,
        )
        self.port = 0

    def __enter__(self) -> Receiver:
        self.process.start()
        self._child_conn.close()
        if not self._parent_conn.poll(30):
            self.__exit__()
            raise RuntimeError("the webhook receiver did not start within 30 s")
        self.port = int(self._parent_conn.recv())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + HOOK_PATH


# --- baseline: a bare ASGI app under uvicorn (child process) -----------------------------


async def hello_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest useful ASGI app: read the request body, answer 200 "hello"."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


def _baseline_main(port_conn: Connection) -> None:
    _ignore_sigint()
    import uvicorn

    sock = bound_socket()
    port_conn.send(sock.getsockname()[1])
    port_conn.close()
    # The settings `wagateway serve` passes to uvicorn.run; the rest are uvicorn's defaults.
    config = uvicorn.Config(
        hello_app, log_config=None, access_log=False, lifespan="off", log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])


class BaselineServer:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._parent_conn, self._child_conn = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_baseline_main, args=(self._child_conn,), name="baseline-asgi", daemon=True
        )
        self.port = 0

    def __enter__(self) -> BaselineServer:
        self.process.start()
        self._child_conn.close()
        if not self._parent_conn.poll(30):
            self.__exit__()
            raise RuntimeError("the baseline server did not start within 30 s")
        self.port = int(self._parent_conn.recv())
        _wait_http(f"http://{HOST}:{self.port}/", lambda: not self.process.is_alive(), 30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hello"


def _wait_http(url: str, died: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if died():
            raise RuntimeError(f"the server for {url} exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


# --- the gateway (subprocess) ------------------------------------------------------------


async def _pg_execute(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Gateway:
    data_dir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGW_")}
        env.update(SERVER_ENV)
        env["WAGW_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["WAGW_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(WAGATEWAY), "serve", "--host", HOST, "--port", str(self.port)],
                env=self.env,
                cwd=self.data_dir,  # no stray `.env` from the caller's directory
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches this script only; it stops the server
            )

        def died() -> bool:
            return self.proc is not None and self.proc.poll() is not None

        try:
            _wait_http(self.base_url + "/health", died, SERVER_START_TIMEOUT_S)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- server log ---\n{self.logs()[-3000:]}") from exc

    def create_app(self, name: str, webhook_url: str) -> dict[str, str]:
        result = subprocess.run(
            [str(WAGATEWAY), "apps", "create", name, "--webhook-url", webhook_url, "--json"],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"wagateway apps create failed: {result.stderr[-2000:]}")
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- several nodes (issue 20): one PostgreSQL database, one S3 media store ---------------

S3_BUCKET = "wagw-bench-media"


@contextlib.contextmanager
def s3_media_store() -> Iterator[dict[str, str]]:
    """moto's S3 server on a loopback port (in this process, a thread), with a bucket: the
    one media store every node must share. Yields the nodes' WAGW_ settings for it."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - the dev venv has both
        raise RuntimeError(f"several nodes need boto3 and moto (the S3 stand-in): {exc}") from exc
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://{HOST}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - moto's, loopback only
        ).create_bucket(Bucket=S3_BUCKET)
        yield {
            "WAGW_MEDIA_STORE": "s3",
            "WAGW_S3_BUCKET": S3_BUCKET,
            "WAGW_S3_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "WAGW_S3_ENDPOINT_URL": endpoint,
            "WAGW_S3_ACCESS_KEY_ID": "bench",
            "WAGW_S3_SECRET_ACCESS_KEY": "bench",
        }
    finally:
        server.stop()


def cluster_env(stack: contextlib.ExitStack) -> dict[str, str]:
    """What every node of one gateway shares besides the database: the master key and the
    media store (started here, stopped when `stack` closes)."""
    env = stack.enter_context(s3_media_store())
    env["WAGW_SECRET_KEY"] = uuid.uuid4().hex + uuid.uuid4().hex
    return env


def start_nodes(
    stack: contextlib.ExitStack,
    root: Path,
    database_url: str,
    count: int,
    env: dict[str, str],
) -> list[Gateway]:
    """`count` gateways on one database, each with its own data dir and port, each stopped
    when `stack` closes. The first starts alone (it migrates a fresh database), the others
    after it answers."""
    nodes: list[Gateway] = []
    for n in range(count):
        node = Gateway(root / f"node-{n}", database_url, dict(env))
        stack.callback(node.stop)
        node.start()
        nodes.append(node)
    return nodes


def _node_health(node: Gateway) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(node.base_url + "/health", timeout=5) as r:  # noqa: S310
            return dict(json.loads(r.read()))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"error": str(exc)}


def devices_owned(node: Gateway) -> int | None:
    """`checks.cluster.devices_owned` of one node's /health (None: no answer)."""
    cluster = _node_health(node).get("checks", {}).get("cluster", {})
    owned = cluster.get("devices_owned")
    return int(owned) if owned is not None else None


async def wait_spread(
    api: aiohttp.ClientSession,
    nodes: Sequence[Gateway],
    device_ids: Sequence[str],
    timeout: float = 120.0,
    settle: float = 5.0,
) -> tuple[list[int], float]:
    """Wait until no node is `restoring`, the nodes together own every device, none more
    than its fair share (rounded up), every device is online, and that has held for
    `settle` seconds (rebalancing follows heartbeats, lease / 4 apart). Returns the spread
    and the seconds it took."""
    started = time.monotonic()
    share = math.ceil(len(device_ids) / len(nodes))
    stable_since: float | None = None
    last: list[int | None] = []
    while True:
        healths = await asyncio.gather(*(asyncio.to_thread(_node_health, n) for n in nodes))
        spread = [h.get("checks", {}).get("cluster", {}).get("devices_owned") for h in healths]
        restoring = any(h.get("restoring", True) for h in healths)
        ok = (
            not restoring
            and all(isinstance(o, int) and o <= share for o in spread)
            and sum(o for o in spread if isinstance(o, int)) == len(device_ids)
        )
        if ok:
            base = nodes[0].base_url
            for device_id in device_ids:
                async with api.get(f"{base}/devices/{device_id}") as r:
                    device = await r.json()
                if device.get("status") != "connected" or device.get("connection") != "online":
                    ok = False
                    break
        now = time.monotonic()
        if ok and spread == last and stable_since is not None:
            if now - stable_since >= settle:
                return [int(o or 0) for o in spread], now - started
        elif ok:
            stable_since = now
        else:
            stable_since = None
        last = spread
        if now - started > timeout:
            raise RuntimeError(
                f"devices not spread and online after {timeout:g} s: owned {spread}, "
                f"restoring {[h.get('restoring') for h in healths]}"
            )
        await asyncio.sleep(0.5)


# --- PostgreSQL backends' CPU ------------------------------------------------------------


async def pg_backend_pids(admin_url: str, database: str) -> list[int]:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def pg_backend_cpu(admin_url: str, database: str) -> dict[int, float]:
    """CPU seconds of each server process connected to `database` (PostgreSQL on this
    machine: /proc). A backend that exits between two samples takes its CPU with it."""
    return {
        pid: cpu
        for pid in await pg_backend_pids(admin_url, database)
        if (cpu := cpu_seconds(pid)) is not None
    }


def pg_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def nodes_cpu(nodes: Sequence[Gateway]) -> tuple[float | None, float | None]:
    """(all processes of all nodes, the server processes alone), CPU seconds."""
    tree = own = 0.0
    for node in nodes:
        assert node.proc is not None
        t, o = tree_cpu_seconds(node.proc.pid), cpu_seconds(node.proc.pid)
        if t is None or o is None:
            return None, None
        tree += t
        own += o
    return tree, own


# --- percentiles and results -------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Sent:
    index: int
    device_id: str
    scheduled: float  # unix time the schedule wanted it sent (load mode) or its POST start
    started: float  # unix time the POST began
    accepted: float = math.nan  # unix time its 202 arrived
    message_id: str = ""
    status: int = 0
    error: str = ""


@dataclass
class BaselineResult:
    ok: int
    errors: int
    seconds: float
    server_cpu: float | None
    client_cpu: float = math.nan  # this process (the load client) during the round

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


@dataclass
class GatewayResult:
    mode: str
    target_rate: float | None
    sent: list[Sent]
    reads: dict[str, float]
    failed: dict[str, str]
    webhooks: int
    webhook_events: dict[str, int]
    duplicates: int
    timed_out: bool
    waited: float
    server_cpu: float | None
    server_own_cpu: float | None  # the server process alone, without its children
    max_in_flight: int
    stuck_sample: list[str]
    nodes_owned: list[int] = field(default_factory=list)  # devices per node (several nodes)
    spread_seconds: float = math.nan  # linked to spread and online
    pg_cpu: float | None = None  # PostgreSQL backends of the benchmark's database

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.message_id]

    @property
    def first_post(self) -> float:
        return min(s.started for s in self.sent)

    @property
    def last_accept(self) -> float:
        return max((s.accepted for s in self.accepted), default=math.nan)

    @property
    def read_times(self) -> list[float]:
        return [self.reads[s.message_id] for s in self.accepted if s.message_id in self.reads]

    @property
    def last_read(self) -> float:
        return max(self.read_times, default=math.nan)


# --- the client side ---------------------------------------------------------------------


def _session(limit: int, token: str | None = None) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        headers=headers,
        trust_env=False,
    )


async def run_baseline(
    url: str, requests: int, concurrency: int, pid: int, rounds: int
) -> BaselineResult:
    """`rounds` timed rounds of `requests` POSTs each, after a warm-up; the median round by
    rate is returned (one round of 1000 requests lasts well under a second, so it is noisy)."""
    body = {"to": "+6281300000001", "text": "bench message 0"}
    results: list[BaselineResult] = []
    async with _session(concurrency, token="wag_" + "x" * 40) as session:

        async def one() -> bool:
            try:
                async with session.post(url, json=body) as response:
                    await response.read()
                    return response.status == 200
            except (aiohttp.ClientError, OSError, TimeoutError):
                return False

        await asyncio.gather(*(one() for _ in range(2 * concurrency)))  # warm-up, not timed
        for _round in range(rounds):
            remaining = requests
            ok = errors = 0
            cpu_before = cpu_seconds(pid)
            client_before = time.process_time()
            started = time.perf_counter()

            async def worker() -> None:
                nonlocal remaining, ok, errors
                while remaining > 0:
                    remaining -= 1
                    if await one():
                        ok += 1
                    else:
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - started
            cpu_after = cpu_seconds(pid)
            cpu = (
                cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
            )
            client_cpu = time.process_time() - client_before
            results.append(BaselineResult(ok, errors, seconds, cpu, client_cpu))
    results.sort(key=lambda r: r.rate)
    return results[len(results) // 2]


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def _link_device(
    api: aiohttp.ClientSession, base: str, index: int, phone: str
) -> dict[str, Any]:
    """Create a device and scan its QR. At time scale 0 a QR window is only ~2 s, so a scan
    that misses retries with the device's current QR (or a fresh one)."""
    async with api.post(f"{base}/devices", json={"device_name": f"bench-{index:04d}"}) as r:
        created = await r.json()
        if r.status != 201:
            raise RuntimeError(f"POST /devices answered {r.status}: {created}")
    device_id = created["device_id"]
    qr = created.get("qr")
    last: Any = created
    for _attempt in range(10):
        if qr:
            async with api.post(f"{base}/sandbox/scan", json={"qr": qr, "phone": phone}) as r:
                last = await r.json()
                if r.status == 200 and last.get("status") == "connected":
                    return dict(last)
        async with api.get(f"{base}/devices/{device_id}") as r:
            last = await r.json()
        if last.get("status") == "connected":
            return dict(last)
        if last.get("status") == "qr_generated" and last.get("qr") and last["qr"] != qr:
            qr = last["qr"]
            continue
        async with api.post(f"{base}/devices/{device_id}/qr") as r:
            last = await r.json()
            qr = last.get("qr") if r.status == 200 else None
        await asyncio.sleep(0.1)
    raise RuntimeError(f"could not link device {device_id}: {last}")


def _recipient(index: int) -> str:
    # Sandbox recipients: numbers starting 999 are not on WhatsApp and numbers ending 00 never
    # read; these end in 1 and all read.
    return f"628130{index % 1_000_000:06d}1"


async def _post_message(api: aiohttp.ClientSession, base: str, item: Sent) -> None:
    body = {"to": _recipient(item.index), "text": f"bench message {item.index}"}
    item.started = time.time()
    try:
        async with api.post(f"{base}/devices/{item.device_id}/messages", json=body) as r:
            answer = await r.read()
            item.status = r.status
            if r.status == 202:
                item.accepted = time.time()
                item.message_id = json.loads(answer)["message_id"]
            else:
                item.error = f"HTTP {r.status}: {answer[:200].decode(errors='replace')}"
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError) as exc:
        item.error = f"{type(exc).__name__}: {exc}"


async def _wait_reads(
    hooks: aiohttp.ClientSession,
    receiver_base: str,
    message_ids: set[str],
    timeout: float,
    progress: bool,
) -> tuple[dict[str, float], dict[str, str], bool]:
    """Poll the receiver until every message has a read (or failed) receipt, or timeout."""
    deadline = time.monotonic() + timeout
    last_print = time.monotonic()
    while True:
        data = await _get_json(hooks, receiver_base + "/reads")
        reads = {m: t for m, t in data["read"].items() if m in message_ids}
        failed = {m: c for m, c in data["failed"].items() if m in message_ids}
        if len(reads) + len(failed) >= len(message_ids):
            return reads, failed, False
        if time.monotonic() >= deadline:
            return reads, failed, True
        if progress and time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            print(f"  ... {len(reads)}/{len(message_ids)} read receipts so far", flush=True)
        await asyncio.sleep(0.1)


async def link_devices(
    api: aiohttp.ClientSession, bases: Sequence[str], count: int, phone_prefix: str = "62812000"
) -> list[str]:
    """Create and link `count` devices, device i through node i mod len(bases) (a pairing
    window lives in the node that opened it: the scan goes to the same node)."""
    devices: list[str] = []
    for i in range(count):
        base = bases[i % len(bases)]
        linked = await _link_device(api, base, i, f"{phone_prefix}{i + 1:05d}")
        devices.append(linked["device_id"])
    return devices


async def wait_connected_webhooks(
    hooks: aiohttp.ClientSession, receiver: Receiver, count: int, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        stats = await _get_json(hooks, receiver.base_url + "/stats")
        if stats["window_events"].get("device_connected", 0) >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"device_connected webhooks missing after {timeout:g} s: {stats}")
        await asyncio.sleep(0.1)


async def warm_up(
    api: aiohttp.ClientSession,
    hooks: aiohttp.ClientSession,
    bases: Sequence[str],
    receiver: Receiver,
    devices: Sequence[str],
) -> None:
    """One message per device (through the nodes in turn), its read receipt awaited."""
    warm = [Sent(-1 - i, d, 0.0, 0.0) for i, d in enumerate(devices)]
    await asyncio.gather(
        *(_post_message(api, bases[i % len(bases)], w) for i, w in enumerate(warm))
    )
    bad = [w.error for w in warm if not w.message_id]
    if bad:
        raise RuntimeError(f"warm-up sends failed: {bad[:3]}")
    _, _, warm_timed_out = await _wait_reads(
        hooks, receiver.base_url, {w.message_id for w in warm}, 60, False
    )
    if warm_timed_out:
        raise RuntimeError("warm-up messages got no read receipt within 60 s")


async def run_gateway(
    args: argparse.Namespace,
    gateways: Sequence[Gateway],
    receiver: Receiver,
    pg_admin: tuple[str, str] | None = None,
) -> GatewayResult:
    """The measured run against one gateway, or several nodes of one (the API calls go to
    them in turn). `pg_admin` = (admin URL, database name) also measures the CPU of the
    database's PostgreSQL backends."""
    gateway = gateways[0]
    creds = gateway.create_app("messaging benchmark", receiver.url)
    bases = [g.base_url for g in gateways]
    base = gateway.base_url
    limit = args.concurrency if args.load_fraction is None else max(args.concurrency, 512)
    nodes_owned: list[int] = []
    spread_seconds = math.nan
    async with (
        _session(limit, token=creds["app_token"]) as api,
        _session(4) as hooks,
    ):
        # Setup: devices, linked; wait for their device_connected webhooks so the measured
        # window starts with a quiet outbox.
        linking = time.monotonic()
        devices = await link_devices(api, bases, args.devices)
        if args.nodes is not None:
            nodes_owned, _ = await wait_spread(api, gateways, devices)
            spread_seconds = time.monotonic() - linking
        await wait_connected_webhooks(hooks, receiver, args.devices)
        # Warm-up (not measured): one message per device, read receipt awaited.
        await warm_up(api, hooks, bases, receiver, devices)

        total = args.devices * args.messages
        items = [Sent(i, devices[i % len(devices)], 0.0, 0.0) for i in range(total)]
        in_flight = max_in_flight = 0

        async def tracked(item: Sent) -> None:
            nonlocal in_flight, max_in_flight
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                # Several nodes: the calls go to each in turn (any node accepts any call).
                await _post_message(api, bases[item.index % len(bases)], item)
            finally:
                in_flight -= 1

        cpu_before, own_cpu_before = nodes_cpu(gateways)
        pg_before = await pg_backend_cpu(*pg_admin) if pg_admin else None
        target_rate: float | None = None
        if args.load_fraction is None:
            queue = iter(items)

            async def worker() -> None:
                for item in queue:
                    await tracked(item)
                    item.scheduled = item.started

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        else:
            target_rate = args.load_fraction * args.rate
            loop = asyncio.get_running_loop()
            t0_loop = loop.time() + 0.05
            t0_wall = time.time() + (t0_loop - loop.time())
            tasks = []
            for item in items:
                due = t0_loop + item.index / target_rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                item.scheduled = t0_wall + item.index / target_rate
                tasks.append(asyncio.create_task(tracked(item)))
            await asyncio.gather(*tasks)

        accepted_ids = {s.message_id for s in items if s.message_id}
        wait_started = time.monotonic()
        reads, failed, timed_out = await _wait_reads(
            hooks, receiver.base_url, accepted_ids, args.timeout, True
        )
        waited = time.monotonic() - wait_started
        cpu_after, own_cpu_after = nodes_cpu(gateways)
        pg_after = await pg_backend_cpu(*pg_admin) if pg_admin else None

        first_post = min(s.started for s in items)
        last_read = max(reads.values(), default=time.time())
        stats = await _get_json(
            hooks, f"{receiver.base_url}/stats?since={first_post}&until={last_read}"
        )

        stuck_sample: list[str] = []
        if timed_out:
            missing = [s for s in items if s.message_id and s.message_id not in reads]
            for s in missing[:5]:
                url = f"{base}/devices/{s.device_id}/messages/{s.message_id}"
                try:
                    async with api.get(url) as r:
                        m = await r.json()
                    stuck_sample.append(
                        f"{s.message_id}: status={m.get('status')} error={m.get('error')}"
                    )
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                    stuck_sample.append(f"{s.message_id}: GET failed ({exc})")

    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    own_cpu = (
        own_cpu_after - own_cpu_before
        if own_cpu_before is not None and own_cpu_after is not None
        else None
    )
    return GatewayResult(
        mode="saturation" if target_rate is None else "open-loop",
        target_rate=target_rate,
        sent=items,
        reads=reads,
        failed=failed,
        webhooks=int(stats["window_posts"]),
        webhook_events=dict(stats["window_events"]),
        duplicates=int(stats["duplicates"]),
        timed_out=timed_out,
        waited=waited,
        server_cpu=cpu,
        server_own_cpu=own_cpu,
        max_in_flight=max_in_flight,
        stuck_sample=stuck_sample,
        nodes_owned=nodes_owned,
        spread_seconds=spread_seconds,
        pg_cpu=(
            pg_cpu_delta(pg_before, pg_after)
            if pg_before is not None and pg_after is not None
            else None
        ),
    )


# --- output ------------------------------------------------------------------------------


def _fmt_rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1000:.0f}"


def _print_ceilings(
    baseline: BaselineResult | None, floor: WebhookFloor | None, e2e_rate: float
) -> None:
    """What the HTTP work alone allows on this machine, so the end-to-end figure can be read
    against what is physically possible here, not only against the target."""
    if floor is None:
        return
    us = 1e6
    print(
        f"webhook floor: {floor.posts} bare signed POSTs to the receiver at {floor.rate:.0f}/s; "
        f"sender CPU {floor.sender_cpu_per_post * us:.0f} us/POST, receiver CPU "
        + (
            f"{floor.receiver_cpu_per_post * us:.0f} us/POST"
            if floor.receiver_cpu_per_post is not None
            else "n/a"
        )
    )
    if baseline is None or baseline.server_cpu is None or not baseline.ok:
        print("(no baseline: ceilings need the bare ASGI server's CPU per request)")
        return
    api = baseline.server_cpu / baseline.ok
    client = baseline.client_cpu / baseline.ok
    limit = ceilings(floor, api, client)
    print(
        f"bare ASGI: server CPU {api * us:.0f} us/request, client CPU {client * us:.0f} us/request"
    )
    print(
        f"ceiling from HTTP work alone (1 send + 4 webhooks, no database, no logic): "
        f"{limit.gateway_cpu_per_message * 1000:.2f} ms gateway CPU per message -> "
        f"one gateway process <= {limit.one_process:.0f} msg/s; all parties on "
        f"{os.cpu_count()} cores <= {limit.machine:.0f} msg/s"
    )
    if not math.isnan(e2e_rate):
        print(
            f"end to end reached {e2e_rate / limit.one_process * 100:.0f}% of the one-process "
            "ceiling"
        )


def _print_report(
    args: argparse.Namespace,
    baseline: BaselineResult | None,
    result: GatewayResult,
    floor: WebhookFloor | None = None,
) -> dict[str, Any]:
    """Prints the report; returns its figures (for `--result-json`)."""
    accepted = result.accepted
    n_acc = len(accepted)
    n_read = len(result.read_times)
    errors = len(result.sent) - n_acc
    accept_span = result.last_accept - result.first_post
    e2e_span = result.last_read - result.first_post
    accept_rate = n_acc / accept_span if accept_span > 0 else math.nan
    e2e_rate = n_read / e2e_span if e2e_span > 0 else math.nan
    hook_rate = result.webhooks / e2e_span if e2e_span > 0 else math.nan

    def cpu_pct(cpu: float | None, seconds: float) -> str:
        if cpu is None or not seconds or math.isnan(seconds):
            return "n/a"
        return f"{cpu / seconds * 100:.0f}%"

    header = (
        f"{'measure':<38} {'count':>7} {'errors':>7} {'seconds':>8} {'rate/s':>9} "
        f"{'server CPU':>10}"
    )
    print(header)
    print("-" * len(header))
    if baseline is not None:
        print(
            f"{'baseline: bare ASGI hello (median)':<38} {baseline.ok:>7} "
            f"{baseline.errors:>7} {baseline.seconds:>8.2f} {_fmt_rate(baseline.rate):>9} "
            f"{cpu_pct(baseline.server_cpu, baseline.seconds):>10}"
        )
    print(
        f"{'gateway: accepted (POST -> 202)':<38} {n_acc:>7} {errors:>7} "
        f"{accept_span:>8.2f} {_fmt_rate(accept_rate):>9} {'':>10}"
    )
    print(
        f"{'gateway: end to end (POST -> read)':<38} {n_read:>7} "
        f"{n_acc - n_read:>7} {e2e_span:>8.2f} {_fmt_rate(e2e_rate):>9} "
        f"{cpu_pct(result.server_cpu, e2e_span + 0.0):>10}"
    )
    print(
        f"{'gateway: webhooks received':<38} {result.webhooks:>7} {'':>7} "
        f"{e2e_span:>8.2f} {_fmt_rate(hook_rate):>9} {'':>10}"
    )
    print()

    lat_202 = [
        result.reads[s.message_id] - s.accepted for s in accepted if s.message_id in result.reads
    ]
    lat_sched = [
        result.reads[s.message_id] - s.scheduled for s in accepted if s.message_id in result.reads
    ]
    lat_api = [s.accepted - s.started for s in accepted]
    rows = [("POST -> 202 (API)", lat_api), ("202 -> read receipt", lat_202)]
    if result.mode == "open-loop":
        rows.append(("scheduled send -> read receipt", lat_sched))
    lheader = f"{'latency (ms)':<32} {'n':>6} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}"
    print(lheader)
    print("-" * len(lheader))
    for name, values in rows:
        print(
            f"{name:<32} {len(values):>6} {_ms(percentile(values, 50)):>7} "
            f"{_ms(percentile(values, 90)):>7} {_ms(percentile(values, 99)):>7} "
            f"{_ms(max(values, default=math.nan)):>7}"
        )
    print()

    if result.mode == "open-loop" and result.target_rate:
        lag = [s.started - s.scheduled for s in result.sent]
        offered = len(result.sent) / (max(s.started for s in result.sent) - result.first_post)
        print(
            f"open-loop: target {result.target_rate:.1f} msg/s "
            f"({args.load_fraction:g} x {args.rate:g}), offered {offered:.1f} msg/s, "
            f"send lag p99 {_ms(percentile(lag, 99))} ms, max in flight {result.max_in_flight}"
        )
    events = ", ".join(f"{k} {v}" for k, v in sorted(result.webhook_events.items()))
    print(f"webhooks in the window by event: {events or 'none'}")
    if result.nodes_owned:
        print(
            f"nodes: {len(result.nodes_owned)}, devices owned per node {result.nodes_owned} "
            f"(spread and all online {result.spread_seconds:.1f} s after linking began); "
            "API calls round-robin over the nodes; CPU below summed over all nodes"
        )
    if result.server_cpu is not None and n_read:
        print(
            f"gateway CPU (all its processes): {result.server_cpu:.1f} s for {n_read} messages "
            f"= {result.server_cpu / n_read * 1000:.1f} ms per message (sends to last receipt, "
            "including idle polling)"
        )
        if result.server_own_cpu is not None:
            children = result.server_cpu - result.server_own_cpu
            print(
                f"  of which the server process {result.server_own_cpu / n_read * 1000:.2f} ms "
                f"and its children (webhook worker, engine workers) "
                f"{children / n_read * 1000:.2f} ms per message"
            )
    if result.pg_cpu is not None and n_read:
        print(
            f"PostgreSQL backends of the benchmark database: {result.pg_cpu:.1f} s CPU = "
            f"{result.pg_cpu / n_read * 1000:.2f} ms per message (backends alive at the end)"
        )
    if baseline is not None and baseline.rate > 0 and not math.isnan(accept_rate):
        print(
            f"ratio accepted msg/s / baseline req/s = {accept_rate / baseline.rate:.3f} "
            f"({_fmt_rate(accept_rate)} / {_fmt_rate(baseline.rate)})"
        )
    _print_ceilings(baseline, floor, e2e_rate)
    print(
        f"summary: accepted {_fmt_rate(accept_rate)} msg/s, end to end {_fmt_rate(e2e_rate)} "
        f"msg/s, 202->read p50 {_ms(percentile(lat_202, 50))} ms / p99 "
        f"{_ms(percentile(lat_202, 99))} ms"
        + (f" at {result.target_rate:.1f} msg/s offered" if result.target_rate else "")
    )

    problems = []
    if errors:
        sample = next(s.error for s in result.sent if not s.message_id)
        codes: dict[str, int] = {}
        for s in result.sent:
            if not s.message_id:
                key = str(s.status or s.error.split(":")[0])
                codes[key] = codes.get(key, 0) + 1
        problems.append(f"{errors} sends not accepted {codes}; e.g. {sample}")
    if result.failed:
        problems.append(f"{len(result.failed)} messages got a failed receipt: {result.failed}")
    if result.timed_out:
        problems.append(
            f"timed out after {args.timeout:g} s: {n_acc - n_read - len(result.failed)} "
            "accepted messages still without a read receipt"
        )
        problems.extend("  " + line for line in result.stuck_sample)
    if result.duplicates:
        problems.append(f"{result.duplicates} webhook deliveries repeated a request_id")
    for problem in problems:
        print("WARNING: " + problem)
    return {
        "nodes": len(result.nodes_owned) or 1,
        "nodes_owned": result.nodes_owned,
        "spread_seconds": None if math.isnan(result.spread_seconds) else result.spread_seconds,
        "sent": len(result.sent),
        "accepted": n_acc,
        "read": n_read,
        "accepted_rate": accept_rate,
        "e2e_rate": e2e_rate,
        "api_p50_ms": percentile(lat_api, 50) * 1000,
        "api_p99_ms": percentile(lat_api, 99) * 1000,
        "read_p50_ms": percentile(lat_202, 50) * 1000,
        "read_p99_ms": percentile(lat_202, 99) * 1000,
        "cpu_ms_per_msg": (
            result.server_cpu / n_read * 1000 if result.server_cpu is not None and n_read else None
        ),
        "server_ms_per_msg": (
            result.server_own_cpu / n_read * 1000
            if result.server_own_cpu is not None and n_read
            else None
        ),
        "pg_ms_per_msg": (
            result.pg_cpu / n_read * 1000 if result.pg_cpu is not None and n_read else None
        ),
        "problems": problems,
    }


def _report_server_log(gateway: Gateway, name: str = "server") -> None:
    lines = [line for line in gateway.logs().splitlines() if line.strip()]
    if not lines:
        print(f"{name} log (level warning): empty")
        return
    print(f"{name} log (level warning): {len(lines)} lines; first ones:")
    for line in lines[:10]:
        print("  " + line[:300])


# --- command line ------------------------------------------------------------------------


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("WAGW_"):
        raise argparse.ArgumentTypeError("expected WAGW_NAME=value")
    return key, value


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="End-to-end throughput and latency of the messaging pipeline "
        "(real wagateway serve, sandbox engine, real webhook receiver)."
    )
    parser.add_argument("--devices", type=int, default=10, help="linked devices (default 10)")
    parser.add_argument(
        "--messages", type=int, default=100, help="messages per device (default 100)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="client workers sending (default 32)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for all read receipts after the last send (default 300)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 devices x 50 messages")
    db = parser.add_mutually_exclusive_group()
    db.add_argument(
        "--postgres",
        action="store_true",
        help="run the gateway on a fresh PostgreSQL database, dropped afterwards",
    )
    db.add_argument(
        "--database-url", default="", help="WAGW_DATABASE_URL for the gateway (default SQLite)"
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get("WAGW_TEST_POSTGRES_URL", PG_ADMIN_URL_DEFAULT),
        help=f"where --postgres creates its database (default {PG_ADMIN_URL_DEFAULT})",
    )
    parser.add_argument(
        "--load-fraction",
        type=float,
        default=None,
        help="open-loop mode: send at F x --rate msg/s instead of as fast as possible",
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="the full rate (msg/s) --load-fraction scales"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the bare ASGI baseline and the webhook floor",
    )
    parser.add_argument(
        "--baseline-rounds",
        type=int,
        default=3,
        help="timed baseline rounds of the same request count; the median is shown (default 3)",
    )
    parser.add_argument(
        "--server-env",
        type=_key_value,
        action="append",
        default=[],
        metavar="WAGW_NAME=VALUE",
        help="extra environment for the gateway (repeatable), e.g. WAGW_WEBHOOK_CONCURRENCY=64",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the temp data dir (and server log)"
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="run N gateway nodes on one PostgreSQL database (--postgres or a postgresql "
        "--database-url) with a shared S3 media store (moto, started here) and a shared "
        "master key; API calls go round-robin over the nodes. --nodes 1 is one node with the "
        "same settings: the baseline for N",
    )
    parser.add_argument(
        "--result-json", default="", help="also write the figures as JSON to this file"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.messages = 2, 50
    if args.devices < 1 or args.messages < 1 or args.concurrency < 1:
        parser.error("--devices, --messages and --concurrency must be at least 1")
    if args.baseline_rounds < 1:
        parser.error("--baseline-rounds must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.load_fraction is not None:
        if args.rate is None or args.rate <= 0:
            parser.error("--load-fraction needs a positive --rate")
        if args.load_fraction <= 0:
            parser.error("--load-fraction must be positive")
    elif args.rate is not None:
        parser.error("--rate is only used with --load-fraction")
    if args.nodes is not None:
        if args.nodes < 1:
            parser.error("--nodes must be at least 1")
        if not (args.postgres or args.database_url.startswith("postgresql")):
            parser.error("--nodes needs PostgreSQL: --postgres or a postgresql --database-url")
    return args


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database (dropped afterwards); a clear error when PostgreSQL does not answer."""
    name = f"wagw_bench_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_execute(admin_url, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # refused, timed out, auth, no such database: say which
        raise SystemExit(
            f"error: PostgreSQL at {admin_url} is unreachable ({type(exc).__name__}: {exc}); "
            "start it or pass --postgres-admin-url"
        ) from exc
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        try:
            asyncio.run(_pg_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # best effort: say so, leave it
            print(f"note: could not drop database {name}: {exc}", file=sys.stderr)


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    total = args.devices * args.messages
    backend = "postgresql (fresh db)" if args.postgres else (args.database_url or "sqlite")
    mode = (
        "saturation (as fast as the API accepts)"
        if args.load_fraction is None
        else f"open-loop at {args.load_fraction:g} x {args.rate:g} = "
        f"{args.load_fraction * args.rate:.1f} msg/s"
    )
    print(
        f"python {platform.python_version()} | aiohttp {aiohttp.__version__} | "
        f"cpus {os.cpu_count()} | client loop: default asyncio"
    )
    print(
        f"database {backend} | {args.devices} devices x {args.messages} messages = {total} "
        f"| concurrency {args.concurrency} | mode {mode}"
    )
    print(
        "server env: "
        + " ".join(f"{k}={v}" for k, v in {**SERVER_ENV, **dict(args.server_env)}.items())
    )

    with contextlib.ExitStack() as stack:
        try:
            baseline: BaselineResult | None = None
            if not args.no_baseline:
                with BaselineServer() as hello:
                    baseline = asyncio.run(
                        run_baseline(
                            hello.url,
                            total,
                            args.concurrency,
                            hello.process.pid or 0,
                            args.baseline_rounds,
                        )
                    )
            tmp = Path(tempfile.mkdtemp(prefix="wagw-bench-"))
            if args.keep_data:
                print(f"data dir (kept): {tmp}")
            else:
                stack.callback(shutil.rmtree, tmp, ignore_errors=True)
            database_url = args.database_url
            if args.postgres:
                database_url = stack.enter_context(postgres_database(args.postgres_admin_url))
            receiver = stack.enter_context(Receiver())
            floor = None
            if not args.no_baseline:
                floor = measure_webhook_floor(
                    receiver.base_url + FLOOR_PATH,
                    receiver.process.pid or 0,
                    posts=min(4 * total, 8000),
                )
            if args.nodes is None:
                gateway = Gateway(tmp / "data", database_url, dict(args.server_env))
                stack.callback(gateway.stop)
                gateway.start()
                gateways = [gateway]
            else:
                env = {**cluster_env(stack), **dict(args.server_env)}
                gateways = start_nodes(stack, tmp, database_url, args.nodes, env)
            print(
                f"gateway {' '.join(g.base_url for g in gateways)} | receiver {receiver.url}\n",
                flush=True,
            )
            pg_admin = (
                (args.postgres_admin_url, database_name(database_url)) if args.postgres else None
            )
            result = asyncio.run(run_gateway(args, gateways, receiver, pg_admin))
            for gateway in gateways:
                gateway.stop()
            figures = _print_report(args, baseline, result, floor)
            if args.result_json:
                Path(args.result_json).write_text(json.dumps(figures, indent=1))
            print()
            for n, gateway in enumerate(gateways):
                _report_server_log(gateway, "server" if len(gateways) == 1 else f"node {n}")
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
