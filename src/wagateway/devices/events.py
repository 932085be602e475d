"""Device lifecycle events (CONTRACT §4): one function per event, so payloads stay uniform."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.timefmt import rfc3339
from wagateway.devices.models import Device
from wagateway.engines.base import GroupChanged, IncomingCall
from wagateway.webhooks.outbox import record_event


def _emit(session: AsyncSession, device: Device, event: str, payload: dict[str, Any]) -> None:
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event=event,
        payload={"device_name": device.name, **payload},
    )


def qr_generated(session: AsyncSession, device: Device) -> None:
    _emit(
        session,
        device,
        "device_qr_generated",
        {
            "status": device.status,
            "qr": device.qr,
            "qr_expires_at": rfc3339(device.qr_expires_at),
            "pairing_code": device.pairing_code,
        },
    )


def connected(session: AsyncSession, device: Device, *, reconnected: bool = False) -> None:
    _emit(
        session,
        device,
        "device_connected",
        {
            "status": device.status,
            "wa_number": device.wa_number,
            "wa_device_jid": device.wa_device_jid,
            "linked_at": rfc3339(device.linked_at),
            "reconnected": reconnected,
        },
    )


def disconnected(session: AsyncSession, device: Device, reason: str) -> None:
    _emit(
        session,
        device,
        "device_disconnected",
        {"status": device.status, "reason": reason, "last_error": device.last_error},
    )


def expired(session: AsyncSession, device: Device) -> None:
    _emit(session, device, "device_expired", {"status": device.status})


def destroyed(session: AsyncSession, device: Device) -> None:
    _emit(session, device, "device_destroyed", {"status": device.status})


def warning(session: AsyncSession, device: Device, code: str, message: str) -> None:
    _emit(session, device, "device_warning", {"code": code, "message": message})


def call(session: AsyncSession, device: Device, call: IncomingCall) -> None:
    """`call` (CONTRACT §8.2): a contact's call, as it rings, is answered, rejected or ends.
    `from` is the caller's phone number, else its LID JID (as a message's `from`)."""
    record_event(
        session,
        app_id=device.app_id,
        device_id=device.id,
        event="call",
        payload={
            "call_id": call.call_id,
            "from": call.caller_phone or call.caller_lid or call.caller,
            "video": call.video,
            "group": call.group,
            "state": call.state,
            "timestamp": rfc3339(call.at),
        },
    )


def group_changed(session: AsyncSession, device: Device, change: GroupChanged) -> None:
    """`group_participants`, `group_updated`, `group_joined` (CONTRACT §8.2)."""
    payload: dict[str, Any] = {"group": change.group}
    if change.kind == "group_participants":
        payload |= {
            "action": change.action,
            "participants": list(change.participants),
            "by": change.by,
        }
    elif change.kind == "group_updated":
        payload |= dict(change.changes) | {"by": change.by}
    else:
        payload |= {"subject": change.subject, "by": change.by}
    record_event(
        session, app_id=device.app_id, device_id=device.id, event=change.kind, payload=payload
    )
