"""Where media bytes live: behind a small interface so an S3-compatible store can replace
the local directory without the rest of the gateway noticing."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any, Protocol


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes:
        """The whole bytes; FileNotFoundError when there is nothing under `key`, another
        OSError when the store cannot give them (never a part of them)."""

    async def delete(self, key: str) -> None: ...
    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """Keys are relative, slash-separated, without empty, `.` or `..` parts, backslashes or
    control characters (a NUL among them)."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or not key.isprintable()
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"invalid media key: {key!r}")
    return key


class LocalMediaStore:
    """Keys are relative paths under one root; anything that would leave the root is refused."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def close(self) -> None:
        pass

    def path_of(self, key: str) -> Path:
        check_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError("media key escapes the media root")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self.path_of(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half a file

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path_of(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, True)


class S3MediaStore:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, R2…), through aiobotocore (aiohttp)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        from aiobotocore.session import get_session

        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client_args = {
            "endpoint_url": endpoint_url or None,
            "region_name": region,
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
        }
        self._session = get_session()
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    self._session.create_client("s3", **self._client_args)
                )
        return self._client

    def _key(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await (await self._s3()).put_object(Bucket=self._bucket, Key=self._key(key), Body=data)

    async def get(self, key: str) -> bytes:
        import aiohttp  # aiobotocore's client, imported with the session
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self._bucket, Key=self._key(key))
            async with response["Body"] as stream:
                # read() without a size reads to the end and checks Content-Length.
                data: bytes = await stream.read()
        except s3.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        except (BotoCoreError, ClientError, aiohttp.ClientError, TimeoutError) as exc:
            # The store's callers handle OSError; botocore's and aiohttp's own types would
            # escape them (a send's worker would die with its message left `sending`).
            raise OSError(f"reading {key} from the bucket failed: {exc}") from exc
        return data

    async def delete(self, key: str) -> None:
        await (await self._s3()).delete_object(Bucket=self._bucket, Key=self._key(key))

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
