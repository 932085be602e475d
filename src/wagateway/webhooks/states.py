"""An event's delivery states (the `state` of `GET /webhooks/deliveries`), in one place.

Every state an event is given is checked against `ALLOWED`: an event waits (`pending`)
until an attempt succeeds (`delivered`), the retry schedule is spent or the request cannot
be built (`failed`), or it turns out its app has no webhook target (`skipped`). A failed
attempt with retries left keeps it `pending`. Any event that is not pending, whatever came
of it, can be redelivered: it is `pending` again, with the same request_id.
"""

from __future__ import annotations

from enum import StrEnum


class EventState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


ALLOWED: dict[EventState, frozenset[EventState]] = {
    # pending → pending is a failed attempt with retries left, or a redelivery of an event
    # that was still waiting (a fresh retry schedule).
    EventState.PENDING: frozenset(
        {EventState.PENDING, EventState.DELIVERED, EventState.FAILED, EventState.SKIPPED}
    ),
    # The outcomes are final until someone asks for a redelivery.
    EventState.DELIVERED: frozenset({EventState.PENDING}),
    EventState.FAILED: frozenset({EventState.PENDING}),
    EventState.SKIPPED: frozenset({EventState.PENDING}),
}


class IllegalEventTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an event cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return EventState(target) in ALLOWED[EventState(current)]


def check_transition(current: str, target: str) -> EventState:
    if not can_transition(current, target):
        raise IllegalEventTransition(current, target)
    return EventState(target)
