"""Request bodies: who may send one and how large, decided before anything reads it.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a
token checked by a dependency is checked only after the whole body is in memory: a stranger
could make the gateway hold a media-sized body for a 401. So for every request that carries
a body (a `Content-Length` above 0, or chunked), before a byte of it is read:

1. Its route is found, as the router will find it. Its cap is that route's: the send route
   carries media inline (the media cap in base64 plus room for the JSON around it), every
   other request `WAGW_MAX_REQUEST_BYTES`. A declared length over the cap is refused unread:
   413 `request_too_large`.
2. On a route that acts for an app, the caller is verified (`verify`: a Bearer token, or an
   allowlisted internal caller): a refusal (401, or 404 for an internal call naming an
   unknown device) is answered without the body read. What it found is kept in the
   request's state for the route's dependency, so no request is verified twice.
3. A chunked body (no length) is read up to its cap and refused there.

Every refusal before the body is read says `Connection: close`: the rest of the body would
be taken for the next request. Pure ASGI, as `RequestIdMiddleware`: a request without a
body pays one header scan.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.routing import iter_route_contexts
from starlette.convertors import Convertor
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.core.errors import ApiError, error_response

_JSON_ROOM = 64 * 1024

# Verifies the caller of a routed request (the request, its declared body length or None
# when chunked); raises ApiError to refuse.
Verify = Callable[[Request, int | None], Awaitable[None]]


def media_body_cap(media_max_bytes: int) -> int:
    """The largest body a media-carrying request can need: base64 is 4/3 of the bytes."""
    return (media_max_bytes + 2) // 3 * 4 + _JSON_ROOM


@dataclass(frozen=True)
class _Route:
    path: str  # its template, as the route was declared
    pattern: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str] | None
    verified: bool  # its caller is verified before its body


class BodyLimitMiddleware:
    """`route_caps` maps (method, route path) to a cap other than `max_bytes`; `verifies`
    says which routes' callers `verify` checks before their body."""

    def __init__(
        self,
        app: ASGIApp,
        router: Router,
        max_bytes: int,
        route_caps: Mapping[tuple[str, str], int],
        verifies: Callable[[Any], bool],
        verify: Verify,
    ) -> None:
        self.app = app
        self.router = router
        self.max_bytes = max_bytes
        self.route_caps = dict(route_caps)
        self.verifies = verifies
        self.verify = verify
        self._routes: list[_Route] | None = None

    def _route_table(self) -> list[_Route]:
        # Built at the first request with a body: the routes are all added by then. FastAPI
        # keeps included routers as such; their routes, as the router matches them, in order.
        if self._routes is None:
            self._routes = [
                _Route(
                    context.path or "",
                    context.path_regex,
                    dict(context.param_convertors),
                    frozenset(context.methods) if context.methods else None,
                    self.verifies(context),
                )
                for context in iter_route_contexts(self.router.routes)
                if getattr(context, "path_regex", None) is not None
            ]
        return self._routes

    def _route_of(self, scope: Scope) -> tuple[_Route, dict[str, Any]] | None:
        """The route the router will run (the first whose path and method match) and its
        path parameters; None for a 404 or 405."""
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope["method"]
        for route in self._route_table():
            if route.methods is not None and method not in route.methods:
                continue  # as the router, which goes on to a route that takes the method
            match = route.pattern.match(path)
            if match is not None:
                params = {
                    name: route.convertors[name].convert(value)
                    for name, value in match.groupdict().items()
                }
                return route, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and not length:
            await self.app(scope, receive, send)  # no body to hold
            return
        found = self._route_of(scope)
        cap = self.max_bytes
        if found is not None:
            cap = self.route_caps.get((scope["method"], found[0].path), cap)
        if length is not None and length > cap:
            await self._refuse(scope, receive, send, _too_large(cap))
            return
        if found is not None and found[0].verified:
            # The route's request shares this state: the dependency finds the caller there.
            routed = {**scope, "path_params": found[1], "state": scope.setdefault("state", {})}
            try:
                await self.verify(Request(routed), None if chunked else length)
            except ApiError as refused:
                await self._refuse(scope, receive, send, refused)
                return
        if not chunked:
            await self.app(scope, receive, send)
            return
        # No length given: read up to the cap, then hand the app what was read.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > cap:
                await self._refuse(scope, receive, send, _too_large(cap))
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
        response = error_response(
            Request(scope),
            error.status,
            error.code,
            error.message,
            error.details,
            # The rest of the body is not read: the connection cannot be reused.
            headers={**error.headers, "Connection": "close"},
        )
        await response(scope, receive, send)


def _too_large(cap: int) -> ApiError:
    return ApiError(
        413, "request_too_large", f"request body is larger than {cap} bytes", {"max_bytes": cap}
    )
