"""Both media stores behind one interface: local directory and an S3-compatible bucket (a
real S3 API served by moto on a loopback port)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from wagateway.media.store import LocalMediaStore, MediaStore, S3MediaStore

BAD_KEYS = [
    "../secret.key",
    "/etc/passwd",
    "media/../../x",
    "media//x",
    "media/./x",
    "a\\b",
    "",
    "media/x.png\x00.txt",
    "media/x.png\n",
]


def stores(tmp_path: Path, endpoint: str) -> list[MediaStore]:
    return [
        LocalMediaStore(tmp_path / "store"),
        S3MediaStore(
            "wagw-media",
            prefix="gw1",
            endpoint_url=endpoint,
            access_key_id="test",
            secret_access_key="test",
        ),
    ]


def test_roundtrip_missing_and_delete(tmp_path: Path, s3_endpoint: str) -> None:
    async def scenario(store: MediaStore) -> None:
        key = "media/app/device-message.png"
        await store.put(key, b"\x89PNG data")
        assert await store.get(key) == b"\x89PNG data"
        await store.put(key, b"replaced")
        assert await store.get(key) == b"replaced"
        await store.delete(key)
        with pytest.raises(FileNotFoundError):
            await store.get(key)
        await store.delete(key)  # deleting what is gone is fine
        with pytest.raises(FileNotFoundError):
            await store.get("media/app/never-was.png")
        await store.close()

    for store in stores(tmp_path, s3_endpoint):
        asyncio.run(scenario(store))


def test_keys_cannot_escape(tmp_path: Path, s3_endpoint: str) -> None:
    async def scenario(store: MediaStore) -> None:
        for key in BAD_KEYS:
            with pytest.raises(ValueError):
                await store.put(key, b"x")
            with pytest.raises(ValueError):
                await store.get(key)
        await store.close()

    for store in stores(tmp_path, s3_endpoint):
        asyncio.run(scenario(store))
    assert not (tmp_path / "secret.key").exists()


def test_s3_prefix_keeps_installations_apart(s3_endpoint: str) -> None:
    async def scenario() -> None:
        a = S3MediaStore(
            "wagw-media",
            prefix="a",
            endpoint_url=s3_endpoint,
            access_key_id="test",
            secret_access_key="test",
        )
        b = S3MediaStore(
            "wagw-media",
            prefix="b",
            endpoint_url=s3_endpoint,
            access_key_id="test",
            secret_access_key="test",
        )
        await a.put("media/x/y.bin", b"from a")
        with pytest.raises(FileNotFoundError):
            await b.get("media/x/y.bin")
        await a.close()
        await b.close()

    asyncio.run(scenario())


def test_s3_reads_that_fail_are_os_errors_never_partial_bytes() -> None:
    """A bucket endpoint that promises more than it sends (the connection closes early) or
    refuses access: `get` raises OSError, as the store's callers expect of any store (the
    outbound queue turns it into `media_error`); never a partial body, never another type
    that would escape them."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Bucket(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if "denied" in self.path:
                body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    bucket = ThreadingHTTPServer(("127.0.0.1", 0), Bucket)
    threading.Thread(target=bucket.serve_forever, daemon=True).start()

    async def scenario() -> None:
        store = S3MediaStore(
            "wagw-media",
            endpoint_url=f"http://127.0.0.1:{bucket.server_address[1]}",
            access_key_id="test",
            secret_access_key="test",
        )
        with pytest.raises(OSError, match="1000 of 100000"):
            await store.get("media/app/cut.png")
        with pytest.raises(OSError, match="AccessDenied"):
            await store.get("media/app/denied.png")
        await store.close()

    try:
        asyncio.run(scenario())
    finally:
        bucket.shutdown()
        bucket.server_close()
