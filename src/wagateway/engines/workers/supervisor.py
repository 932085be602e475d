"""The supervisor: starts worker processes, places devices on them, restarts the dead.

Placement: a device gets a worker when its session starts (`begin_pairing`, `restore`) and
keeps it until the session ends (`close`, `logout`, or an ending event); the least loaded
live worker with room takes it, and a new worker is started when all are full.

A worker that dies (a Go fatal error, an OOM kill, a bug) takes only its own devices with
it: calls in flight fail with `engine_unavailable`, each linked device is reported as
`ConnectionLost` and each pairing window as ended (its codes lived in the dead process).
The worker is started again after a back-off that grows with consecutive crashes (and
resets once a worker has stayed up a while), and its linked devices are restored from
their stored sessions. Devices on other workers never notice.
Starting, stopping and the back-off are the webhook worker's too: `core/child_process.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from contextvars import Context
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from wagateway.core.child_process import (
    RestartBackoff,
    end_process,
    python_module,
    spawn_child,
    stop_child,
)
from wagateway.engines.base import (
    Connected,
    ConnectionLost,
    EngineError,
    EngineEvent,
    EventSink,
    HistoryBatch,
    PairingWindowEnded,
    SessionEnded,
)
from wagateway.engines.workers import protocol

log = structlog.get_logger(__name__)

WORKERS_ALIVE = Gauge("wagateway_engine_workers_alive", "Live engine worker processes", ["engine"])
WORKER_RESTARTS = Counter(
    "wagateway_engine_worker_restarts_total", "Engine worker processes restarted", ["engine"]
)
WORKER_DEVICES = Gauge(
    "wagateway_engine_worker_devices", "Devices placed on engine workers", ["engine"]
)

DEFAULT_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STOP_GRACE = 10.0  # seconds a worker told to stop has to close its sessions


@dataclass
class _Session:
    epoch: int
    linked: bool  # restored after a worker restart; a pairing window cannot be


@dataclass
class _Worker:
    index: int
    backoff: RestartBackoff
    process: asyncio.subprocess.Process | None = None
    writer: asyncio.StreamWriter | None = None
    pid: int | None = None
    alive: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    devices: set[str] = field(default_factory=set)
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    # This process's events, in order; a restarted worker gets a new queue (and delivery
    # task), so nothing the dead one sent is dropped or overtaken by its successor's.
    events: asyncio.Queue[EngineEvent | None] = field(default_factory=asyncio.Queue)
    delivery: asyncio.Task[None] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    started_at: float = 0.0
    restarts: int = 0
    recycles: int = 0
    recycling: bool = False  # stopped on purpose: restart at once, not counted as a crash
    last_exit: str | None = None


class WorkerPool:
    def __init__(
        self,
        engine_name: str,
        backend: str,
        config: dict[str, Any],
        *,
        devices_per_worker: int = 50,
        call_timeout: float = 60.0,
        spawn_timeout: float = 30.0,
        restart_backoff: Sequence[float] = DEFAULT_BACKOFF,
        stable_after: float = 60.0,
        max_worker_fds: int | None = None,
        check_interval: float = 30.0,
    ) -> None:
        self.engine_name = engine_name
        self._backend = backend
        self._config = config
        self._per_worker = max(1, devices_per_worker)
        self._call_timeout = call_timeout
        self._spawn_timeout = spawn_timeout
        self._backoff = tuple(restart_backoff) or DEFAULT_BACKOFF
        self._stable_after = stable_after
        self._workers: list[_Worker] = []
        self._placement: dict[str, _Worker] = {}
        self._sessions: dict[str, _Session] = {}
        self._sink: EventSink | None = None
        self._history_writes: set[asyncio.Future[None]] = set()
        self._next_id = 0
        self._placing = asyncio.Lock()
        self._closing = False
        # A worker whose backend reports more open descriptors than this is recycled
        # (neonize leaks one per connect); None: never.
        self._max_fds = max_worker_fds
        self._check_interval = check_interval
        self._monitor: asyncio.Task[None] | None = None
        # Until when the workers may keep their sessions without hearing again (`hold_until`).
        self._hold_until: float | None = None
        self._hold_sends: set[asyncio.Task[None]] = set()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if self._max_fds is not None:
            self._monitor = asyncio.create_task(self._watch_descriptors(), context=Context())

    async def shutdown(self) -> None:
        """Stop every worker (their backends close sessions without logging out)."""
        self._closing = True
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        await asyncio.gather(*(self._stop_worker(w) for w in self._workers))
        self._update_gauges()

    # --- calls ------------------------------------------------------------------------------

    async def call(
        self,
        device_id: str,
        op: str,
        args: dict[str, Any],
        *,
        timeout: float | None = None,
        place_anyway: bool = False,
    ) -> Any:
        """Run `op` for `device_id` on its worker (placing the device first when its session
        starts, or when `place_anyway`: e.g. erasing the stored session of a device that has
        no live one). Raises EngineError; `engine_unavailable` when the worker died."""
        starts_session = op in ("begin_pairing", "restore")
        worker = await self._worker_for(device_id, place=starts_session or place_anyway)
        if starts_session:
            self._sessions[device_id] = _Session(int(args["epoch"]), linked=op == "restore")
        try:
            result = await self._request(worker, op, {"device_id": device_id, **args}, timeout)
        except EngineError:
            if starts_session:
                self._end_session(device_id)
            raise
        if op in ("close", "logout"):
            self._end_session(device_id)
        return result

    def hold_until(self, deadline: float) -> None:
        """Tell every worker until when (`time.monotonic()`) it may keep its sessions open:
        one that hears nothing newer closes them by itself then (several nodes, CONTRACT
        §9: its gateway froze or lost its database, and cannot close them itself)."""
        self._hold_until = deadline
        for worker in self._workers:
            if worker.alive:
                self._send_hold(worker, deadline)

    def _send_hold(self, worker: _Worker, deadline: float) -> None:
        async def send() -> None:
            with contextlib.suppress(EngineError):
                await self._request(worker, protocol.HOLD_UNTIL, {"deadline": deadline}, 2.0)

        task = asyncio.create_task(send(), name="worker-hold", context=Context())
        self._hold_sends.add(task)
        task.add_done_callback(self._hold_sends.discard)

    async def ping(self) -> list[bool]:
        answers = []
        for worker in list(self._workers):
            try:
                answers.append(await self._request(worker, "ping", {}, 5.0) == "pong")
            except EngineError:
                answers.append(False)
        return answers

    async def backend_health(self, timeout: float = 2.0) -> list[Any]:
        """Each worker's own `health()` (its backend's view), in worker order; None for a
        worker that is down or does not answer within `timeout`."""
        answers: list[Any] = []
        for worker in list(self._workers):
            try:
                answers.append(await self._request(worker, "health", {}, timeout))
            except EngineError:
                answers.append(None)
        return answers

    def health(self) -> dict[str, Any]:
        return {
            "workers": [
                {
                    "index": w.index,
                    "pid": w.pid,
                    "alive": w.alive,
                    "devices": len(w.devices),
                    "restarts": w.restarts,
                    "recycles": w.recycles,
                    "last_exit": w.last_exit,
                }
                for w in self._workers
            ],
            "devices": len(self._placement),
        }

    def worker_pid(self, device_id: str) -> int | None:
        worker = self._placement.get(device_id)
        return worker.pid if worker else None

    async def _worker_for(self, device_id: str, *, place: bool) -> _Worker:
        async with self._placing:
            worker = self._placement.get(device_id)
            if worker is None:
                if not place:
                    raise EngineError("not_connected", "the device has no live session")
                worker = await self._least_loaded()
                worker.devices.add(device_id)
                self._placement[device_id] = worker
                self._update_gauges()
        if not worker.ready.is_set():  # being restarted: wait for it (or give up)
            try:
                await asyncio.wait_for(worker.ready.wait(), self._spawn_timeout)
            except TimeoutError:
                raise EngineError("engine_unavailable", "the engine worker is restarting") from None
        return worker

    async def _least_loaded(self) -> _Worker:
        candidates = [w for w in self._workers if len(w.devices) < self._per_worker]
        if candidates:
            return min(candidates, key=lambda w: (not w.alive, len(w.devices)))
        worker = _Worker(len(self._workers), RestartBackoff(self._backoff, self._stable_after))
        await self._spawn(worker)  # raises engine_unavailable: nothing placed, nothing kept
        self._workers.append(worker)
        return worker

    def _end_session(self, device_id: str) -> None:
        self._sessions.pop(device_id, None)
        worker = self._placement.pop(device_id, None)
        if worker is not None:
            worker.devices.discard(device_id)
        self._update_gauges()

    async def _request(
        self, worker: _Worker, op: str, args: dict[str, Any], timeout: float | None
    ) -> Any:
        if not worker.alive or worker.writer is None:
            raise EngineError("engine_unavailable", "the engine worker is not running")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = future
        writer = worker.writer

        async def exchange() -> Any:
            protocol.write_frame(
                writer, {"id": request_id, "op": op, "args": protocol.encode(args)}
            )
            await writer.drain()
            return await future

        try:
            # The write counts against the timeout too: a worker that stops reading its socket
            # (wedged, or being recycled) must not hold the caller past it.
            return await asyncio.wait_for(exchange(), timeout or self._call_timeout)
        except TimeoutError:
            raise EngineError(
                "engine_timeout", f"the engine worker did not answer {op} in time"
            ) from None
        except (ConnectionError, RuntimeError) as exc:
            raise EngineError("engine_unavailable", f"the engine worker is gone: {exc}") from exc
        finally:
            worker.pending.pop(request_id, None)

    # --- worker processes -------------------------------------------------------------------

    async def _spawn(self, worker: _Worker) -> None:
        child = await spawn_child(
            python_module(
                "wagateway.engines.workers.host",
                "--backend",
                self._backend,
            ),
            capture_output=True,
            limit=protocol.MAX_FRAME_BYTES,
            # Not on the command line: the config may hold the session store's password.
            extra_env={protocol.CONFIG_VARIABLE: json.dumps(self._config)},
        )
        process, reader, writer = child.process, child.reader, child.writer
        worker.process, worker.writer, worker.pid = process, writer, child.pid
        worker.started_at = child.started_at
        worker.events = asyncio.Queue()
        # Fresh contexts: these tasks outlive the request that happened to start the worker.
        worker.tasks = [
            asyncio.create_task(
                self._forward_output(worker, process), name="worker-output", context=Context()
            )
        ]
        try:
            hello = await asyncio.wait_for(protocol.read_frame(reader), self._spawn_timeout)
            info = (hello or {}).get("hello") or {}
            if info.get("version") != protocol.PROTOCOL_VERSION:
                raise protocol.ProtocolError(f"worker speaks {info.get('version')!r}")
        except (TimeoutError, protocol.ProtocolError, ValueError) as exc:
            await end_process(process)
            worker.last_exit = f"did not start: {exc}"
            log.error("engine_worker_start_failed", engine=self.engine_name, error=str(exc))
            raise EngineError("engine_unavailable", "the engine worker did not start") from exc
        worker.alive = True
        worker.ready.set()
        if self._hold_until is not None:
            self._send_hold(worker, self._hold_until)
        worker.delivery = asyncio.create_task(
            self._deliver_events(worker.events), name="worker-events", context=Context()
        )
        worker.tasks += [
            asyncio.create_task(
                self._read(worker, reader, worker.events), name="worker-reader", context=Context()
            ),
            worker.delivery,
        ]
        self._update_gauges()
        log.info(
            "engine_worker_started", engine=self.engine_name, worker=worker.index, pid=worker.pid
        )

    async def _forward_output(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        # Engines print (whatsmeow's Go side writes to stdout): keep it, at debug level.
        assert process.stdout is not None
        async for line in process.stdout:
            log.debug(
                "engine_worker_output",
                engine=self.engine_name,
                worker=worker.index,
                line=line.decode(errors="replace").rstrip()[:2000],
            )

    async def _read(
        self,
        worker: _Worker,
        reader: asyncio.StreamReader,
        events: asyncio.Queue[EngineEvent | None],
    ) -> None:
        reason = "its connection closed"
        try:
            while True:
                frame = await protocol.read_frame(reader)
                if frame is None:
                    break
                if "event" in frame:
                    events.put_nowait(protocol.decode(frame["event"]))
                    continue
                future = worker.pending.get(frame.get("id", -1))
                if future is None or future.done():
                    continue
                if frame.get("ok"):
                    future.set_result(protocol.decode(frame.get("result")))
                else:
                    future.set_exception(protocol.error_of(frame.get("error") or {}))
        except (protocol.ProtocolError, ValueError, ConnectionError) as exc:
            reason = f"protocol error: {exc}"
        await self._on_death(worker, reason)

    async def _deliver_events(self, events: asyncio.Queue[EngineEvent | None]) -> None:
        """Events in the order the worker sent them, without holding up its answers."""
        while True:
            event = await events.get()
            if event is None:
                return
            self._track(event)
            if self._sink is None:
                continue
            if isinstance(event, HistoryBatch):
                # Taken in order by the call; written on the gateway's paced history lane
                # while this worker's other devices' events go on.
                written = asyncio.ensure_future(self._sink(event))
                self._history_writes.add(written)
                written.add_done_callback(self._history_written)
                continue
            try:
                await self._sink(event)
            except Exception:
                log.exception("engine_event_sink_failed", engine=self.engine_name)

    def _history_written(self, written: asyncio.Future[None]) -> None:
        self._history_writes.discard(written)
        if not written.cancelled() and written.exception() is not None:
            log.error(
                "engine_event_sink_failed", engine=self.engine_name, error=str(written.exception())
            )

    def _track(self, event: EngineEvent) -> None:
        session = self._sessions.get(event.device_id)
        if session is None or session.epoch != event.epoch:
            return
        if isinstance(event, Connected):
            session.linked = True
        elif isinstance(event, SessionEnded | PairingWindowEnded):
            self._end_session(event.device_id)

    async def _on_death(self, worker: _Worker, reason: str) -> None:
        worker.alive = False
        worker.ready.clear()
        if worker.process is not None:
            # Stopped on purpose: let it close its sessions first.
            grace = STOP_GRACE if self._closing or worker.recycling else 0.0
            code = await end_process(worker.process, grace)
            reason = f"{reason}; exit code {code}"
        worker.last_exit = reason
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(
                    EngineError("engine_unavailable", "the engine worker stopped; try again")
                )
        worker.events.put_nowait(None)  # deliver what it sent before dying, then stop
        self._update_gauges()
        if self._closing:
            return
        # Receipts and messages the dead worker sent reach the gateway before the news of
        # its death, and before anything its successor says.
        if worker.delivery is not None:
            await asyncio.gather(worker.delivery, return_exceptions=True)
        if not worker.recycling:
            log.error(
                "engine_worker_died", engine=self.engine_name, worker=worker.index, reason=reason
            )
        await self._report_losses(worker)
        await self._restart(worker)

    async def _report_losses(self, worker: _Worker) -> None:
        for device_id in sorted(worker.devices):
            session = self._sessions.get(device_id)
            if session is None:
                continue
            if session.linked:
                lost: EngineEvent = ConnectionLost(
                    device_id, session.epoch, error="engine worker restarted"
                )
            else:
                self._end_session(device_id)
                lost = PairingWindowEnded(device_id, session.epoch)
            if self._sink is not None:
                await self._sink(lost)

    async def _restart(self, worker: _Worker) -> None:
        worker.backoff.ran_for(time.monotonic() - worker.started_at)
        if worker.recycling:
            worker.recycling = False
            delay = 0.0
        else:
            delay = worker.backoff.next_delay()
        while not self._closing:
            await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                await self._spawn(worker)
                break
            except EngineError:
                delay = worker.backoff.next_delay()
        worker.restarts += 1
        WORKER_RESTARTS.labels(self.engine_name).inc()
        await self._restore_linked(worker)

    async def _restore_linked(self, worker: _Worker) -> None:
        for device_id in sorted(worker.devices):
            session = self._sessions.get(device_id)
            if session is None or not session.linked:
                continue
            try:
                await self._request(
                    worker, "restore", {"device_id": device_id, "epoch": session.epoch}, None
                )
            except EngineError as exc:
                self._end_session(device_id)
                if self._sink is not None:
                    await self._sink(
                        SessionEnded(
                            device_id, session.epoch, reason="engine_error", detail=exc.message
                        )
                    )

    async def _watch_descriptors(self) -> None:
        assert self._max_fds is not None
        while True:
            await asyncio.sleep(self._check_interval)
            # Workers are only ever appended: one started meanwhile waits for the next round.
            answers = await self.backend_health(5.0)
            for worker, own in zip(self._workers, answers, strict=False):
                if not worker.alive or worker.recycling:
                    continue
                fds = own.detail.get("open_fds") if own is not None else None
                if isinstance(fds, int) and fds > self._max_fds:
                    log.warning(
                        "engine_worker_recycled",
                        engine=self.engine_name,
                        worker=worker.index,
                        open_fds=fds,
                        limit=self._max_fds,
                    )
                    worker.recycling = True
                    worker.recycles += 1
                    if worker.writer is not None:
                        worker.writer.close()  # it shuts its backend down and exits

    async def _stop_worker(self, worker: _Worker) -> None:
        if worker.process is not None:
            # The worker sees the end of its socket and shuts down.
            await stop_child(worker.process, worker.writer, STOP_GRACE)
        elif worker.writer is not None:
            worker.writer.close()
        for task in worker.tasks:
            task.cancel()
        await asyncio.gather(*worker.tasks, return_exceptions=True)
        worker.alive = False

    def _update_gauges(self) -> None:
        WORKERS_ALIVE.labels(self.engine_name).set(sum(w.alive for w in self._workers))
        WORKER_DEVICES.labels(self.engine_name).set(len(self._placement))
