"""An engine whose calls for a device go through only while this node holds the device
(CONTRACT §9): WhatsApp checks no fencing token, so the node checks itself before each
send, query and action. Ending a session (`close`, `logout`) is never refused: letting go
is always allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from wagateway.engines.base import Engine, EngineError
from wagateway.engines.workers.protocol import OPS

# The Engine methods that act for one device (their first argument is its id).
FENCED = OPS - {"close", "logout", "health", "ping"}


class NotHeld(EngineError):
    def __init__(self, device_id: str) -> None:
        super().__init__(
            "device_not_held",
            "this node does not hold the device's session (it is moving to another node); "
            "try again in a moment",
        )
        self.device_id = device_id


class FencedEngine:
    def __init__(self, engine: Engine, holds: Callable[[str], bool]) -> None:
        self.inner = engine
        self.name = engine.name
        self._holds = holds

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in FENCED:
            return attr

        async def fenced(device_id: str, *args: Any, **kwargs: Any) -> Any:
            if not self._holds(device_id):
                raise NotHeld(device_id)
            return await attr(device_id, *args, **kwargs)

        return fenced


def fenced(engine: Engine, holds: Callable[[str], bool]) -> Engine:
    return cast(Engine, FencedEngine(engine, holds))
