"""What many in-process tests start from: an app, and devices linked or not, built with the
gateway's own models (added to a session by the test); the message sink a runtime writes
inbound messages through."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wagateway.apps.models import App
from wagateway.devices.models import Device
from wagateway.media.store import LocalMediaStore
from wagateway.messages.early_receipts import EarlyReceipts
from wagateway.messages.sink import InboundMessages


def shop_app(app_id: str = "app", **fields: Any) -> App:
    """A sandbox app (its webhook secret a placeholder: never decrypted)."""
    return App(id=app_id, name="shop", engine="sandbox", webhook_secret_enc="x", **fields)


def linked_device(device_id: str, phone: str, app_id: str = "app", **fields: Any) -> Device:
    """A sandbox device linked to `phone`, session epoch 1, offline until a session of it
    connects (override any column with `fields`)."""
    columns: dict[str, Any] = {
        "app_id": app_id,
        "name": device_id,
        "engine": "sandbox",
        "status": "connected",
        "connection": "offline",
        "wa_number": phone,
        "wa_device_jid": f"{phone}:2@s.whatsapp.net",
        "linked_at": datetime.now(UTC),
        "session_epoch": 1,
    }
    return Device(id=device_id, **(columns | fields))


def inbound_sink(media_dir: Path) -> InboundMessages:
    """A `SessionRuntime`'s sink, its media kept in `media_dir`."""
    return InboundMessages(LocalMediaStore(media_dir), 1024, EarlyReceipts())
