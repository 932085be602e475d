"""The history lane (devices/history_lane.py): batches written one at a time in the order
they were added, each followed by a rest in proportion to its write; a failed write fails
only its own batch; closing drops what was not written."""

from __future__ import annotations

import asyncio
import time

import pytest

from wagateway.devices import history_lane
from wagateway.devices.history_lane import HistoryLane
from wagateway.engines.base import HistoryBatch


def _batch(n: int) -> HistoryBatch:
    return HistoryBatch("dev", 1, messages=(), chats=n, progress=n)


def test_batches_are_written_in_order_one_at_a_time_with_rests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history_lane, "PAUSE_FACTOR", 2.0)

    async def main() -> None:
        spans: list[tuple[int, float, float]] = []

        async def write(batch: HistoryBatch) -> None:
            began = time.monotonic()
            await asyncio.sleep(0.02)
            if batch.chats == 2:
                raise RuntimeError("disk full")
            spans.append((batch.chats, began, time.monotonic()))

        lane = HistoryLane(write)
        written = [lane.add(_batch(n)) for n in range(4)]
        outcomes = await asyncio.gather(*written, return_exceptions=True)
        assert [type(o).__name__ for o in outcomes] == [
            "NoneType",
            "NoneType",
            "RuntimeError",
            "NoneType",
        ]
        assert [n for n, _, _ in spans] == [0, 1, 3]
        # each write began after the one before it ended and its rest (twice its length)
        for (_, _, ended), (_, began, _) in zip(spans, spans[1:], strict=False):
            assert began - ended >= 2 * 0.02 * 0.9
        # closing: the batch being written and the one waiting are given up, not left hanging
        await asyncio.sleep(0.1)  # past the last rest: the lane waits for work
        in_flight, waiting = lane.add(_batch(8)), lane.add(_batch(9))
        await asyncio.sleep(0.005)
        await lane.close()
        assert in_flight.cancelled() and waiting.cancelled()

    asyncio.run(main())
