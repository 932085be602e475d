"""Writing events into the outbox: always inside the caller's transaction.

An event row committed together with the state change that caused it is the whole
durability story: if the transaction commits, the event will be delivered (after any
crash); if it rolls back, the event never existed.

Rows are deferred (`core/deferred_writes.py`): inserted with one Core statement at the
session's commit, or before a statement of the session that reads or writes events,
whichever comes first. The hot paths write four events per message, and as ORM objects
they cost an instance, its state and a place in the flush each; none of that is ever used
again (the dispatcher reads events back with queries of its own). They are inserted in the
order they were recorded, which is the order of `seq`, so a device's events keep it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wagateway.core.db import new_id, table_of, utcnow
from wagateway.core.deferred_writes import defer_insert
from wagateway.webhooks.models import Event

_wakers: list[Callable[[], None]] = []
_EVENTS = table_of(Event)


def on_commit_with_events(waker: Callable[[], None]) -> Callable[[], None]:
    """Call `waker` on the caller's event loop soon after any commit that wrote events (as
    a callback of its own, never inside the commit); returns an unregister function."""
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(waker)

    _wakers.append(wake)
    return lambda: _wakers.remove(wake)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("wrote_events", False):
        for waker in list(_wakers):
            waker()


def mark_events_written(session: AsyncSession) -> None:
    """Wake the dispatcher once this session commits (new or requeued events)."""
    session.sync_session.info["wrote_events"] = True


def record_event(
    session: AsyncSession,
    *,
    app_id: str,
    device_id: str | None,
    event: str,
    payload: dict[str, Any],
) -> str:
    """Add an event to the outbox of `session`'s transaction; returns its id (request_id)."""
    # The rest (pending, no attempts, due now, live) are the columns' defaults, applied by
    # the INSERT as they were for ORM rows.
    row = {
        "id": new_id(),
        "app_id": app_id,
        "device_id": device_id,
        "event": event,
        "payload": payload,
        "occurred_at": utcnow(),
    }
    defer_insert(session, _EVENTS, row)
    mark_events_written(session)
    return str(row["id"])
