"""An event's delivery states (the `state` of `GET /webhooks/deliveries`), in one place.

They are not stored: on each endpoint an event is `pending` while it is still ahead of the
endpoint's place in its device's events (or a redelivery of it waits), `delivered` once an
attempt succeeded, `failed` once the endpoint gave up on it (its retry schedule spent, or it
cannot be sent); summed up over the endpoints, `skipped` when no endpoint was for it
(`webhooks/service.py` works them out). Any event can be redelivered, whatever its state.
"""

from __future__ import annotations

from enum import StrEnum


class EventState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
