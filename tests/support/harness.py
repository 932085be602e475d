"""Real parts for end-to-end tests: a `wagateway serve` process on a loopback port, a real
HTTP webhook receiver, and a small API client."""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import itertools
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from wagateway.apps.service import create_app_as
from wagateway.audit.service import Actor
from wagateway.cli_context import CliContext, cli_context
from wagateway.core.settings import Settings
from wagateway.operators.service import create_operator_as

WAGATEWAY = str(Path(sys.executable).parent / "wagateway")
# One TLS context for every client the tests make: httpx builds one per client otherwise
# (its CA bundle loaded each time), which cost more CPU than the calls of most tests
# (benchmarks/README.md, "The test suite"). The tests speak plain HTTP on loopback.
LOOPBACK_TLS = ssl.create_default_context()


def loopback_client(**options: Any) -> httpx.Client:
    """An `httpx.Client` for the tests' loopback servers (`options` as httpx's)."""
    return httpx.Client(verify=LOOPBACK_TLS, **options)


def loopback_transport(source: str) -> httpx.HTTPTransport:
    """A transport that connects from the loopback address `source` (127.0.0.x)."""
    return httpx.HTTPTransport(local_address=source, verify=LOOPBACK_TLS)


T = TypeVar("T")
CLI_ACTOR = Actor("cli", "cli")  # who `wagateway` commands act as (cli.py's CLI)

_APPS_CREATE_OPTIONS = argparse.ArgumentParser(prog="wagateway apps create", exit_on_error=False)
_APPS_CREATE_OPTIONS.add_argument("--engine", default="sandbox")
_APPS_CREATE_OPTIONS.add_argument("--domain-url", default="")
_APPS_CREATE_OPTIONS.add_argument("--rotation-pin", default=None)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ replaced by `env` for the block (Settings reads its values from there)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# Ports for test servers come from a block of their own per pytest-xdist worker, below the
# kernel's ephemeral range (32768 and up on Linux): the kernel never hands these out to an
# outgoing connection, and two workers never pick the same one. Asking the kernel for a free
# port (bind to 0, close, reuse) races: another worker's bind to 0 may get the same number
# before the server that wanted it has started. Two test runs at once (two checkouts on one
# machine) start from different blocks, picked by the run's id.
_PORT_BLOCK_START = 10000
_PORT_BLOCK_SIZE = 1000
_PORT_BLOCKS = 22  # 10000..31999
_port_cursor = itertools.count()


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist
    return int(worker[2:]) + 1 if worker.startswith("gw") else 0


def _port_block() -> int:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    first_block = int(hashlib.sha256(run.encode()).hexdigest(), 16) % _PORT_BLOCKS if run else 0
    return (first_block + _worker_index()) % _PORT_BLOCKS


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` nobody listens on, from this worker's own block."""
    first = _PORT_BLOCK_START + _port_block() * _PORT_BLOCK_SIZE
    for _ in range(_PORT_BLOCK_SIZE):
        port = first + next(_port_cursor) % _PORT_BLOCK_SIZE
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:  # taken (a server of this worker still up, or another program)
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + _PORT_BLOCK_SIZE - 1}")


# How often wait_until looks: soon at first, then less and less often, up to this. Most checks
# are API requests, and a suite of tests polling a server 20 times a second spent a large part
# of its CPU (the server's and its own) answering them.
_WAIT_BACKOFF = 1.5
_WAIT_MAX_INTERVAL = 0.2


def wait_until(
    check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`.
    The pause starts at `interval` and grows to 0.2 s (or stays at a longer `interval`)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    pause = interval
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = max(interval, min(pause * _WAIT_BACKOFF, _WAIT_MAX_INTERVAL))
    last = check()  # once more at the deadline: the pause may have ended just past a change
    if last:
        return last
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last={last!r}")


# The admin API's token on every test server (tests/e2e/test_admin_api.py); a fixed test value.
TEST_ADMIN_TOKEN = "test-admin-token-" + "0123456789abcdef" * 2

