"""The webhook dispatcher in a process of its own (`WAGW_WEBHOOK_PROCESS`, on by default).

Why: one Python process runs on one core, and at volume the gateway's process was the
bottleneck, a whole core busy while the machine's other core sat idle. Signing and POSTing
four webhooks per message, and writing their outcomes, was a large share of that process's
work (benchmarks/README.md, decisions log); here it runs beside it. The outbox is the only interface between them: the gateway
writes events, this process claims, delivers and records them (leases, order and retries are
the dispatcher's, unchanged). The two processes take turns writing SQLite through
`core.db.WritersLock`.

`WebhookProcess` (in the gateway) starts and supervises (`core/child_process.py`) `python -m
wagateway.delivery.worker_process --fd N`, and speaks to it over a socketpair in the
engine workers' frames (`engines/workers/protocol.py`):

- gateway → worker: `{"settings": {...}}` first, then `{"wake": 1}` after every commit that
  wrote events (polling remains the fallback);
- worker → gateway: `{"ready": 1}` once delivering, then twice a second
  `{"tick": {"healthy": bool, "attempts": {"success": n, "failure": n}, "latencies": [s]}}`,
  which keeps the gateway's `/health` and `/metrics` true.

Either end closing the socket stops the other: the gateway restarts a worker that died
(back-off 0.5 s → 30 s), and a worker whose gateway died (even by `kill -9`) finishes what
it is doing and exits. Leases it held are released by the next worker at its start, so an
event caught mid-POST goes out again with the same request_id, as after any crash.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time
from collections.abc import Callable
from contextvars import Context
from typing import Any

import structlog

from wagateway.core.child_process import (
    RestartBackoff,
    die_with_parent,
    end_process,
    python_module,
    spawn_child,
    stop_child,
    supervise,
)
from wagateway.core.db import Database
from wagateway.core.gc_tuning import settle_after_startup
from wagateway.core.logging import configure_logging
from wagateway.core.node import node_id  # the gateway's: its leases are ours
from wagateway.core.secrets import SecretBox, load_master_key
from wagateway.core.settings import Settings
from wagateway.delivery.dispatcher import Dispatcher, went_round_recently
from wagateway.delivery.http import WEBHOOK_ATTEMPTS, WEBHOOK_LATENCY, Outcome
from wagateway.engines.workers.protocol import read_frame, write_frame
from wagateway.media.links import MediaLinks
from wagateway.webhooks.outbox import on_commit_with_events

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
START_TIMEOUT = 60.0
RESTART_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # seconds, after crashes in a row
STABLE_AFTER = 60.0  # seconds up after which a crash counts as a first one
MAX_BUFFERED_WAKES = 64 * 1024  # bytes of wake frames not yet read: one more adds nothing


def runs_in_own_process(settings: Settings) -> bool:
    """On unless disabled, and only for a database another process can open."""
    return settings.webhook_process and ":memory:" not in settings.resolved_database_url


class WebhookProcess:
    """The gateway's side: the same surface as an in-process `Dispatcher`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._unregister: Callable[[], None] = lambda: None
        self._wake_queued = False
        self._ready = asyncio.Event()
        self._watch_start: asyncio.Task[None] | None = None
        self.last_loop_at = 0.0
        self._worker_healthy = False

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def healthy(self) -> bool:
        return (
            self.alive
            and self._worker_healthy
            and went_round_recently(self._settings, self.last_loop_at)
        )

    async def start(self) -> None:
        self._unregister = on_commit_with_events(self.wake)
        # A fresh context: the supervisor outlives whatever started the gateway.
        self._supervisor = asyncio.create_task(
            supervise(
                self._run_once,
                RestartBackoff(RESTART_BACKOFF, STABLE_AFTER),
                lambda: self._stopping,
                "webhook_process",
            ),
            name="webhook-process",
            context=Context(),
        )
        # Not waited for: the gateway answers while the worker starts (its events wait in
        # the outbox meanwhile, and `/health` says the dispatcher is not ready yet).
        self._watch_start = asyncio.create_task(self._say_if_never_ready(), context=Context())

    async def _say_if_never_ready(self) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), START_TIMEOUT)
        except TimeoutError:
            log.error("webhook_process_not_ready", timeout=START_TIMEOUT)

    def wake(self) -> None:
        """Tell the worker there are new events (once per turn of the loop, however many
        commits asked)."""
        if not self._wake_queued:
            self._wake_queued = True
            asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_queued = False
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        if writer.transport.get_write_buffer_size() < MAX_BUFFERED_WAKES:
            write_frame(writer, {"wake": 1})

    async def stop(self) -> None:
        self._stopping = True
        self._unregister()
        if self._process is not None:
            # End of stream: the worker finishes its deliveries and exits.
            await stop_child(self._process, self._writer, self._settings.webhook_timeout + 5)
        if self._watch_start is not None:
            self._watch_start.cancel()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

    async def _run_once(self) -> None:
        child = await spawn_child(python_module("wagateway.delivery.worker_process"))
        self._process, reader, writer = child.process, child.reader, child.writer
        self._writer = writer
        write_frame(writer, {"settings": self._settings.model_dump(mode="json")})
        await writer.drain()
        try:
            while (frame := await read_frame(reader)) is not None:
                if "tick" in frame:
                    self._on_tick(frame["tick"])
                elif "ready" in frame:
                    self._worker_healthy = True
                    self.last_loop_at = time.monotonic()
                    self._ready.set()
                    log.info("webhook_process_started", pid=child.pid)
        except (ConnectionError, ValueError) as exc:
            log.warning("webhook_process_stream_broken", error=str(exc))
        finally:
            self._writer = None
            writer.close()
            if self._stopping:
                await child.process.wait()  # `stop` gives it its grace
            else:
                await end_process(child.process)
            self._worker_healthy = False

    def _on_tick(self, tick: dict[str, Any]) -> None:
        self._worker_healthy = bool(tick.get("healthy"))
        if self._worker_healthy:
            self.last_loop_at = time.monotonic()
        for outcome, count in (tick.get("attempts") or {}).items():
            WEBHOOK_ATTEMPTS.labels(outcome).inc(count)
        for seconds in tick.get("latencies") or ():
            WEBHOOK_LATENCY.observe(seconds)


