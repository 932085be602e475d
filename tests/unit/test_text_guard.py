"""core/text_guard.py: NUL and unpaired surrogates refused in path, query and body; everything
else passes unchanged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from wagateway.core.text_guard import RefuseUnstorableTextMiddleware, _suspect_escape


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    await JSONResponse({"body": (await request.body()).decode()})(scope, receive, send)


def call(
    chunks: list[bytes],
    content_type: bytes = b"application/json",
    path: str = "/x",
    query: bytes = b"",
    raw_path: bytes | None = None,
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
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "headers": [(b"content-type", content_type)],
        "state": {"request_id": "rid"},
    }
    asyncio.run(RefuseUnstorableTextMiddleware(echo)(scope, receive, send))
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


def test_a_surrogate_pair_is_one_character_and_passes() -> None:
    body = b'{"text": "ok \\ud83d\\ude00 \\uD83D\\uDE00", "t": "\\\\ud83d"}'
    assert call([body])[0] == 200
    assert call([b"name=%F0%9F%98%80"], b"application/x-www-form-urlencoded")[0] == 200
    assert call([b""], b"text/plain", "/x", b"q=%C3%A9")[0] == 200


def test_unpaired_surrogates_and_bytes_that_are_not_utf8_are_400_naming_the_field() -> None:
    cases = [
        ([b'{"a": {"b": ["x", "half \\ud83d"]}}'], b"application/json", "/x", b"", "a.b.1"),
        ([b'{"a": "\\uDE00\\uD83D"}'], b"application/json", "/x", b"", "a"),
        ([b'{"a": "\\\\\\udfff"}'], b"application/json", "/x", b"", "a"),
        ([b'{"a\\udc00b": 1}'], b"application/json", "/x", b"", "a\ufffdb"),
        ([b'{"a": "\xed\xa0\xbd"}'], b"application/json", "/x", b"", "a"),
        (
            ['{"a": "\ud83d"}'.encode("utf-16-le", "surrogatepass")],
            b"application/json",
            "/x",
            b"",
            "a",
        ),
        ([b"name=%ED%A0%BD"], b"application/x-www-form-urlencoded", "/x", b"", "name"),
        ([b""], b"text/plain", "/x", b"status=%FF", "status"),
        ([b""], b"text/plain", "/x%FF", b"", "path"),
    ]
    for chunks, content_type, path, query, field in cases:
        status, body = call(chunks, content_type, path, query)
        assert status == 400, (chunks, body)
        assert body["error"]["details"] == {"field": field}, (chunks, body)


def test_absurd_nesting_is_400_without_recursion() -> None:
    for opener, closer in ((b"[", b"]"), (b'{"a":', b"}")):
        deep = opener * 100_000 + b'"\\u0000"' + closer * 100_000
        status, body = call([deep])
        assert status == 400 and body["error"]["details"] == {"field": "body"}, body
    nested = b'{"a":' * 500 + b'"\\ud800"' + b"}" * 500  # parses: named by the walk
    status, body = call([nested])
    assert status == 400 and body["error"]["details"]["field"] == ".".join(["a"] * 500)


def test_escaped_backslashes_do_not_hide_or_invent_a_lone_half() -> None:
    # The text "\ud83d" (escaped backslash), then a real low half: that one is alone.
    assert call([b'{"a": "\\\\ud83d\\ude00"}'])[1]["error"]["details"] == {"field": "a"}
    # An escaped backslash, then a real lone high half.
    assert call([b'{"a": "\\\\\\ud83d"}'])[1]["error"]["details"] == {"field": "a"}
    # Only text that looks like escapes: nothing to refuse.
    assert call([b'{"a": "\\\\ud83d \\\\u0000 \\\\uDE00"}'])[0] == 200


def test_the_cheap_look_parses_nothing_for_plain_text_and_media() -> None:
    assert not _suspect_escape(b'{"to": "62812", "text": "Halo! \xf0\x9f\x98\x80 \\u00e9"}')
    assert not _suspect_escape(b'{"data_base64": "' + b"QUJD" * 1000 + b'"}')
    assert not _suspect_escape(b'{"data_base64": "' + b"QUJD\\/" * 1000 + b'"}')
    assert _suspect_escape(b'{"t": "\\uD83D"}') and _suspect_escape(b'{"t": "x\\u0000"}')