# Fast but realistic timings for tests: QR window 8 s (3 s first code), quick retries.
TEST_ENV = {
    "WAGW_SANDBOX_TIME_SCALE": "0.05",
    "WAGW_WEBHOOK_RETRY_SCHEDULE": "0.5,1,1.5",
    "WAGW_WEBHOOK_TIMEOUT": "2",
    "WAGW_OUTBOUND_ALLOWLIST": "127.0.0.0/8",
    "WAGW_LOG_FORMAT": "json",
    "WAGW_QR_WAIT_TIMEOUT": "5",
    "WAGW_PACING_RATE_PER_SECOND": "0",  # unpaced unless a test sets pacing
    "WAGW_SEND_MEDIA_MAX_BYTES": str(1024 * 1024),  # 1 MiB keeps the 413 test quick
    "WAGW_MEDIA_MAX_BYTES": "200000",  # inbound cap, small so "too large" is testable
    "WAGW_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
}


# Every server this test process started, in order: a failed test's report carries the logs
# of those started while it ran (conftest.py), the only account of what a node did.
STARTED: list[GatewayServer] = []


@dataclass
class GatewayServer:
    data_dir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGW_")}
        env.update(TEST_ENV)
        env["WAGW_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["WAGW_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def cli(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [WAGATEWAY, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"wagateway {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result

    def in_process(self, work: Callable[[CliContext], Awaitable[T]]) -> T:
        """Run `work` as a `wagateway` command would, against this server's data dir and
        database, in this process: the same services without starting a Python process per
        call (most e2e tests make an app, every dashboard test an operator). The commands
        themselves are tested through `cli`."""
        with _environment(self.env):
            settings = Settings()  # type: ignore[call-arg]  # read from the server's environment

        async def run() -> T:
            async with cli_context(settings) as ctx:
                return await work(ctx)

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run())
        # Called from code that runs an event loop already (Playwright's sync API does).
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(asyncio.run, run()).result()

    def create_app(
        self, name: str = "test app", webhook_url: str = "", *extra: str
    ) -> dict[str, str]:
        """What `wagateway apps create NAME --webhook-url URL --json [extra…]` does, in process
        (`create_app_with_cli` runs the command)."""
        options = _APPS_CREATE_OPTIONS.parse_args(list(extra))

        async def create(ctx: CliContext) -> dict[str, str]:
            created = await create_app_as(
                ctx.db,
                ctx.box,
                CLI_ACTOR,
                name,
                options.engine,
                webhook_url,
                options.domain_url,
                options.rotation_pin,
            )
            return created.credentials()

        return self.in_process(create)

    def create_operator(self, email: str, password: str, *, admin: bool = False) -> str:
        """What `wagateway users create EMAIL [--admin]` does, in process."""

        async def create(ctx: CliContext) -> str:
            operator = await create_operator_as(
                ctx.db, ctx.settings, CLI_ACTOR, email, password, is_admin=admin
            )
            return operator.email

        return self.in_process(create)

    def create_app_with_cli(
        self, name: str = "test app", webhook_url: str = "", *extra: str
    ) -> dict[str, str]:
        out = self.cli("apps", "create", name, "--webhook-url", webhook_url, "--json", *extra)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start(self) -> GatewayServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "server.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process owns it
        self.proc = subprocess.Popen(
            [WAGATEWAY, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        STARTED.append(self)

        probe = loopback_client(timeout=1)

        def healthy() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.logs()[-3000:]}")
            try:
                answer = probe.get(self.base_url + "/health")
            except httpx.HTTPError:
                return False
            # Started means its devices are up too (a node answers while it restores them),
            # and its webhook worker (the node answers while that starts, too).
            body = answer.json()
            return (
                answer.status_code == 200
                and not body.get("restoring")
                and body["checks"]["webhook_dispatcher"]["ok"]
            )

        try:
            # Generous: a loaded machine (two test runs at once) can take half a minute.
            wait_until(healthy, timeout=60, interval=0.1, what="server health")
        except BaseException:
            self.stop()  # never leave a server behind that nobody will stop
            raise
        finally:
            probe.close()
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self) -> str:
        return (
            self.log_path.read_text(errors="replace")
            if self.log_path and self.log_path.exists()
            else ""
        )

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return loopback_client(base_url=self.base_url, headers=headers, timeout=20)


class SharedServers:
    """The default-settings gateway of each database backend, started once per test process
    (a server start costs more CPU than most tests) and stopped at its end."""

    def __init__(self, tmp_path_factory: Any) -> None:
        from tests.support.databases import provider_for

        self._tmp_path_factory = tmp_path_factory
        self._provider_for = provider_for
        self._servers: dict[str, tuple[GatewayServer, Any]] = {}
        self._failed: dict[str, str] = {}

    def get(self, backend: str) -> GatewayServer:
        if backend in self._failed:
            raise AssertionError(
                f"the shared {backend} server did not start: {self._failed[backend]}"
            )
        if backend not in self._servers:
            provider = self._provider_for(backend)
            data_dir = self._tmp_path_factory.mktemp(f"gw-shared-{backend}")
            try:
                gateway = GatewayServer(data_dir, provider.migrated_url(data_dir)).start()
            except AssertionError as exc:  # the next module fails at once, not after a minute
                self._failed[backend] = str(exc)
                provider.cleanup()
                raise
            self._servers[backend] = (gateway, provider)
        gateway = self._servers[backend][0]
        if gateway.proc is None or gateway.proc.poll() is not None:
            raise AssertionError(f"the shared {backend} server is gone:\n{gateway.logs()[-3000:]}")
        return gateway

    def stop(self) -> None:
        for gateway, provider in self._servers.values():
            gateway.stop()
            provider.cleanup()
        self._servers.clear()


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float
    peer: str = ""  # the address the request came from
    path: str = ""

    @functools.cached_property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # parsed once: tests scan thousands of deliveries


class WebhookReceiver:
    """A real HTTP server that records every POST; it can answer errors or be switched off.
    It also serves `media` on GET (a media URL for the gateway to fetch), recording each
    fetch. `host` is the loopback address it listens on (all of 127/8 reaches it on Linux)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.deliveries: list[Delivery] = []
        self.status = 200
        self.delay = 0.0  # seconds to stall before answering (a receiver caught mid-request)
        self.location = ""  # where a 3xx answer points (default: this receiver itself)
        self.media = b""  # what a GET answers with a 2xx status
        self.media_type = "application/octet-stream"  # its Content-Type
        self.fetches: list[Delivery] = []  # every GET
        self.seen: list[Delivery] = []  # every POST, whatever was answered
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/wa"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                delivery = Delivery(
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.time(),
                    self.client_address[0],
                    self.path,
                )
                status = receiver.status
                with receiver._lock:
                    receiver.seen.append(delivery)
                    if 200 <= status < 300:  # accepted on receipt, even if the answer stalls
                        receiver.deliveries.append(delivery)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location or receiver.url)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fetch = Delivery(
                    {k.lower(): v for k, v in self.headers.items()},
                    b"",
                    time.time(),
                    self.client_address[0],
                    self.path,
                )
                with receiver._lock:
                    receiver.fetches.append(fetch)
                status = receiver.status
                body = receiver.media if 200 <= status < 300 else b"no"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location or receiver.url)
                self.send_header("Content-Type", receiver.media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, device_id: str | None = None, event: str | None = None) -> list[Delivery]:
        with self._lock:
            found = list(self.deliveries)
        return [
            d
            for d in found
            if (device_id is None or d.json["device_id"] == device_id)
            and (event is None or d.json["event"] == event)
        ]

    def wait_for(
        self, device_id: str, event: str, count: int = 1, timeout: float = 15
    ) -> list[Delivery]:
        return wait_until(
            lambda: (found := self.events(device_id, event)) and len(found) >= count and found,
            timeout=timeout,
            what=f"{count}x {event} for {device_id}",
        )
