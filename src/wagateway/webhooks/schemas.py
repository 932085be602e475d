from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from wagateway.webhooks.models import Event, WebhookAttempt
from wagateway.webhooks.states import EventState


class AttemptOut(BaseModel):
    attempt: int
    url: str
    started_at: datetime
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    succeeded: bool

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptOut:
        return cls(
            attempt=a.attempt,
            url=a.url,
            started_at=a.started_at,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            response_excerpt=a.response_excerpt,
            error=a.error,
            succeeded=a.succeeded,
        )


class DeliveryOut(BaseModel):
    request_id: str
    event: str
    device_id: str | None
    state: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    archived: bool
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, e: Event, attempts: list[WebhookAttempt]) -> DeliveryOut:
        return cls(
            request_id=e.id,
            event=e.event,
            device_id=e.device_id,
            state=e.state,
            attempts=e.attempt_count,
            last_status_code=e.last_status_code,
            last_error=e.last_error,
            next_attempt_at=e.next_attempt_at if e.state == EventState.PENDING else None,
            created_at=e.occurred_at,
            delivered_at=e.delivered_at,
            archived=e.archived,
            payload=e.payload,
            attempt_log=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class RedeliverAllOut(BaseModel):
    requeued: int
