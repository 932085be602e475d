"""Reads of one row by key that arrive together share one query.

A restart brings thousands of sessions up at once, and each would read its own row (its
stored session, its device and app) in a snapshot of its own: the cost is the query, not
the row. Keys asked for while a read is under way wait for the next one, which fetches
them all with one `IN (...)` query; a key asked for alone is read at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from contextvars import Context
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Keys per query: within every database's limit on a statement's parameters.
KEYS_PER_READ = 500


class JoinedReads(Generic[K, V]):
    """`await reads.get(key)`: the value `load(session, keys)` found for `key`, or None.

    `load` runs in a read snapshot (`Database.read`) with up to KEYS_PER_READ distinct keys
    and returns what it found, by key. A failed read fails the `get`s it served, only those.
    """

    def __init__(
        self,
        db: Database,
        load: Callable[[AsyncSession, list[K]], Awaitable[dict[K, V]]],
    ) -> None:
        self._db = db
        self._load = load
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    def get(self, key: K) -> asyncio.Future[V | None]:
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._reader is None or self._reader.done():
            # A fresh context: the reader outlives this caller and must not carry its
            # request id into the others' reads.
            self._reader = asyncio.create_task(
                self._read_while_asked(), name="joined-reads", context=Context()
            )
        return future

    async def _read_while_asked(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[:KEYS_PER_READ]
            waiting = {key: self._waiting.pop(key) for key in keys}
            try:
                async with self._db.read() as session:
                    found = await self._load(session, keys)
            except Exception as exc:
                _settle_all(waiting.values(), exc)
                continue
            for key, futures in waiting.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))


def _settle_all(waiting: Iterable[list[asyncio.Future[V | None]]], exc: Exception) -> None:
    for futures in waiting:
        for future in futures:
            if not future.done():
                future.set_exception(exc)
