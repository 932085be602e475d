"""The call and presence policies that apply to a device: its own override, else its app's.

CONTRACT §8.1/§8.2: `presence_mode` and `call_policy` are set on the app (`PATCH /app`) and
on a device (`PATCH /devices/{id}`, which wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from wagateway.apps.models import App
from wagateway.core.errors import validation_error
from wagateway.devices.models import Device

PresenceMode = Literal["on_demand", "always_online"]
PRESENCE_MODES: tuple[PresenceMode, ...] = ("on_demand", "always_online")
# Being online on a linked device silences the phone's notifications, so a business account
# shows online only while it acts unless the app asks for more.
DEFAULT_PRESENCE_MODE: PresenceMode = "on_demand"


@dataclass(frozen=True)
class CallPolicy:
    reject: bool = False
    reply_text: str | None = None

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> CallPolicy | None:
        if stored is None:
            return None
        return cls(reject=bool(stored.get("reject")), reply_text=stored.get("reply_text") or None)

    def stored(self) -> dict[str, Any]:
        return {"reject": self.reject, "reply_text": self.reply_text}


def presence_mode_of(app: App, device: Device) -> PresenceMode:
    mode = device.presence_mode or app.presence_mode or DEFAULT_PRESENCE_MODE
    return mode if mode in PRESENCE_MODES else DEFAULT_PRESENCE_MODE


def call_policy_of(app: App, device: Device) -> CallPolicy:
    """The device's policy when it has one, else the app's; calls are only reported by default."""
    return (
        CallPolicy.from_stored(device.call_policy)
        or CallPolicy.from_stored(app.call_policy)
        or CallPolicy()
    )


# The reply is sent as an ordinary text message, so it obeys a text's limit
# (`messages/validation.py` TEXT_MAX, a layer above; tests/unit/test_call_policy.py keeps
# the two equal).
REPLY_TEXT_MAX = 65536


def validated_call_policy(reject: bool, reply_text: str | None) -> CallPolicy:
    """A call policy as given to `PATCH /app`, `PATCH /devices/{id}` or the dashboard, or 400
    naming the field. A blank reply text is none; a reply needs `reject: true` (it is what a
    rejected caller receives)."""
    text = reply_text if reply_text is not None and reply_text.strip() else None
    if text is not None and len(text) > REPLY_TEXT_MAX:
        raise validation_error(
            f"call_policy.reply_text is longer than {REPLY_TEXT_MAX} characters",
            "call_policy.reply_text",
        )
    if text is not None and not reject:
        raise validation_error(
            "call_policy.reply_text is sent to a rejected caller: it needs reject: true",
            "call_policy.reply_text",
        )
    return CallPolicy(reject=reject, reply_text=text)


def validated_presence_mode(mode: str | None) -> PresenceMode | None:
    """`on_demand`, `always_online`, or None (inherit: the app's, else the default); 400
    otherwise."""
    if mode is None:
        return None
    for known in PRESENCE_MODES:
        if mode == known:
            return known
    raise validation_error(
        f"presence_mode must be one of {', '.join(PRESENCE_MODES)} (or null)", "presence_mode"
    )
