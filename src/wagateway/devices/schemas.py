from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from wagateway.apps.pacing import PacingUpdate
from wagateway.devices.models import Device
from wagateway.devices.qr_image import qr_png_data_url


class DeviceCreate(BaseModel):
    device_name: str = Field(description="unique among the app's devices that are not destroyed")
    pacing: PacingUpdate | None = Field(None, description="send pacing overrides for this device")


class DeviceUpdate(BaseModel):
    device_name: str | None = None
    pacing: PacingUpdate | None = Field(
        None, description="send pacing overrides; fields left out inherit the app's"
    )


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
            created_at=device.created_at,
            updated_at=device.updated_at,
        )


class DeviceList(BaseModel):
    devices: list[DeviceOut]
