"""core/nul_guard.py: NUL refused in path, query and body; everything else passes unchanged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from wagateway.core.nul_guard import RefuseNulMiddleware


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    await JSONResponse({"body": (await request.body()).decode()})(scope, receive, send)


def call(
    chunks: list[bytes],
    content_type: bytes = b"application/json",
    path: str = "/x",
    query: bytes = b"",
) -> tuple[int, Any]:
    messages: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "headers": [(b"content-type", content_type)],
        "state": {"request_id": "rid"},
    }
    asyncio.run(RefuseNulMiddleware(echo)(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_a_clean_body_in_several_chunks_reaches_the_route_whole() -> None:
    assert call([b'{"a": "x\\\\u0000', b'y", "b": [1,', b" 2]}"]) == (
        200,
        {"body": '{"a": "x\\\\u0000y", "b": [1, 2]}'},
    )
    assert call([b"name=a%2500b"], b"application/x-www-form-urlencoded")[0] == 200


def test_nul_is_400_naming_where_it_was() -> None:
    cases = [
        ([b'{"a": [{"b": "x\\u0000"}]}'], b"application/json", "/x", b"", "a.0.b"),
        ([b'{"a": "x\\', b'\\\\u0000"}'], b"application/json; charset=utf-8", "/x", b"", "a"),
        ([b"name=a%00b"], b"application/x-www-form-urlencoded", "/x", b"", "name"),
        ([b"{}"], b"application/json", "/x\x00", b"", "path"),
        ([b""], b"text/plain", "/x", b"q=1&device_id=%00", "device_id"),
    ]
    for chunks, content_type, path, query, field in cases:
        status, body = call(chunks, content_type, path, query)
        assert status == 400, (chunks, body)
        assert body["error"]["code"] == "validation_error" and body["request_id"] == "rid"
        assert body["error"]["details"] == {"field": field}
