"""Where media bytes live: behind a small interface so an S3-compatible store can replace
the local directory without the rest of the gateway noticing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...


class LocalMediaStore:
    """Keys are relative paths under one root; anything that would leave the root is refused."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_of(self, key: str) -> Path:
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
