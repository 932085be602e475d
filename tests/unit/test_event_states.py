"""An event's delivery states (webhooks/states.py): the API's strings, in the API's order."""

from __future__ import annotations

from wagateway.webhooks import service
from wagateway.webhooks.states import EventState


def test_the_states_are_the_apis_strings() -> None:
    assert [s.value for s in EventState] == ["pending", "delivered", "failed", "skipped"]
    # The listing's filter and its error message name them in this order.
    assert ", ".join(service.STATES) == "pending, delivered, failed, skipped"
