"""The call and presence policies that apply to a device: its own override, else its app's.

CONTRACT §8.1/§8.2: `presence_mode` and `call_policy` are set on the app (`PATCH /app`) and
on a device (`PATCH /devices/{id}`, which wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from wagateway.apps.models import App
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
