"""Text the gateway cannot store or send, anywhere in a request (path, query, JSON or form
body), is refused up front with 400 `validation_error` naming the field, on every database
alike (`core/text.py` says which text that is: NUL, and unpaired surrogates).

PostgreSQL cannot store NUL in text, and neither database, HTTP body nor webhook envelope can
encode a lone surrogate as UTF-8: before this, an id, a filter, a name or a URL with one was a
500, and a message text with one was sent, then jammed its device's webhooks. No id, name,
URL or WhatsApp field of this API has a use for either.

Pure ASGI, as `RequestIdMiddleware`: what every request pays is a few substring searches; a
body is parsed here only when such a search hits, read here (the routes read it whole anyway)
and handed on unchanged.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.core.errors import error_response
from wagateway.core.text import printable_name, unstorable_field

# `\u0000` or a surrogate escape (`\ud83d`, any case) in JSON text.
_JSON_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# UTF-8-encoded surrogates (ED A0..BF ..), which `json.loads(bytes)` decodes as surrogates.
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
# A percent escape of a byte outside ASCII: the text must then decode as UTF-8.
_PERCENT_HIGH = re.compile(rb"%[89a-fA-F]")


def _decoded_or_none(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _in_query(raw: bytes) -> tuple[str, str] | None:
    """(field, what is wrong) for a query string or form body, or None."""
    nul = b"%00" in raw
    if not nul and _PERCENT_HIGH.search(raw) is None:
        return None
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        # latin-1 in, so these are the bytes sent: check them as UTF-8 ourselves (Starlette
        # would make invalid bytes U+FFFD silently).
        name = _decoded_or_none(key.encode("latin-1"))
        text = _decoded_or_none(value.encode("latin-1"))
        shown = printable_name(key.encode("latin-1").decode("utf-8", "replace")) or "query"
        if name is None or text is None:
            return shown, "must be UTF-8 text"
        if "\x00" in name or "\x00" in text:
            return shown, "must not contain NUL (\\u0000) characters"
    return None


def _in_path(scope: Scope) -> tuple[str, str] | None:
    if "\x00" in scope["path"]:
        return "path", "must not contain NUL (\\u0000) characters"
    raw = scope.get("raw_path") or b""
    if _PERCENT_HIGH.search(raw) and _decoded_or_none(unquote_to_bytes(raw)) is None:
        return "path", "must be UTF-8 text"
    return None


def _suspect_escape(body: bytes) -> bool:
    """Whether the JSON text may hold a NUL or a lone surrogate: it has an escape of one.
    Only "look closer": the escape may follow an escaped backslash (`\\u0000` is the six
    characters "\u0000") or be half of a pair (`\ud83d\ude00`, one emoji, as Python clients
    send it); the parse that follows is exact. The body is scanned at memchr speed for a
    backslash first: a media send's base64 has none."""
    return b"\\" in body and _JSON_SUSPECT.search(body) is not None


def _in_json(body: bytes) -> tuple[str, str] | None:
    looks_utf8 = b"\x00" not in body[:4]  # else json.loads detects UTF-16/32: look closer
    if (
        looks_utf8
        and not _suspect_escape(body)
        and (b"\xed" not in body or _RAW_SURROGATE.search(body) is None)
    ):
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        return "body", "nests too deeply"
    except ValueError:
        return None  # not JSON: the route says so, with its own validation_error
    field = unstorable_field(value)
    if field is None:
        return None
    return field, "must be text without NUL (\\u0000) or unpaired surrogates (\\ud800-\\udfff)"


def _in_body(content_type: bytes, body: bytes) -> tuple[str, str] | None:
    if b"json" in content_type:
        return _in_json(body)
    if b"x-www-form-urlencoded" in content_type:
        return _in_query(body)
    return None


class RefuseUnstorableTextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _in_path(scope) or _in_query(scope["query_string"])
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.lower()
                break
        if problem is None and (b"json" in content_type or b"form-urlencoded" in content_type):
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
            problem = _in_body(content_type, body)
            receive = _replay(first["type"], body, receive)
        if problem is None:
            await self.app(scope, receive, send)
            return
        field, what = problem
        response = error_response(
            Request(scope), 400, "validation_error", f"{field} {what}", {"field": field}
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
