"""A worker process: hosts one backend engine for many devices and serves the supervisor.

Run by the supervisor as
`python -m wagateway.engines.workers.host --fd N --backend module:factory`, its config (JSON)
in $WAGATEWAY_WORKER_CONFIG or `--config JSON`.
`factory(config)` returns the in-worker `Engine` (e.g. the whatsmeow backend). Requests are
handled concurrently (one device's slow connect must not hold up another's send); a backend
that must serialise some calls (whatsmeow's connect/stop) does so itself. When the
supervisor's end of the socket closes, the worker shuts its backend down and exits, so a
gateway that dies never leaves workers behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from wagateway.core.child_process import die_with_parent
from wagateway.core.gc_tuning import settle_after_startup
from wagateway.engines.base import Engine, EngineEvent
from wagateway.engines.workers import protocol

BackendFactory = Callable[[dict[str, Any]], Engine]


def load_factory(spec: str) -> Any:
    """The callable named by `module:attribute`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"backend must be 'module:factory', not {spec!r}")
    factory = getattr(importlib.import_module(module_name), attribute)
    if not callable(factory):
        raise ValueError(f"{spec} is not callable")
    return factory


class WorkerServer:
    def __init__(
        self, backend: Engine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._backend = backend
        self._reader = reader
        self._writer = writer
        self._tasks: set[asyncio.Task[None]] = set()
        self._write_lock = asyncio.Lock()
        self._hold_until: float | None = None  # None: not held to a time (one node)
        self._hold_changed = asyncio.Event()

    async def _send(self, frame: dict[str, Any]) -> None:
        async with self._write_lock:
            protocol.write_frame(self._writer, frame)
            await self._writer.drain()

    async def _sink(self, event: EngineEvent) -> None:
        await self._send({"event": protocol.encode(event)})

    async def serve(self) -> None:
        await self._backend.start(self._sink)
        await self._send(
            {
                "hello": {
                    "version": protocol.PROTOCOL_VERSION,
                    "backend": self._backend.name,
                    "pid": os.getpid(),
                }
            }
        )
        fence = asyncio.create_task(self._fence())
        try:
            while True:
                frame = await protocol.read_frame(self._reader)
                if frame is None:
                    return  # the supervisor is gone
                task = asyncio.create_task(self._handle(frame))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            fence.cancel()
            for task in list(self._tasks):
                task.cancel()
            await self._backend.shutdown()

    async def _fence(self) -> None:
        """Close every session once the hold lapses without a renewal (`HOLD_UNTIL`): the
        gateway stopped acting for them (or can no longer tell this worker to)."""
        while True:
            self._hold_changed.clear()
            remaining = None if self._hold_until is None else self._hold_until - time.monotonic()
            if remaining is not None and remaining <= 0:
                open_sessions: list[str] = list(getattr(self._backend, "open_sessions", list)())
                for device_id in open_sessions:
                    with contextlib.suppress(Exception):
                        await self._backend.close(device_id)
                if open_sessions:
                    print(
                        f"worker {os.getpid()}: hold lapsed, closed {len(open_sessions)} sessions",
                        file=sys.stderr,
                    )
                self._hold_until = None
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hold_changed.wait(), remaining)

    async def _handle(self, frame: dict[str, Any]) -> None:
        request_id = frame.get("id")
        op = frame.get("op")
        if not isinstance(request_id, int):
            return
        try:
            if op not in protocol.OPS and op != protocol.HOLD_UNTIL:
                raise protocol.ProtocolError(f"unknown op {op!r}")
            args = protocol.decode(frame.get("args") or {})
            if op == "ping":
                result: Any = "pong"
            elif op == protocol.HOLD_UNTIL:
                self._hold_until = float(args["deadline"])
                self._hold_changed.set()
                result = None
            elif op == "health":
                result = await self._backend.health()
            else:
                result = await getattr(self._backend, str(op))(**args)
            reply = {"id": request_id, "ok": True, "result": protocol.encode(result)}
        except Exception as exc:
            reply = protocol.error_frame(request_id, exc)
        await self._send(reply)


async def run(fd: int, factory: BackendFactory, config: dict[str, Any]) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock, limit=protocol.MAX_FRAME_BYTES)
    backend = factory(config)
    settle_after_startup()  # started with the collector off (core/child_process.py)
    await WorkerServer(backend, reader, writer).serve()
    writer.close()


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--config", default=os.environ.get(protocol.CONFIG_VARIABLE, "{}"))
    args = parser.parse_args(argv)
    # The supervisor decides when a worker ends (it closes the socket, then kills); Ctrl-C in
    # a terminal running the gateway must not kill workers before the gateway has closed
    # their sessions.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    factory: BackendFactory = load_factory(args.backend)
    asyncio.run(run(args.fd, factory, json.loads(args.config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
