"""X-Request-ID on every response: the caller's (if sane) or a new UUID; and
`X-Content-Type-Options: nosniff`, so no browser reads an API answer (JSON, a downloaded
attachment) as another type than it says. Pure ASGI, no overhead of BaseHTTPMiddleware on the
hot path, and one middleware for both rather than another layer per request."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _SAFE.fullmatch(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append(NOSNIFF)
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
