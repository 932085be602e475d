from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from wagateway.apps.pacing import PacingUpdate
from wagateway.apps.service import KEEP, Keep
from wagateway.devices.models import Device
from wagateway.devices.policies import CallPolicy, PresenceMode, validated_call_policy
from wagateway.devices.qr_image import qr_png_data_url


class CallPolicyIn(BaseModel):
    """What happens to calls to the account (CONTRACT §8.2)."""

    model_config = ConfigDict(extra="forbid")
    reject: StrictBool = Field(description="reject every incoming call")
    reply_text: str | None = Field(
        None,
        description="sent to a rejected caller as an ordinary queued text (`source: auto`); "
        "needs reject: true",
    )

    def checked(self) -> CallPolicy:
        """The policy, or 400 (`devices/policies.py`)."""
        return validated_call_policy(self.reject, self.reply_text)


def call_policy_update(body: BaseModel, value: CallPolicyIn | None) -> dict[str, Any] | None | Keep:
    """What a PATCH says about `call_policy`: the stored policy, None (given as null: clear,
    inherit) or `KEEP` (left out)."""
    if "call_policy" not in body.model_fields_set:
        return KEEP
    return value.checked().stored() if value is not None else None


def presence_mode_update(body: BaseModel, value: str | None) -> str | None | Keep:
    """What a PATCH says about `presence_mode`: the mode, None (clear) or `KEEP`."""
    return value if "presence_mode" in body.model_fields_set else KEEP


HISTORY_SYNC_DESCRIPTION = (
    "import the chats and messages WhatsApp sends at linking (stored with source "
    '"history", `history_sync` events report progress); set before the device links, '
    "it applies to that link, else from the next one"
)


class DeviceCreate(BaseModel):
    device_name: str = Field(description="unique among the app's devices that are not destroyed")
    pacing: PacingUpdate | None = Field(None, description="send pacing overrides for this device")
    history_sync: bool = Field(False, description=HISTORY_SYNC_DESCRIPTION)


class DeviceUpdate(BaseModel):
    device_name: str | None = None
    pacing: PacingUpdate | None = Field(
        None, description="send pacing overrides; fields left out inherit the app's"
    )
    call_policy: CallPolicyIn | None = Field(
        None, description="this device's call policy; null: the app's applies"
    )
    presence_mode: PresenceMode | None = Field(
        None,
        description="on_demand (online only while acting) or always_online; null: the app's",
    )
    history_sync: bool | None = Field(None, description=HISTORY_SYNC_DESCRIPTION)


class PairingCodeRequest(BaseModel):
    phone: str = Field(description="the phone number that will enter the code, with country code")


class DeviceOut(BaseModel):
    device_id: str
    device_name: str
    app_id: str
    status: str
    connection: str
    qr: str | None
    qr_image: str | None
    qr_expires_at: datetime | None
    pairing_code: str | None
    wa_number: str | None
    wa_device_jid: str | None
    linked_at: datetime | None
    last_error: str | None
    engine: str
    pacing: dict[str, Any] | None
    call_policy: dict[str, Any] | None = Field(
        None,
        description="this device's own call policy (`reject`, `reply_text`); null when it "
        "follows the app's (GET /app)",
    )
    presence_mode: str | None = Field(
        None, description="this device's own presence mode; null when it follows the app's"
    )
    history_sync: bool = Field(False, description=HISTORY_SYNC_DESCRIPTION)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls(
            device_id=device.id,
            device_name=device.name,
            app_id=device.app_id,
            status=device.status,
            connection=device.connection,
            qr=device.qr,
            qr_image=qr_png_data_url(device.qr) if device.qr else None,
            qr_expires_at=device.qr_expires_at,
            pairing_code=device.pairing_code,
            wa_number=device.wa_number,
            wa_device_jid=device.wa_device_jid,
            linked_at=device.linked_at,
            last_error=device.last_error,
            engine=device.engine,
            pacing=device.pacing,
            call_policy=device.call_policy,
            presence_mode=device.presence_mode,
            history_sync=device.history_sync,
            created_at=device.created_at,
            updated_at=device.updated_at,
        )


class DeviceList(BaseModel):
    devices: list[DeviceOut]
