"""Writing delivery outcomes: each event's new state (delivered, retried later, failed,
skipped), its attempt in the delivery log, and the lease handed back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from wagateway.core.db import Database, lock_rows, table_of, unindexed
from wagateway.core.deferred_writes import update_by_key
from wagateway.delivery.http import Outcome
from wagateway.delivery.leases import Leased
from wagateway.webhooks.models import Event, WebhookAttempt
from wagateway.webhooks.states import EventState, check_transition

log = structlog.get_logger(__name__)


class Release:
    """Outcome of an event that was leased but not attempted (behind a failed one)."""


RELEASE = Release()

# What became of a leased event: an attempt's outcome, None (no webhook target: `skipped`),
# or RELEASE (not attempted: give the lease back).
Result = Outcome | None | Release

_EVENTS = table_of(Event)
_ATTEMPTS = table_of(WebhookAttempt)


def next_attempt(schedule: Sequence[float], attempts_made: int, now: datetime) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None once the retry
    schedule is spent."""
    if attempts_made > len(schedule):
        return None
    return now + timedelta(seconds=schedule[attempts_made - 1])


def record_outcomes(
    session: Session,
    db: Database,
    retry_schedule: Sequence[float],
    results: list[tuple[Leased, Result]],
    now: datetime,
) -> None:
    """Each outcome as one row of an executemany UPDATE (and its attempt as one row of
    an INSERT): Core statements, so a burst costs a few statements, not an ORM flush.
    Synchronous: one transaction at once (`Database.write_at_once`)."""
    seqs = [event.seq for event, _ in results]
    current = lock_rows(
        select(Event.seq, Event.attempt_count).where(
            Event.seq.in_(seqs), unindexed(Event.state) == EventState.PENDING
        ),
        db,
    )
    # Rows are tuples (`Result.tuples()` is deprecated in SQLAlchemy 2.1, and its
    # warning was issued on every batch).
    attempt_counts: dict[int, int] = dict(session.execute(current).all())
    previous: dict[int, int] = dict(
        session.execute(
            select(WebhookAttempt.event_seq, func.count())
            .where(WebhookAttempt.event_seq.in_(seqs))
            .group_by(WebhookAttempt.event_seq)
        ).all()
    )
    released: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for event, outcome in results:
        if event.seq not in attempt_counts:
            continue  # no longer pending (redelivered, archived, deleted)
        if isinstance(outcome, Release):
            released.append({"seq": event.seq, "claimed_by": None, "claimed_until": None})
            continue
        if outcome is None:
            changed.append(
                _new_state(event.seq, EventState.SKIPPED, attempt_counts[event.seq], None, now)
                | {"last_error": "no webhook target"}
            )
            continue
        count = attempt_counts[event.seq] = attempt_counts[event.seq] + 1
        previous[event.seq] = previous.get(event.seq, 0) + 1
        attempts.append(
            {
                "event_seq": event.seq,
                "attempt": previous[event.seq],
                "url": outcome.url[:2000],
                "started_at": now,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "response_excerpt": (outcome.response_excerpt or "")[:4000] or None,
                "error": outcome.error,
                "succeeded": outcome.succeeded,
            }
        )
        if outcome.succeeded:
            state, next_at = EventState.DELIVERED, None
        else:
            next_at = None if outcome.undeliverable else next_attempt(retry_schedule, count, now)
            state = EventState.FAILED if next_at is None else EventState.PENDING
            log.info(
                "webhook_attempt_failed",
                request_id=event.id,
                webhook_event=event.event,
                device_id=event.device_id,
                status_code=outcome.status_code,
                error=outcome.error,
                state=state,
            )
        changed.append(
            _new_state(event.seq, state, count, next_at, now)
            | {"last_error": outcome.error, "last_status_code": outcome.status_code}
        )
    connection = session.connection()
    update_by_key(connection, _EVENTS, "seq", released + changed)
    if attempts:  # one multi-row INSERT (Core: no primary keys to read back)
        connection.execute(insert(_ATTEMPTS), attempts)


def _new_state(
    seq: int,
    state: EventState,
    attempt_count: int,
    next_attempt_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns an outcome of a pending event sets, by name (the lease is always handed
    back)."""
    row: dict[str, Any] = {
        "seq": seq,
        "claimed_by": None,
        "claimed_until": None,
        "state": check_transition(EventState.PENDING, state),
        "attempt_count": attempt_count,
    }
    if state == EventState.DELIVERED:
        row["delivered_at"] = now
    if next_attempt_at is not None:
        row["next_attempt_at"] = next_attempt_at
    return row
