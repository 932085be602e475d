"""An event's delivery states and the transitions between them (webhooks/states.py)."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from wagateway.core.db import utcnow
from wagateway.delivery import recorder
from wagateway.webhooks import service
from wagateway.webhooks.states import (
    ALLOWED,
    EventState,
    IllegalEventTransition,
    can_transition,
    check_transition,
)

# Written out by hand, not derived from ALLOWED: the table is what is under test.
LEGAL = {
    ("pending", "pending"),  # a failed attempt with retries left; a redelivery
    ("pending", "delivered"),
    ("pending", "failed"),
    ("pending", "skipped"),
    ("delivered", "pending"),  # redelivered
    ("failed", "pending"),
    ("skipped", "pending"),
}
ALL_PAIRS = set(itertools.product([s.value for s in EventState], repeat=2))


def test_the_states_are_the_apis_strings() -> None:
    assert [s.value for s in EventState] == ["pending", "delivered", "failed", "skipped"]
    assert set(ALLOWED) == set(EventState)
    # The listing's filter and its error message name them in this order.
    assert ", ".join(service.STATES) == "pending, delivered, failed, skipped"


@pytest.mark.parametrize("current,target", sorted(LEGAL), ids=lambda s: str(s))
def test_a_legal_transition_is_allowed(current: str, target: str) -> None:
    assert can_transition(current, target)
    assert check_transition(current, target) is EventState(target)


@pytest.mark.parametrize("current,target", sorted(ALL_PAIRS - LEGAL), ids=lambda s: str(s))
def test_an_illegal_transition_is_refused(current: str, target: str) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalEventTransition) as refused:
        check_transition(current, target)
    assert (refused.value.current, refused.value.target) == (current, target)


def test_a_state_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        check_transition("pending", "sent")
    with pytest.raises(ValueError):
        check_transition("queued", "pending")


def test_the_recorder_writes_only_what_the_table_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now: datetime = utcnow()
    row = recorder._new_state(7, EventState.DELIVERED, 1, None, now)
    assert row["state"] == "delivered" and row["delivered_at"] == now
    assert row["claimed_by"] is None and row["claimed_until"] is None
    assert recorder._new_state(7, EventState.PENDING, 2, now, now)["next_attempt_at"] == now
    # Every state is reachable from pending today, so take one away: the recorder must ask
    # the table rather than trust its caller.
    monkeypatch.setitem(ALLOWED, EventState.PENDING, frozenset({EventState.PENDING}))
    with pytest.raises(IllegalEventTransition):
        recorder._new_state(7, EventState.DELIVERED, 1, None, now)
