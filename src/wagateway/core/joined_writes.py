"""Writes that wait for their turn take company.

On the hot paths many small writes of the same kind queue for the group commit at once
(the `sent` bookkeeping of a device's sends, a device's receipts, the sandbox's record of
what it received). Each one as a unit of its own costs a query or a statement per item;
items that arrive while their write still waits can instead join it, so the write handles
the lot with one query and one statement. An item that joins only ever gets written sooner
than it would on its own, never later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, Preload

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741


class _Batch(Generic[I]):
    __slots__ = ("closed", "items", "written")

    def __init__(self) -> None:
        self.items: list[I] = []
        self.written: asyncio.Future[None] | None = None
        self.closed: set[Hashable] = set()  # members whose later items may not join


class JoinedWrites(Generic[K, I]):
    """Per key, the items whose write has been submitted but has not started yet.

    `write(session, key, items)` runs as one group-commit unit (same rules: it may raise
    only before it changes anything). Items join in the order they were added; once the
    write starts, the next item opens a new write, submitted after it.
    """

    def __init__(
        self,
        db: Database,
        write: Callable[[AsyncSession, K, list[I]], Awaitable[None]],
        preload: Callable[[K], Preload] | None = None,
    ) -> None:
        self._db = db
        self._write = write
        self._preload = preload  # the row a write of `key` will `session.get`
        self._open: dict[K, _Batch[I]] = {}

    def add(self, key: K, item: I, member: Hashable = None) -> asyncio.Future[None]:
        """Submit `item` (synchronously: its place in the commit order is fixed on return);
        the future completes once it is committed. `member`: what `close` may name."""
        batch = self._open.get(key)
        if batch is None or member in batch.closed:
            batch = self._open[key] = _Batch()
            batch.written = self._db.submit(
                self._unit(key, batch), self._preload(key) if self._preload else None
            )
        batch.items.append(item)
        assert batch.written is not None
        return batch.written

    def close(self, key: K, member: Hashable = None) -> None:
        """Let no later item of `member` join the open write of `key` (it must not overtake
        something submitted in between); other members' items still may. Without a member,
        no later item at all."""
        batch = self._open.get(key)
        if batch is None:
            return
        if member is None:
            del self._open[key]
        else:
            batch.closed.add(member)

    def _unit(self, key: K, batch: _Batch[I]) -> Callable[[AsyncSession], Awaitable[None]]:
        async def unit(session: AsyncSession) -> None:
            if self._open.get(key) is batch:
                del self._open[key]  # from now on items start a new write
            await self._write(session, key, batch.items)

        return unit
