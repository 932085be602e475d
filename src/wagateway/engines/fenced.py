"""An engine whose calls for a device are made only by the node that holds the device
(CONTRACT §9): WhatsApp checks no fencing token, so the node checks itself before each
send, query and action.

A call for a device this node does not hold goes to the node that does (`route`,
`engines/routed.py`), when there can be one (several nodes); otherwise it fails with
`device_not_held`. Starting a session (`begin_pairing`, `restore`) and sending are never
routed: only the node that owns the device starts its session and claims its sends.
Ending a session (`close`, `logout`) is never refused: it goes to the owner when another
node holds the session, and is done here otherwise (a logout erases the stored session
material wherever it is).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from wagateway.engines.base import Engine, EngineError
from wagateway.engines.workers.protocol import OPS

# The Engine methods that end a device's session: always allowed.
LETTING_GO = frozenset({"close", "logout"})
# The Engine methods that act for one device (their first argument is its id).
FENCED = OPS - LETTING_GO - {"health", "ping"}
# Those only the owner itself makes: it starts the device's session, and only the owner
# claims the device's sends (a send routed by a node that lost the device meanwhile could
# go out twice: the new owner sends what the old one had claimed).
OWNER_ONLY = frozenset({"begin_pairing", "restore", "send"})


class Route(Protocol):
    """Carries a call to the node that holds the device and returns its result; raises
    NotHeld when no node holds it (by the deadline, if `wait_for_owner`)."""

    def __call__(
        self,
        target: str,
        op: str,
        device_id: str,
        kwargs: dict[str, Any],
        *,
        wait_for_owner: bool = True,
    ) -> Awaitable[Any]: ...


class NotHeld(EngineError):
    def __init__(self, device_id: str) -> None:
        super().__init__(
            "device_not_held",
            "no node holds the device's session right now (it is moving to another node); "
            "try again in a moment",
        )
        self.device_id = device_id


class FencedEngine:
    """`target` names what is wrapped, for the node that carries out a routed call; `ops`
    are its methods fenced (and routed), `letting_go` those always allowed."""

    def __init__(
        self,
        inner: Any,
        holds: Callable[[str], bool],
        route: Route | None = None,
        *,
        target: str | None = None,
        ops: frozenset[str] = FENCED,
        letting_go: frozenset[str] = LETTING_GO,
    ) -> None:
        self.inner = inner
        self.name: str = inner.name if target is None else target
        self._holds = holds
        self._route = route
        self._ops = ops
        self._letting_go = letting_go

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in self._letting_go:
            return self._ending(name, attr)
        if name not in self._ops:
            return attr

        async def fenced(device_id: str, *args: Any, **kwargs: Any) -> Any:
            if self._holds(device_id):
                return await attr(device_id, *args, **kwargs)
            if self._route is None or name in OWNER_ONLY:
                raise NotHeld(device_id)
            return await self._route(self.name, name, device_id, _named(attr, args, kwargs))

        return fenced

    def _ending(self, name: str, attr: Callable[..., Awaitable[Any]]) -> Any:
        async def ending(device_id: str) -> Any:
            if self._holds(device_id) or self._route is None:
                return await attr(device_id)
            try:
                return await self._route(self.name, name, device_id, {}, wait_for_owner=False)
            except NotHeld:  # no node holds a session of it: end what is left here
                return await attr(device_id)

        return ending

    async def here(self, op: str, device_id: str, kwargs: dict[str, Any]) -> Any:
        """Carry out a call another node routed here (it found this node the owner)."""
        if op in self._letting_go:
            return await getattr(self.inner, op)(device_id)
        if op not in self._ops or op in OWNER_ONLY:
            raise EngineError("engine_error", f"{op} cannot be called from another node")
        if not self._holds(device_id):
            raise NotHeld(device_id)
        return await getattr(self.inner, op)(device_id, **kwargs)


def _named(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """A call's arguments after the device id, by name (as they travel between nodes)."""
    bound = inspect.signature(method).bind(None, *args, **kwargs)
    named = dict(bound.arguments)
    named.pop(next(iter(named)))  # the device id
    return named


def fenced(engine: Engine, holds: Callable[[str], bool], route: Route | None = None) -> Engine:
    return cast(Engine, FencedEngine(engine, holds, route))
