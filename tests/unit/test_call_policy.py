"""The call policy's and presence mode's rules (CONTRACT §8.1, §8.2): what a PATCH may set, and
which one applies to a device (its own, else its app's)."""

from __future__ import annotations

import pytest

from wagateway.apps.models import App
from wagateway.core.errors import ApiError
from wagateway.devices.models import Device
from wagateway.devices.policies import (
    REPLY_TEXT_MAX,
    CallPolicy,
    call_policy_of,
    presence_mode_of,
    validated_call_policy,
    validated_presence_mode,
)
from wagateway.messages.validation import TEXT_MAX


def test_the_reply_obeys_a_text_messages_limit() -> None:
    assert REPLY_TEXT_MAX == TEXT_MAX
    assert validated_call_policy(True, "x" * TEXT_MAX).reply_text == "x" * TEXT_MAX
    with pytest.raises(ApiError) as long:
        validated_call_policy(True, "x" * (TEXT_MAX + 1))
    assert (long.value.status, long.value.details) == (400, {"field": "call_policy.reply_text"})


def test_a_blank_reply_is_none_and_a_reply_needs_reject() -> None:
    assert validated_call_policy(True, "  \n") == CallPolicy(reject=True, reply_text=None)
    assert validated_call_policy(False, None) == CallPolicy(reject=False)
    with pytest.raises(ApiError) as orphan:
        validated_call_policy(False, "Maaf")
    assert orphan.value.details == {"field": "call_policy.reply_text"}


def test_presence_modes() -> None:
    assert validated_presence_mode("always_online") == "always_online"
    assert validated_presence_mode(None) is None
    with pytest.raises(ApiError) as bad:
        validated_presence_mode("sometimes")
    assert bad.value.details == {"field": "presence_mode"}


def test_the_device_wins_else_the_app_else_the_default() -> None:
    app = App(call_policy={"reject": True, "reply_text": "Maaf"}, presence_mode="always_online")
    device = Device(call_policy=None, presence_mode=None)
    assert call_policy_of(app, device) == CallPolicy(reject=True, reply_text="Maaf")
    assert presence_mode_of(app, device) == "always_online"
    device.call_policy, device.presence_mode = {"reject": False, "reply_text": None}, "on_demand"
    assert call_policy_of(app, device) == CallPolicy(reject=False)
    assert presence_mode_of(app, device) == "on_demand"
    bare = App(call_policy=None, presence_mode=None)
    assert call_policy_of(bare, Device()) == CallPolicy()
    assert presence_mode_of(bare, Device()) == "on_demand"
