"""Writing events into the outbox: always inside the caller's transaction.

An event row committed together with the state change that caused it is the whole
durability story: if the transaction commits, the event will be delivered (after any
crash); if it rolls back, the event never existed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wagateway.webhooks.models import Event

_wakers: list[Callable[[], None]] = []


def on_commit_with_events(waker: Callable[[], None]) -> Callable[[], None]:
    """Call `waker` after any commit that wrote events; returns an unregister function."""
    _wakers.append(waker)
    return lambda: _wakers.remove(waker)


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
) -> Event:
    row = Event(app_id=app_id, device_id=device_id, event=event, payload=payload)
    session.add(row)
    mark_events_written(session)
    return row
