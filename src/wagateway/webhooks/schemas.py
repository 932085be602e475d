from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from wagateway.webhooks.models import WebhookAttempt
from wagateway.webhooks.service import Delivery, EndpointDelivery
from wagateway.webhooks.states import EventState


class AttemptOut(BaseModel):
    endpoint_id: str
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
            endpoint_id=a.endpoint_id,
            attempt=a.attempt,
            url=a.url,
            started_at=a.started_at,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            response_excerpt=a.response_excerpt,
            error=a.error,
            succeeded=a.succeeded,
        )


class EndpointDeliveryOut(BaseModel):
    endpoint_id: str
    state: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, e: EndpointDelivery) -> EndpointDeliveryOut:
        return cls(
            endpoint_id=e.endpoint_id,
            state=e.state,
            attempts=e.attempt_count,
            last_status_code=e.last_status_code,
            last_error=e.last_error,
            next_attempt_at=e.next_attempt_at,
            delivered_at=e.delivered_at,
        )


class DeliveryOut(BaseModel):
    request_id: str
    event: str
    device_id: str | None
    state: str = Field(
        description="pending while an endpoint still has it to send, else failed when one "
        "gave up on it, else delivered; skipped when no endpoint was for it (with "
        "`endpoint_id`: that endpoint's state)"
    )
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    archived: bool
    payload: dict[str, Any]
    endpoints: list[EndpointDeliveryOut] = Field(description="its state on each endpoint it is for")
    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            request_id=d.id,
            event=d.name,
            device_id=d.device_id,
            state=d.state,
            attempts=d.attempt_count,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at if d.state == EventState.PENDING else None,
            created_at=d.occurred_at,
            delivered_at=d.delivered_at,
            archived=d.archived,
            payload=d.payload,
            endpoints=[EndpointDeliveryOut.of(e) for e in d.endpoints],
            attempt_log=[AttemptOut.of(a) for a in d.attempts],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class RedeliverAllOut(BaseModel):
    requeued: int
