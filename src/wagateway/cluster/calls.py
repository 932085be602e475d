"""Calls for a device carried to the node that holds it, through the database (CONTRACT §9:
any node answers any API call; engine calls reach the owner).

The caller writes the call (`node_calls`) for the device's owner process and signals it;
the owner takes its calls, carries out each (in the order written, per device), writes the
answer and signals back; the caller reads the answer and deletes the row. Signals only
save waiting: both sides poll as well, so a lost signal costs a poll's delay.

Waits are bounded: a call whose owner has not answered by the deadline is withdrawn if the
owner had not taken it yet (it will not happen), and reported as not answered either way
(`OwnerDidNotAnswer`, 408 `request_canceled`). Requests and answers are JSON objects; what
they mean is the engines' business (`engines/routed.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, insert, select, update

from wagateway.cluster.models import ClusterNode, DeviceOwner, NodeCall
from wagateway.cluster.ownership import Ownership
from wagateway.cluster.signals import Signals
from wagateway.core.db import Database, table_of, utcnow
from wagateway.core.errors import ApiError

log = structlog.get_logger(__name__)

CALLS_CHANNEL = "wagw_calls"  # payload: the owner process that has calls to take
ANSWERS_CHANNEL = "wagw_answers"  # payload: the id of a call answered
# Fallback polls, for signals lost while their connection was down.
ANSWER_POLL_SECONDS = 0.5
CALLS_POLL_SECONDS = 2.0
# Answers nobody read (their caller died) and calls nobody took are swept this long after
# their deadline.
SWEEP_AFTER = timedelta(seconds=60)
SWEEP_EVERY_SECONDS = 30.0

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class NoOwner(Exception):
    """No live node holds the device right now (it is moving, or nobody took it yet)."""


class OwnerDidNotAnswer(ApiError):
    def __init__(self, device_id: str, *, taken: bool) -> None:
        super().__init__(
            408,
            "request_canceled",
            "the node that holds the device did not answer in time"
            + ("; the action may still take effect" if taken else "; nothing was done"),
            {"device_id": device_id},
        )


class NodeCalls:
    def __init__(
        self, db: Database, signals: Signals, ownership: Ownership, *, timeout: float
    ) -> None:
        self._db = db
        self._signals = signals
        self._ownership = ownership
        self.timeout = timeout
        self.handler: Handler | None = None
        self._answered: dict[int, asyncio.Event] = {}
        self._calls_waiting = asyncio.Event()
        self._last_of_device: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        signals.subscribe(CALLS_CHANNEL, self._on_calls)
        signals.subscribe(ANSWERS_CHANNEL, self._on_answer)

    @property
    def enabled(self) -> bool:
        """Whether there can be other nodes to call (PostgreSQL)."""
        return self._signals.enabled

    # --- the caller's side ------------------------------------------------------------------

    async def owner_of(self, device_id: str) -> str | None:
        """The live process that owns the device, if any."""
        async with self._db.read() as session:
            return await session.scalar(
                select(DeviceOwner.instance)
                .join(ClusterNode, ClusterNode.instance == DeviceOwner.instance)
                .where(DeviceOwner.device_id == device_id)
            )

    async def call(self, device_id: str, request: dict[str, Any], deadline: float) -> Any:
        """Have the device's owner carry out `request` and return its answer. `deadline` is
        a `time.monotonic()`. Raises NoOwner when no other live node owns the device."""
        target = await self.owner_of(device_id)
        if target is None or target == self._ownership.instance:
            raise NoOwner(device_id)
        expires_at = utcnow() + timedelta(seconds=max(0.0, deadline - time.monotonic()))
        async with self._db.transaction() as session:
            call_id = await session.scalar(
                insert(table_of(NodeCall))
                .values(
                    device_id=device_id,
                    target=target,
                    state="pending",
                    request=json.dumps(request, separators=(",", ":")),
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
                .returning(NodeCall.id)
            )
        assert call_id is not None
        self._signals.publish(CALLS_CHANNEL, target)
        return await self._answer_of(device_id, call_id, deadline)

    async def _answer_of(self, device_id: str, call_id: int, deadline: float) -> Any:
        answered = self._answered[call_id] = asyncio.Event()
        try:
            while True:
                answered.clear()
                async with self._db.read() as session:
                    response = await session.scalar(
                        select(NodeCall.response).where(
                            NodeCall.id == call_id, NodeCall.state == "done"
                        )
                    )
                if response is not None:
                    await self._forget(call_id)
                    return json.loads(response)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OwnerDidNotAnswer(device_id, taken=not await self._withdraw(call_id))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), min(remaining, ANSWER_POLL_SECONDS))
        finally:
            self._answered.pop(call_id, None)

    async def _withdraw(self, call_id: int) -> bool:
        """Take back a call its owner has not taken yet; False when it was taken. A taken
        call may still be carried out (its row stays for the sweep); one answered just now,
        too late, is deleted with its answer."""
        async with self._db.transaction() as session:
            withdrawn = await session.scalar(
                delete(NodeCall)
                .where(NodeCall.id == call_id, NodeCall.state == "pending")
                .returning(NodeCall.id)
            )
            if withdrawn is None:
                await session.execute(
                    delete(NodeCall).where(NodeCall.id == call_id, NodeCall.state == "done")
                )
        return withdrawn is not None

    async def _forget(self, call_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(NodeCall).where(NodeCall.id == call_id))

    def _on_answer(self, payload: str | None) -> None:
        if payload is None:  # signals were down: every waiter looks again
            for event in self._answered.values():
                event.set()
            return
        with contextlib.suppress(ValueError):
            answered = self._answered.get(int(payload))
            if answered is not None:
                answered.set()

    # --- the owner's side -------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._take_calls(), name="node-calls")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_calls(self, payload: str | None) -> None:
        if payload is None or payload == self._ownership.instance:
            self._calls_waiting.set()

    async def _take_calls(self) -> None:
        next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
        while True:
            self._calls_waiting.clear()
            try:
                for call_id, device_id, request in await self._claim():
                    # Claimed in the order written; each device's calls run in that order,
                    # one after another, the devices' side by side.
                    after = self._last_of_device.get(device_id)
                    task = asyncio.create_task(self._carry_out(call_id, device_id, request, after))
                    self._last_of_device[device_id] = task
                    self._running.add(task)
                    task.add_done_callback(functools.partial(self._done, device_id))
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
                    await self._sweep()
            except Exception:
                log.exception("node_calls_take_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_waiting.wait(), CALLS_POLL_SECONDS)

    async def _claim(self) -> list[tuple[int, str, str]]:
        async with self._db.transaction() as session:
            rows = await session.execute(
                update(NodeCall)
                .where(
                    NodeCall.target == self._ownership.instance,
                    NodeCall.state == "pending",
                    NodeCall.expires_at > utcnow(),
                )
                .values(state="running")
                .returning(NodeCall.id, NodeCall.device_id, NodeCall.request)
                .execution_options(synchronize_session=False)
            )
            return sorted((int(i), d, r) for i, d, r in rows)

    async def _carry_out(
        self, call_id: int, device_id: str, request: str, after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.wait({after})
        try:
            assert self.handler is not None
            response = await self.handler(device_id, json.loads(request))
        except Exception as exc:  # a bug: say what, not where
            log.exception("node_call_failed", device_id=device_id)
            response = {
                "ok": False,
                "error": {"code": "engine_error", "message": type(exc).__name__},
            }
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    update(NodeCall)
                    .where(NodeCall.id == call_id)
                    .values(state="done", response=json.dumps(response, separators=(",", ":")))
                )
        except Exception as exc:  # the caller gets no answer: it reports that
            log.warning("node_call_answer_lost", device_id=device_id, error=repr(exc))
            return
        self._signals.publish(ANSWERS_CHANNEL, str(call_id))

    def _done(self, device_id: str, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._last_of_device.get(device_id) is task:
            del self._last_of_device[device_id]

    async def _sweep(self) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(NodeCall).where(NodeCall.expires_at < utcnow() - SWEEP_AFTER)
            )
