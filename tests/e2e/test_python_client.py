"""The Python client (clients/python, generated from `/openapi.json`) against a real server: the
README's quick start through it, with its error answers (a 409, a 404, a 410) read through the
client's typed exceptions."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from wagateway_client import AuthenticatedClient, errors
from wagateway_client.api.devices import (
    create_device,
    delete_device,
    disconnect_device,
    get_device,
    list_devices,
    regenerate_qr,
)
from wagateway_client.api.messages import get_message, list_messages, send_message
from wagateway_client.api.sandbox import scan
from wagateway_client.models import (
    DeviceCreate,
    DeviceOut,
    ScanRequest,
    SendMessageRequest,
    SendMessageRequestType,
)

from tests.support.harness import GatewayServer

# Its subject is the client, not the database: SQLite only (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]


async def scan_current_qr(gw: AuthenticatedClient, device_id: str) -> DeviceOut:
    """Scan the QR the device shows now: tests rotate it every second, so the one read may be
    gone when it is scanned (then read the new one, or open a new window if this one ended)."""
    failure: errors.WAGatewayError | None = None
    for _ in range(10):
        current = await get_device.asyncio(device_id, client=gw)
        if current.status != "qr_generated":
            current = await regenerate_qr.asyncio(device_id, client=gw)
        assert current.qr is not None
        try:
            return await scan.asyncio(
                client=gw, body=ScanRequest(qr=current.qr, phone="6281234567890")
            )
        except errors.WAGatewayError as error:
            failure = error
    raise AssertionError(f"no scan succeeded: {failure}")


async def quick_start(base_url: str, token: str) -> None:
    async with AuthenticatedClient(base_url=base_url, token=token) as gw:
        # 2. A device: 201 with its first QR.
        device = await create_device.asyncio(
            client=gw, body=DeviceCreate(device_name="Customer Service Main")
        )
        assert device.status == "qr_generated"
        assert device.qr and isinstance(device.qr_expires_at, datetime)
        assert device.qr_image and device.qr_image.startswith("data:image/png;base64,")

        # 3. Listed; a new QR while this one is valid: 409 `qr_reset_not_allowed`, typed.
        listed = await list_devices.asyncio(client=gw)
        assert [d.device_id for d in listed.devices] == [device.device_id]
        with pytest.raises(errors.Conflict) as refused:
            await regenerate_qr.asyncio(device.device_id, client=gw)
        conflict = refused.value
        assert conflict.status == 409 and conflict.code == "qr_reset_not_allowed"
        assert conflict.message and conflict.details.get("status") == "qr_generated"
        assert conflict.request_id and conflict.request_id == conflict.headers["x-request-id"]

        # 4. The simulated phone scans: connected.
        linked = await scan_current_qr(gw, device.device_id)
        assert linked.status == "connected" and linked.wa_number == "6281234567890"

        # 5. A message (`?wait=true`: answered once sent), read back and listed.
        sent = await send_message.asyncio(
            device.device_id,
            client=gw,
            body=SendMessageRequest(
                to="+62 812-1111-2222",
                type_=SendMessageRequestType.TEXT,
                text="Pesanan #1234 diterima",
            ),
            idempotency_key="order-1234",
            wait=True,
        )
        # Answered once sent: the sandbox's receipts may have moved it on already.
        assert sent.status in ("sent", "delivered", "read")
        assert sent.to == "6281211112222@s.whatsapp.net"
        message = await get_message.asyncio(device.device_id, sent.message_id, client=gw)
        assert message.message_id == sent.message_id and message.direction == "outbound"
        assert message.content.additional_properties.get("text") == "Pesanan #1234 diterima"
        outbound = await list_messages.asyncio(device.device_id, client=gw, direction="outbound")
        assert [m.message_id for m in outbound.messages] == [sent.message_id]

        # An unknown device: 404 `not_found`, typed.
        with pytest.raises(errors.NotFound) as missing:
            await get_device.asyncio("00000000-0000-4000-8000-000000000000", client=gw)
        assert missing.value.status == 404 and missing.value.code == "not_found"
        assert missing.value.request_id

        # 6. Disconnect, delete: the deleted device answers 410 `device_destroyed`.
        disconnected = await disconnect_device.asyncio(device.device_id, client=gw)
        assert disconnected.status == "disconnected"
        await delete_device.asyncio(device.device_id, client=gw)
        with pytest.raises(errors.Gone) as gone:
            await get_device.asyncio(device.device_id, client=gw)
        assert gone.value.code == "device_destroyed"

    # A wrong token: 401, and every typed error is a WAGatewayError.
    async with AuthenticatedClient(base_url=base_url, token="wag_not_a_token") as stranger:
        with pytest.raises(errors.WAGatewayError) as denied:
            await list_devices.asyncio(client=stranger)
        assert isinstance(denied.value, errors.Unauthorized)
        assert denied.value.code == "invalid_api_key"


def test_readme_quick_start_through_the_python_client(
    server: GatewayServer, app_creds: dict[str, str]
) -> None:
    asyncio.run(quick_start(server.base_url, app_creds["app_token"]))
