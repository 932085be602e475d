"""Writing what came of delivered runs: each stream's new position (or its head's retry),
each redelivery done or rescheduled, every attempt in the delivery log, events given up on
as failures, and the leases handed back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from wagateway.core.db import table_of
from wagateway.delivery.http import Outcome
from wagateway.delivery.leases import Leased, LeasedRun
from wagateway.webhooks.models import (
    Event,
    WebhookAttempt,
    WebhookFailure,
    WebhookRedelivery,
    WebhookStream,
)

log = structlog.get_logger(__name__)

_ATTEMPTS = table_of(WebhookAttempt)
_FAILURES = table_of(WebhookFailure)


@dataclass
class RunResult:
    """A leased run and the attempts made of it, in order (fewer than its events when one
    failed, or the dispatcher stopped: the rest stay where they are)."""

    run: LeasedRun
    outcomes: list[tuple[Leased, Outcome]] = field(default_factory=list)


def next_attempt(schedule: Sequence[float], attempts_made: int, now: datetime) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None once the retry
    schedule is spent."""
    if attempts_made > len(schedule):
        return None
    return now + timedelta(seconds=schedule[attempts_made - 1])


def record_runs(
    session: Session, retry_schedule: Sequence[float], results: list[RunResult], now: datetime
) -> None:
    """Write the results of finished runs. Synchronous: one transaction at once
    (`Database.write_at_once`)."""
    rows = {
        **_rows(session, WebhookStream, [r.run for r in results if not r.run.is_redelivery]),
        **_rows(session, WebhookRedelivery, [r.run for r in results if r.run.is_redelivery]),
    }
    previous = _attempts_so_far(session, results)
    # Events deleted meanwhile (their app was) take their log with them.
    existing = set(
        session.scalars(
            select(Event.seq).where(Event.seq.in_({e.seq for r in results for e, _ in r.outcomes}))
        )
    )
    attempts: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for result in results:
        run = result.run
        row = rows.get(run.key)
        if row is None:
            # Its endpoint was disabled or deleted meanwhile: no state to move on, but what
            # was sent stays in the log.
            attempts.extend(
                _attempt_row(run, event, outcome, _next_number(previous, run, event), now)
                for event, outcome in result.outcomes
                if event.seq in existing
            )
            continue
        row.claimed_by = row.claimed_until = None
        failed_before = run.attempt_count
        for event, outcome in result.outcomes:
            attempts.append(
                _attempt_row(run, event, outcome, _next_number(previous, run, event), now)
            )
            if outcome.succeeded:
                _settle(session, row, event)
                failed_before = 0
                continue
            count = failed_before + 1
            retry_at = None if outcome.undeliverable else next_attempt(retry_schedule, count, now)
            log.info(
                "webhook_attempt_failed",
                request_id=event.id,
                webhook_event=event.event,
                device_id=event.device_id,
                endpoint_id=run.endpoint_id,
                status_code=outcome.status_code,
                error=outcome.error,
                gave_up=retry_at is None,
            )
            if retry_at is None:
                failures.append(
                    {
                        "app_id": run.app_id,
                        "endpoint_id": run.endpoint_id,
                        "event_seq": event.seq,
                        "device_id": event.device_id,
                        "failed_at": now,
                    }
                )
                _settle(session, row, event)
                failed_before = 0
                continue
            row.attempt_count, row.next_attempt_at = count, retry_at
            break
    session.flush()
    if failures:
        session.execute(
            delete(WebhookFailure).where(
                tuple_(
                    WebhookFailure.app_id, WebhookFailure.endpoint_id, WebhookFailure.event_seq
                ).in_([(f["app_id"], f["endpoint_id"], f["event_seq"]) for f in failures])
            )
        )
        session.execute(insert(_FAILURES), failures)
    if attempts:  # one multi-row INSERT (Core: no primary keys to read back)
        session.execute(insert(_ATTEMPTS), attempts)


def _settle(session: Session, row: WebhookStream | WebhookRedelivery, event: Leased) -> None:
    """The event is done with (delivered, or given up on): a stream moves past it, a
    redelivery is over."""
    if isinstance(row, WebhookStream):
        row.position = event.seq
        row.attempt_count = 0
    else:
        session.delete(row)


def _rows(
    session: Session, model: type[WebhookStream] | type[WebhookRedelivery], runs: list[LeasedRun]
) -> dict[tuple[Any, ...], Any]:
    """The rows the runs were leased from, by primary key (`LeasedRun.key`)."""
    if not runs:
        return {}
    columns = list(table_of(model).primary_key.columns)
    found = session.scalars(select(model).where(tuple_(*columns).in_([run.key for run in runs])))
    return {tuple(getattr(row, column.key) for column in columns): row for row in found}


def _next_number(previous: dict[tuple[str, int], int], run: LeasedRun, event: Leased) -> int:
    key = (run.endpoint_id, event.seq)
    previous[key] = previous.get(key, 0) + 1
    return previous[key]


def _attempts_so_far(session: Session, results: list[RunResult]) -> dict[tuple[str, int], int]:
    """(endpoint, event) → attempts already in the log, to number the new ones."""
    keys = {(r.run.endpoint_id, e.seq) for r in results for e, _ in r.outcomes}
    if not keys:
        return {}
    stmt = (
        select(WebhookAttempt.endpoint_id, WebhookAttempt.event_seq, func.count())
        .where(WebhookAttempt.event_seq.in_({seq for _, seq in keys}))
        .group_by(WebhookAttempt.endpoint_id, WebhookAttempt.event_seq)
    )
    return {(endpoint, seq): count for endpoint, seq, count in session.execute(stmt)}


def _attempt_row(
    run: LeasedRun, event: Leased, outcome: Outcome, number: int, now: datetime
) -> dict[str, Any]:
    return {
        "event_seq": event.seq,
        "endpoint_id": run.endpoint_id,
        "attempt": number,
        "url": outcome.url[:2000],
        "started_at": outcome.started_at or now,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": (outcome.response_excerpt or "")[:4000] or None,
        "error": outcome.error,
        "succeeded": outcome.succeeded,
    }
