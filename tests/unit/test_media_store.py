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
