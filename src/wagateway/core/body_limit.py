"""Request body caps, enforced before anything reads the body: 413 `request_too_large`.

Routes that carry media inline (a send, the sandbox's simulated inbound) may be as large as
the media cap in base64 plus room for the JSON around it; every other request is capped at
`WAGW_MAX_REQUEST_BYTES`. A body with a `Content-Length` over its cap is refused unread; a
chunked body (no length) is read up to its cap and refused there, so a client cannot make
the gateway hold more than the cap of any request in memory.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.core.errors import error_response

# POST /devices/{id}/messages and POST /sandbox/devices/{id}/inbound.
_MEDIA_ROUTES = re.compile(r"^(/sandbox)?/devices/[^/]+/(messages|inbound)/?$")
_JSON_ROOM = 64 * 1024


def media_body_cap(media_max_bytes: int) -> int:
    """The largest body a media-carrying request can need: base64 is 4/3 of the bytes."""
    return (media_max_bytes + 2) // 3 * 4 + _JSON_ROOM


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, media_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.media_cap = max(max_bytes, media_body_cap(media_max_bytes))

    def cap_for(self, scope: Scope) -> int:
        if scope["method"] == "POST" and _MEDIA_ROUTES.match(scope["path"]):
            return self.media_cap
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope)
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None:
            if length > cap:
                await self._refuse(scope, receive, send, cap)
            else:
                await self.app(scope, receive, send)
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
                await self._refuse(scope, receive, send, cap)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        response = error_response(
            Request(scope),
            413,
            "request_too_large",
            f"request body is larger than {cap} bytes",
            {"max_bytes": cap},
            # The rest of the body is not read: the connection cannot be reused.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
