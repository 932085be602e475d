"""The sandbox's network log (CONTRACT §8.5): `GET /sandbox/devices/{id}/network` lists what
the device did on the simulated network, oldest first, every attempt; for media the bytes'
size and SHA-256, so a test can prove the recipient got the whole file. Durable in the
database (both backends), scoped to the app like every sandbox route."""

from __future__ import annotations

import base64
import hashlib
import os

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.harness import GatewayServer, wait_until

pytestmark = pytest.mark.e2e


def network(api: httpx.Client, device_id: str) -> list[dict]:
    response = api.get(f"/sandbox/devices/{device_id}/network")
    assert response.status_code == 200, response.text
    return list(response.json()["network"])


def send(api: httpx.Client, device_id: str, body: dict) -> dict:
    sent = api.post(f"/devices/{device_id}/messages", params={"wait": "true"}, json=body)
    assert sent.status_code == 200, sent.text
    # The sandbox's receipts may already have moved it on: sent, delivered or read.
    assert sent.json()["status"] in ("sent", "delivered", "read"), sent.text
    return dict(sent.json())


def test_messages_connects_and_disconnects_are_logged_in_order(
    api: httpx.Client, server: GatewayServer
) -> None:
    device_id = create_device(api, "network log")["device_id"]
    assert network(api, device_id) == []  # nothing on the network before it links
    scan_current_qr(api, device_id)
    image = b"\x89PNG\r\n\x1a\n" + os.urandom(300_000)
    text = send(api, device_id, {"to": "6281211112222", "text": "hello"})
    photo = send(
        api,
        device_id,
        {
            "to": "6281211113333",
            "type": "image",
            "data_base64": base64.b64encode(image).decode(),
            "mime_type": "image/png",
        },
    )
    assert api.post(f"/sandbox/devices/{device_id}/drop").status_code == 200
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
        what="reconnect",
    )
    assert api.post(f"/devices/{device_id}/disconnect").status_code == 200

    # The log is written in the background of each act: wait until the last one is in.
    wait_until(lambda: len(network(api, device_id)) == 6, what="six entries")
    log = network(api, device_id)
    assert [e["kind"] for e in log] == [
        "connect",
        "message",
        "message",
        "disconnect",
        "connect",
        "disconnect",
    ]
    assert all(e["at"] for e in log)
    assert [e["at"] for e in log] == sorted(e["at"] for e in log)
    connect, sent_text, sent_image, dropped, reconnect, closed = log
    assert connect["phone"] == "6281234567890" and connect["reconnected"] is False
    assert sent_text == {
        "kind": "message",
        "at": sent_text["at"],
        "to": "6281211112222@s.whatsapp.net",
        "wa_message_id": text["wa_message_id"],
        "type": "text",
        "text": "hello",
    }
    assert sent_image["wa_message_id"] == photo["wa_message_id"]
    assert sent_image["type"] == "image"
    assert sent_image["to"] == "6281211113333@s.whatsapp.net"
    assert sent_image["size"] == len(image)
    assert sent_image["sha256"] == hashlib.sha256(image).hexdigest()
    assert dropped["reason"] == "dropped"
    assert reconnect["reconnected"] is True
    assert closed["reason"] == "logged_out"  # POST …/disconnect unlinks the session


def test_the_log_is_the_apps_own_and_outlives_a_restart(
    api: httpx.Client, server: GatewayServer
) -> None:
    device_id = create_device(api, "network tenant")["device_id"]
    scan_current_qr(api, device_id)
    sent = send(api, device_id, {"to": "6281211112222", "text": "mine"})
    wait_until(lambda: len(network(api, device_id)) == 2, what="the message in the log")

    other = server.create_app("network other")
    with server.client(other["app_token"]) as stranger:
        for path in ("network", "received"):
            response = stranger.get(f"/sandbox/devices/{device_id}/{path}")
            assert response.status_code == 404, response.text
            assert error_code(response) == "not_found"
    anonymous = httpx.get(f"{server.base_url}/sandbox/devices/{device_id}/network")
    assert anonymous.status_code == 401

    # Durable: read from the database, not from the engine's memory. The stop closes the
    # session (written before the process ends), the start restores it.
    server.stop()
    server.start()
    wait_until(lambda: len(network(api, device_id)) == 4, what="the restored session's connect")
    log = network(api, device_id)
    assert [e["kind"] for e in log] == ["connect", "message", "disconnect", "connect"]
    assert log[1]["wa_message_id"] == sent["wa_message_id"]
    assert log[2]["reason"] == "closed" and log[3]["reconnected"] is True


def test_a_deleted_devices_log_is_gone_like_its_received_record(api: httpx.Client) -> None:
    device_id = create_device(api, "network deleted")["device_id"]
    scan_current_qr(api, device_id)
    send(api, device_id, {"to": "6281211112222", "text": "bye"})
    assert api.delete(f"/devices/{device_id}").status_code == 200
    for path in ("network", "received"):
        response = api.get(f"/sandbox/devices/{device_id}/{path}")
        assert response.status_code == 410, response.text


def test_the_route_is_described_in_openapi(server: GatewayServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    operation = spec["paths"]["/sandbox/devices/{device_id}/network"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/NetworkLog"}
    entry = spec["components"]["schemas"]["NetworkEntryOut"]
    assert {"kind", "at", "to", "wa_message_id", "type", "text", "size", "sha256"} <= set(
        entry["properties"]
    )
