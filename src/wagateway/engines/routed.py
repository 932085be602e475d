"""Engine calls for devices another node holds, carried there through the database
(`cluster/calls.py`), and carried out here for the others (CONTRACT §9).

Arguments and results travel as the worker protocol's values (`workers/protocol.py`: JSON
with tagged datetimes, bytes and engine dataclasses, nothing else), errors as its error
frames: a routed call fails as the same call would have failed on the owner.

While a device moves (its owner died or let go, and no node has taken it yet) a call waits
for the new owner, up to the call's deadline; then it fails with `device_not_held`. An owner
that does not answer by the deadline makes it 408 `request_canceled`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from wagateway.cluster.calls import NodeCalls, NoOwner
from wagateway.engines.base import EngineError
from wagateway.engines.fenced import FencedEngine, NotHeld
from wagateway.engines.workers.protocol import decode, encode, error_frame, error_of

# How often a call for a moving device looks for its new owner.
MOVING_RETRY_SECONDS = 0.25


class RemoteCalls:
    def __init__(self, calls: NodeCalls) -> None:
        self._calls = calls
        self._targets: dict[str, FencedEngine] = {}
        calls.handler = self.carry_out

    def add_target(self, target: FencedEngine) -> None:
        self._targets[target.name] = target

    async def route(
        self,
        target: str,
        op: str,
        device_id: str,
        kwargs: dict[str, Any],
        *,
        wait_for_owner: bool = True,
    ) -> Any:
        deadline = time.monotonic() + self._calls.timeout
        request = {"target": target, "op": op, "args": encode(kwargs)}
        while True:
            try:
                answer = await self._calls.call(device_id, request, deadline)
            except NoOwner:
                answer = None
            if answer is not None:
                if answer.get("ok"):
                    return decode(answer.get("result"))
                error = error_of(answer.get("error") or {})
                if error.code != "device_not_held":
                    raise error
            # Nobody holds it (or its owner let go meanwhile): it is moving.
            if not wait_for_owner or time.monotonic() + MOVING_RETRY_SECONDS > deadline:
                raise NotHeld(device_id)
            await asyncio.sleep(MOVING_RETRY_SECONDS)

    async def carry_out(self, device_id: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            target = self._targets.get(str(request.get("target")))
            if target is None:
                raise EngineError(
                    "engine_unavailable", f"{request.get('target')} is not available on this node"
                )
            args = decode(request.get("args") or {})
            result = await target.here(str(request.get("op")), device_id, args)
            return {"ok": True, "result": encode(result)}
        except EngineError as exc:
            return {"ok": False, "error": error_frame(0, exc)["error"]}
