"""uvicorn's httptools protocol with a cap on a request's head (request line and headers).

httptools has no such setting: it gathers a header of any size in memory before uvicorn sees
it (a 50 MB header held 50 MB). uvicorn's other parser, h11, has one
(`h11_max_incomplete_event_size`) but costs more CPU per request. This counts what arrives
while a request's head is still incomplete and, past the cap, answers 431 in the contract's
envelope and closes the connection, so the head's memory stays within the cap plus one read
from the socket. Counting whole reads can overcount only when one read carries the end of a
pipelined request's body and the start of the next head.
"""

from __future__ import annotations

import json
import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024

# A long-lived response (an event stream, delivery/stream.py) may put a callable under this key
# of its scope: the server's graceful shutdown calls it, so the response ends at once instead
# of holding the shutdown up for its whole timeout. Every request's scope carries the other:
# a callable that drops the connection at once, for a stream whose client stopped reading (a
# close would wait for the unread data to drain first, for ever).
ON_SHUTDOWN = "wagateway.on_shutdown"
ABORT_CONNECTION = "wagateway.abort_connection"


class HeadCappedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    _in_head = False
    _head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self.scope[ABORT_CONNECTION] = self.transport.abort  # type: ignore[literal-required]

    def shutdown(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            on_shutdown = cycle.scope.get(ON_SHUTDOWN)
            if callable(on_shutdown):
                on_shutdown()
        super().shutdown()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self._in_head = False
            self._refuse_head()

    def _refuse_head(self) -> None:
        # Every answer carries a request id (CONTRACT §1); the caller's own header may be the
        # part that was cut off, so this one is always new.
        request_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "error": {
                    "code": "request_too_large",
                    "message": f"request line and headers are larger than {self.max_head_bytes} "
                    "bytes",
                    "details": {"max_bytes": self.max_head_bytes},
                },
                "request_id": request_id,
            }
        ).encode()
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-content-type-options: nosniff\r\n",
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
