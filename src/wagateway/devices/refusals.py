"""The refusals a device action gives when WhatsApp cannot be asked or says no, shared by
the API, the dashboard and the services behind them (CONTRACT §1, §8)."""

from __future__ import annotations

from wagateway.core.errors import ApiError, not_found
from wagateway.devices.models import Device
from wagateway.engines.base import EngineError


def not_connected(device: Device) -> ApiError:
    return ApiError(
        409,
        "device_not_connected",
        f"the device is {device.status}; this needs a connected device",
        {"status": device.status},
    )


def engine_failed(exc: EngineError) -> ApiError:
    """The engine could not reach WhatsApp for the device (it went offline meanwhile)."""
    return ApiError(409, "device_not_connected", exc.message, {"engine_error": exc.code})


def group_refusal(exc: EngineError) -> ApiError:
    """A group change the engine refused (CONTRACT §8.3): an unknown group, rights the account
    lacks, or WhatsApp out of reach."""
    if exc.code == "not_found":
        return not_found("group")
    if exc.code == "not_group_admin":
        return ApiError(
            403,
            "forbidden",
            "the account is not an admin of this group",
            {"reason": "not_group_admin"},
        )
    return ApiError(409, "device_not_connected", exc.message)