class _AttemptTally:
    """What the worker's dispatcher did since the last tick, for the gateway's metrics."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.latencies: list[float] = []

    def __call__(self, outcome: Outcome) -> None:
        key = "success" if outcome.succeeded else "failure"
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if outcome.latency_ms is not None:
            self.latencies.append(outcome.latency_ms / 1000)

    def take(self) -> dict[str, Any]:
        taken = {"attempts": self.attempts, "latencies": self.latencies}
        self.attempts, self.latencies = {}, []
        return taken


async def _serve(fd: int) -> None:
    gateway_pid = os.getppid()
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd))
    first = await read_frame(reader)
    if not first or "settings" not in first:
        return
    settings = Settings(**first["settings"])
    configure_logging(settings.log_level, settings.log_format)
    db = Database(settings.resolved_database_url, settings.database_read_pool_size)
    tally = _AttemptTally()
    master_key = load_master_key(settings.secret_key, settings.data_dir)
    dispatcher = Dispatcher(
        settings,
        db,
        SecretBox(master_key),
        node_id(settings.data_dir),
        on_attempt=tally,
        links=MediaLinks(master_key, settings.media_url_seconds, settings.public_base_url),
    )
    await dispatcher.start()
    settle_after_startup()
    write_frame(writer, {"ready": 1})

    async def report() -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if os.getppid() != gateway_pid:
                # Orphaned, yet the socket did not say so (its other end may live on in
                # another process): stop as if the gateway had closed it. Seen once after
                # a `kill -9` of the gateway, a worker that lingered for minutes.
                log.warning("webhook_process_orphaned", gateway_pid=gateway_pid)
                writer.close()
                reader.feed_eof()
                return
            write_frame(writer, {"tick": {"healthy": dispatcher.healthy, **tally.take()}})
            await writer.drain()

    reporter = asyncio.create_task(report(), name="webhook-process-ticks")
    try:
        while (frame := await read_frame(reader)) is not None:
            if "wake" in frame:
                dispatcher.wake()
    except (ConnectionError, ValueError):
        pass  # the gateway is gone: stop like on a clean close
    finally:
        reporter.cancel()
        try:
            # Bounded: the next worker releases whatever leases this one still holds, so
            # a shutdown that hangs must not keep an orphan alive.
            await asyncio.wait_for(_shut_down(dispatcher, db), settings.webhook_timeout + 10)
        except TimeoutError:
            log.error("webhook_process_shutdown_timed_out")


async def _shut_down(dispatcher: Dispatcher, db: Database) -> None:
    await dispatcher.stop()
    await db.dispose()


def main() -> None:
    die_with_parent()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop  # as `wagateway serve` runs (uvicorn picks it when installed)
    except ImportError:
        asyncio.run(_serve(args.fd))
    else:
        uvloop.run(_serve(args.fd))


if __name__ == "__main__":
    main()
