"""The lane imported history is written on (CONTRACT §8.4): one batch at a time, in the
order the engines handed them over, each followed by a pause in proportion to what its write
took, so an import uses a bounded share of the database writer and the event loop while
every other device's writes go on (`benchmarks/history_fairness.py` measures it).

A batch enters the lane when it is handed over (`add`, synchronous: the order is the order
of the calls) and its awaitable completes once it is written. An engine that awaits it (the
sandbox) is paced by the lane; the worker supervisor does not wait, so a worker's other
devices' events are not held up behind an import.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from wagateway.engines.base import HistoryBatch

log = structlog.get_logger(__name__)

# After a batch written in t seconds the lane rests PAUSE_FACTOR x t: an import keeps the
# writer (and the event loop) at most 1 / (1 + PAUSE_FACTOR) of the time.
PAUSE_FACTOR = 3.0


class HistoryLane:
    def __init__(self, write: Callable[[HistoryBatch], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: deque[tuple[HistoryBatch, asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, batch: HistoryBatch) -> asyncio.Future[None]:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((batch, written))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="history-lane")
        return written

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, written = self._waiting.popleft()
            began = time.monotonic()
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                written.cancel()
                raise
            except Exception as exc:
                if not written.done():
                    written.set_exception(exc)
            else:
                if not written.done():
                    written.set_result(None)
            await asyncio.sleep((time.monotonic() - began) * PAUSE_FACTOR)

    async def close(self) -> None:
        """Stop; batches not written yet are dropped (WhatsApp's history is not resent,
        so an import cut short by a shutdown stays short)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for _, written in self._waiting:
            written.cancel()
        if self._waiting:
            log.warning("history_batches_dropped_at_shutdown", batches=len(self._waiting))
        self._waiting.clear()
