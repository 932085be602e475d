"""Media sent by `url` is fetched whole (issue 15): a real HTTP server on loopback serves an
image in 64 KiB pieces with pauses, with chunked transfer and with a Content-Length, and the
sandbox's network log proves the recipient got every byte (size and SHA-256). A body that
ends early, or one over `WAGW_SEND_MEDIA_MAX_BYTES`, fails the message with `media_error`,
and the over-cap download stops once the cap is passed."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.harness import TEST_ENV, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

PIECE = 64 * 1024
PAUSE = 0.02
IMAGE = b"\x89PNG\r\n\x1a\n" + os.urandom(10 * PIECE - 8 + 1234)  # 11 pieces, the last short
CAP = int(TEST_ENV["WAGW_SEND_MEDIA_MAX_BYTES"])
ENDLESS = 64 * 1024 * 1024
FETCH_TIMEOUT = 3 * float(TEST_ENV["WAGW_WEBHOOK_TIMEOUT"])  # the fetch's total time limit
STALL = FETCH_TIMEOUT + 1


class MediaHost:
    """Serves IMAGE (or more) the ways a real origin may: `/chunked/…` in chunks, `/sized/…`
    with a Content-Length, both one 64 KiB piece at a time with a pause; `/short/…` promises
    more than it sends and closes; `/cut/…` stops a chunked body without its last chunk;
    `/big/…` declares a body over the cap; `/endless/…` streams chunks with no end in sight;
    `/stall/…` sends 3 pieces and then nothing for longer than the fetch may take.
    `written[path]` is how many body bytes the server got out."""

    def __init__(self) -> None:
        self.written: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/{uuid.uuid4().hex}.png"

    def start(self) -> MediaHost:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                mode = self.path.split("/")[1]
                host.written[self.path] = 0
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                chunked = mode in ("chunked", "cut", "endless", "stall")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    declared = CAP + 1 if mode == "big" else len(IMAGE)
                    self.send_header("Content-Length", str(declared))
                self.end_headers()
                if mode in ("endless", "big"):
                    total = ENDLESS if mode == "endless" else CAP + 1
                    pieces = (IMAGE[: min(PIECE, total - at)] for at in range(0, total, PIECE))
                else:
                    body = IMAGE[: 3 * PIECE] if mode in ("short", "cut", "stall") else IMAGE
                    pieces = (body[at : at + PIECE] for at in range(0, len(body), PIECE))
                try:
                    for piece in pieces:
                        self.wfile.write(
                            b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                        )
                        self.wfile.flush()
                        host.written[self.path] += len(piece)
                        if mode in ("chunked", "sized"):
                            time.sleep(PAUSE)
                    if mode == "stall":
                        time.sleep(STALL)  # past the fetch's time limit, then gone
                    if mode in ("chunked", "endless"):
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True  # `short` and `cut` end here, mid-body

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture(scope="module")
def media_host() -> Iterator[MediaHost]:
    host = MediaHost().start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def device(server: Any) -> Iterator[tuple[httpx.Client, str]]:
    """One linked device for the module (the server allowlists 127.0.0.0/8 for the host)."""
    creds = server.create_app("media fetch")
    with server.client(creds["app_token"]) as api:
        device_id = create_device(api, "media fetch")["device_id"]
        scan_current_qr(api, device_id)
        yield api, device_id


def send_image(api: httpx.Client, device_id: str, url: str) -> dict:
    sent = api.post(
        f"/devices/{device_id}/messages",
        params={"wait": "true"},
        json={"to": "6281211112222", "type": "image", "url": url, "mime_type": "image/png"},
    )
    assert sent.status_code == 200, sent.text
    return dict(sent.json())


def logged_messages(api: httpx.Client, device_id: str) -> list[dict]:
    log = api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
    return [entry for entry in log if entry["kind"] == "message"]


@pytest.mark.parametrize("mode", ["chunked", "sized"])
def test_an_image_served_in_pieces_reaches_the_recipient_whole(
    device: tuple[httpx.Client, str], media_host: MediaHost, mode: str
) -> None:
    api, device_id = device
    url = media_host.url(mode)
    sent = send_image(api, device_id, url)
    # The sandbox's receipts may already have moved it on.
    assert sent["status"] in ("sent", "delivered", "read"), sent
    [entry] = wait_until(
        lambda: [
            e
            for e in logged_messages(api, device_id)
            if e["wa_message_id"] == sent["wa_message_id"]
        ],
        what="the message in the network log",
    )
    assert entry["type"] == "image"
    assert entry["size"] == len(IMAGE)
    assert entry["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert media_host.written[url.removeprefix(f"http://127.0.0.1:{media_host.port}")] == len(IMAGE)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        # Content-Length promised the whole image; the connection closed after 3 pieces.
        (
            "short",
            f"fetching media failed: the download broke off after {3 * PIECE} of {len(IMAGE)} "
            "bytes",
        ),
        # A chunked body without its last (empty) chunk: the connection closed mid-body.
        ("cut", f"fetching media failed: the download broke off after {3 * PIECE} bytes"),
    ],
)
def test_a_body_that_ends_early_fails_the_message(
    device: tuple[httpx.Client, str], media_host: MediaHost, mode: str, error: str
) -> None:
    api, device_id = device
    before = len(logged_messages(api, device_id))
    sent = send_image(api, device_id, media_host.url(mode))
    assert sent["status"] == "failed", sent
    assert sent["error"]["code"] == "media_error"
    assert sent["error"]["message"].startswith(error), sent["error"]
    assert len(logged_messages(api, device_id)) == before  # nothing reached the network


@pytest.mark.parametrize("mode", ["big", "endless"])
def test_a_body_over_the_cap_fails_and_is_not_read_to_its_end(
    device: tuple[httpx.Client, str], media_host: MediaHost, mode: str
) -> None:
    """`big` declares its size (refused on the header alone); `endless` does not (refused
    once the bytes read pass the cap, the rest never read)."""
    api, device_id = device
    before = len(logged_messages(api, device_id))
    url = media_host.url(mode)
    sent = send_image(api, device_id, url)
    assert sent["status"] == "failed", sent
    assert sent["error"] == {"code": "media_error", "message": f"media is larger than {CAP} bytes"}
    assert len(logged_messages(api, device_id)) == before
    path = url.removeprefix(f"http://127.0.0.1:{media_host.port}")
    # What the server got out before the gateway hung up: the cap and the sockets' buffers,
    # far from the 64 MiB it offered.
    time.sleep(0.2)
    assert media_host.written[path] < 16 * 1024 * 1024


def test_a_body_that_stalls_fails_once_the_time_limit_passes(
    device: tuple[httpx.Client, str], media_host: MediaHost
) -> None:
    api, device_id = device
    before = len(logged_messages(api, device_id))
    sent = send_image(api, device_id, media_host.url("stall"))
    assert sent["status"] == "failed", sent
    assert sent["error"] == {
        "code": "media_error",
        "message": f"fetching media timed out after {FETCH_TIMEOUT:g} s",
    }
    assert len(logged_messages(api, device_id)) == before
