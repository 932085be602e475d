"""NUL (U+0000) anywhere in a request (path, query, JSON or form body) is refused up front with
400 `validation_error`, on every database alike.

PostgreSQL cannot store NUL in text, so before this an id, a filter, an app name, a webhook URL
or a quoted message id containing one reached the database and came back as a 500 there (and
was taken on SQLite). No id, name, URL or WhatsApp field of this API has a use for it.

Pure ASGI, as `RequestIdMiddleware`: what every request pays is a few substring searches; the
body is read here (the routes read it whole anyway) and handed on unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.core.errors import error_response

# `\u0000` in JSON text, unless its backslash is itself escaped (`\\u0000` is the six
# characters "\u0000", harmless).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _nul_field(value: Any, prefix: str = "") -> str | None:
    """The dotted name (FastAPI's `details.field` style) of the first string with a NUL."""
    if isinstance(value, str):
        return (prefix or "body") if "\x00" in value else None
    if not isinstance(value, dict | list):
        return None
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        name = f"{prefix}.{key}" if prefix else str(key)
        if "\x00" in str(key):
            return name.replace("\x00", "")
        if (found := _nul_field(item, name)) is not None:
            return found
    return None


def _in_query(raw: bytes) -> str | None:
    if b"%00" not in raw:
        return None
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    return "query"


def _in_body(content_type: bytes, body: bytes) -> str | None:
    if b"json" in content_type:
        if b"\\u0000" not in body or _JSON_NUL.search(body) is None:
            return None
        try:
            return _nul_field(json.loads(body)) or "body"
        except ValueError:
            return None  # not JSON: the route says so, with its own validation_error
    if b"x-www-form-urlencoded" in content_type:
        return _in_query(body)
    return None


class RefuseNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = "path" if "\x00" in scope["path"] else _in_query(scope["query_string"])
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.lower()
                break
        if field is None and (b"json" in content_type or b"form-urlencoded" in content_type):
            # Already held to its cap by BodyLimitMiddleware, outside this one; joined once,
            # not grown chunk by chunk (a media send arrives in a thousand pieces).
            first = await receive()
            chunks = [first.get("body", b"")]
            more = first.get("more_body", False)
            while more and first["type"] == "http.request":
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            field = _in_body(content_type, body)
            receive = _replay(first["type"], body, receive)
        if field is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            Request(scope),
            400,
            "validation_error",
            f"{field} must not contain NUL (\\u0000) characters",
            {"field": field},
        )
        await response(scope, receive, send)


def _replay(kind: str, body: bytes, receive: Receive) -> Receive:
    """`receive` that gives the body read already, then what the client sends next (a
    disconnect, which `?wait=true` listens for)."""
    pending: list[Message] = [
        {"type": "http.request", "body": body, "more_body": False}
        if kind == "http.request"
        else {"type": kind}
    ]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
