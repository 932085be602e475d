"""The flow integrators copy, end to end: real server, real webhook receiver (CONTRACT §2, §4)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import error_code
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e


def create_device(api: httpx.Client, name: str = "Customer Service Main") -> dict:
    response = api.post("/devices", json={"device_name": name})
    assert response.status_code == 201, response.text
    return response.json()


def scan_current_qr(api: httpx.Client, device_id: str) -> dict:
    """Scan whatever code the device shows now, as a person holding the phone up would:
    tests rotate codes every second, so on a busy machine the code read may be gone by the
    time it is scanned; then read the new one (or open a new window if this one ended)."""
    for _ in range(10):
        current = api.get(f"/devices/{device_id}").json()
        if current["status"] != "qr_generated":
            current = api.post(f"/devices/{device_id}/qr").json()
        response = api.post("/sandbox/scan", json={"qr": current["qr"], "phone": "6281234567890"})
        if response.status_code == 200:
            return dict(response.json())
    raise AssertionError(f"no scan succeeded: {response.text}")


def scan(api: httpx.Client, qr: str, phone: str = "6281234567890") -> dict:
    response = api.post("/sandbox/scan", json={"qr": qr, "phone": phone})
    assert response.status_code == 200, response.text
    return response.json()


def verify(delivery, secret: str) -> dict:
    """Verify with the reference Standard Webhooks library, as any receiver would."""
    return Webhook(secret).verify(delivery.body, delivery.headers)


def test_integrator_flow(api: httpx.Client, receiver: WebhookReceiver, app_creds: dict) -> None:
    device = create_device(api)
    device_id = device["device_id"]
    assert device["status"] == "qr_generated"
    assert device["qr"] and device["qr_image"].startswith("data:image/png;base64,")
    expires = datetime.fromisoformat(device["qr_expires_at"].replace("Z", "+00:00"))
    assert expires > datetime.now(UTC)
    assert device["engine"] == "sandbox" and device["app_id"] == app_creds["app_id"]

    listed = api.get("/devices").json()["devices"]
    assert [d["device_id"] for d in listed] == [device_id]

    conflict = api.post(f"/devices/{device_id}/qr")
    assert conflict.status_code == 409 and error_code(conflict) == "qr_reset_not_allowed"

    linked = scan(api, device["qr"])
    assert linked["status"] == "connected" and linked["connection"] == "online"
    assert linked["wa_number"] == "6281234567890"
    assert linked["wa_device_jid"].startswith("6281234567890:")
    assert linked["qr"] is None

    [connected] = receiver.wait_for(device_id, "device_connected")
    payload = verify(connected, app_creds["webhook_secret"])
    assert (
        connected.headers["x-wa-request-id"]
        == payload["request_id"]
        == connected.headers["webhook-id"]
    )
    assert connected.headers["x-wa-event"] == "device_connected"
    assert payload["app_id"] == app_creds["app_id"] and payload["device_id"] == device_id
    assert payload["payload"]["wa_number"] == "6281234567890"
    assert payload["payload"]["status"] == "connected" and payload["payload"]["linked_at"]

    assert api.post(f"/devices/{device_id}/qr").status_code == 409  # connected: disconnect first

    disconnected = api.post(f"/devices/{device_id}/disconnect")
    assert disconnected.status_code == 200 and disconnected.json()["status"] == "disconnected"
    [event] = receiver.wait_for(device_id, "device_disconnected")
    assert verify(event, app_creds["webhook_secret"])["payload"]["reason"] == "disconnect"

    regenerated = api.post(f"/devices/{device_id}/qr")
    assert regenerated.status_code == 200, regenerated.text
    assert regenerated.json()["status"] == "qr_generated"
    assert regenerated.json()["qr"] not in (None, device["qr"])

    # The window (8 s at the test time scale) runs out unscanned.
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["status"] == "expired",
        timeout=15,
        what="expiry",
    )
    receiver.wait_for(device_id, "device_expired")
    qr_events = receiver.events(device_id, "device_qr_generated")
    assert len(qr_events) >= 2 + 5, "the first window's code and the second window's rotations"

    deleted = api.delete(f"/devices/{device_id}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "destroyed"
    receiver.wait_for(device_id, "device_destroyed")
    for method, path in [
        ("GET", f"/devices/{device_id}"),
        ("POST", f"/devices/{device_id}/qr"),
        ("POST", f"/devices/{device_id}/disconnect"),
        ("DELETE", f"/devices/{device_id}"),
    ]:
        gone = api.request(method, path)
        assert gone.status_code == 410 and error_code(gone) == "device_destroyed", (method, path)
    assert api.get("/devices").json()["devices"] == []
    archived = api.get("/devices", params={"include_destroyed": "true"}).json()["devices"]
    assert [d["status"] for d in archived] == ["destroyed"]

    # Every lifecycle event arrived once, in the order it happened, each signed.
    names = [d.json["event"] for d in receiver.events(device_id)]
    order = [
        "device_qr_generated",
        "device_connected",
        "device_disconnected",
        "device_qr_generated",
        "device_expired",
        "device_destroyed",
    ]
    assert [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n] == order
    request_ids = [d.json["request_id"] for d in receiver.events(device_id)]
    assert len(request_ids) == len(set(request_ids))
    for d in receiver.events(device_id):
        verify(d, app_creds["webhook_secret"])


def test_qr_rotates_with_whatsapp_timings(api: httpx.Client, receiver: WebhookReceiver) -> None:
    device = create_device(api, "rotation")
    device_id = device["device_id"]
    receiver.wait_for(device_id, "device_expired", timeout=15)
    qrs = receiver.events(device_id, "device_qr_generated")
    assert len(qrs) == 6, "one window = a first code and five rotations"
    assert len({q.json["payload"]["qr"] for q in qrs}) == 6
    gaps = [b.received_at - a.received_at for a, b in zip(qrs, qrs[1:], strict=False)]
    # scale 0.05: first code 3 s, then 1 s each
    assert gaps[0] == pytest.approx(3.0, abs=0.6)
    assert all(g == pytest.approx(1.0, abs=0.6) for g in gaps[1:])
    scan_late = api.post(
        "/sandbox/scan", json={"qr": qrs[-1].json["payload"]["qr"], "phone": "62811"}
    )
    assert scan_late.status_code in (400, 404)


def test_device_names_unique_among_live_devices(api: httpx.Client) -> None:
    first = create_device(api, "Sales")
    dup = api.post("/devices", json={"device_name": "Sales"})
    assert dup.status_code == 409 and error_code(dup) == "conflict"
    assert dup.json()["error"]["details"]["field"] == "device_name"
    assert api.delete(f"/devices/{first['device_id']}").status_code == 200
    again = create_device(api, "Sales")
    assert again["device_id"] != first["device_id"]


def test_pairing_code_links_device(api: httpx.Client, receiver: WebhookReceiver) -> None:
    device = create_device(api, "by code")
    device_id = device["device_id"]
    bad = api.post(f"/devices/{device_id}/pairing-code", json={"phone": "12"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "phone"
    coded = api.post(f"/devices/{device_id}/pairing-code", json={"phone": "+62 812-3456-7891"})
    assert coded.status_code == 200, coded.text
    code = coded.json()["pairing_code"]
    assert len(code) == 8 and code.isalnum()
    again = api.post(f"/devices/{device_id}/pairing-code", json={"phone": "6281234567891"})
    assert again.status_code == 409 and error_code(again) == "qr_reset_not_allowed"
    linked = api.post("/sandbox/pair", json={"pairing_code": code[:4] + "-" + code[4:]})
    assert linked.status_code == 200, linked.text
    assert linked.json()["status"] == "connected" and linked.json()["wa_number"] == "6281234567891"
    receiver.wait_for(device_id, "device_connected")


def test_pairing_code_from_expired_opens_new_window(api: httpx.Client) -> None:
    device = create_device(api, "code after disconnect")
    device_id = device["device_id"]
    assert api.post(f"/devices/{device_id}/disconnect").json()["status"] == "disconnected"
    coded = api.post(f"/devices/{device_id}/pairing-code", json={"phone": "6281234500000"})
    assert coded.status_code == 200
    assert coded.json()["status"] == "qr_generated" and len(coded.json()["pairing_code"]) == 8


def test_drop_reconnects_and_phone_logout_disconnects(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    device = create_device(api, "flaky")
    device_id = device["device_id"]
    scan(api, device["qr"])
    dropped = api.post(f"/sandbox/devices/{device_id}/drop")
    assert dropped.status_code == 200
    # The socket returns after 0.15 s here: the answer may already show it back online. The
    # connection_lost warning and the reconnected event below prove the drop either way.
    assert dropped.json()["status"] == "connected"
    assert dropped.json()["connection"] in ("reconnecting", "online")
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
        timeout=10,
        what="reconnect",
    )
    warning = receiver.wait_for(device_id, "device_warning")[0].json["payload"]
    assert warning["code"] == "connection_lost"
    reconnect = receiver.wait_for(device_id, "device_connected", count=2)[1].json["payload"]
    assert reconnect["reconnected"] is True
    assert receiver.events(device_id, "device_disconnected") == []

    out = api.post(f"/sandbox/devices/{device_id}/logout")
    assert out.status_code == 200
    body = out.json()
    assert body["status"] == "disconnected" and body["last_error"].startswith("logged_out")
    [event] = receiver.wait_for(device_id, "device_disconnected")
    assert event.json["payload"]["reason"] == "logged_out"
    not_connected = api.post(f"/sandbox/devices/{device_id}/drop")
    assert not_connected.status_code == 409 and error_code(not_connected) == "device_not_connected"


def test_disconnect_cancels_pending_qr_and_is_idempotent(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    device = create_device(api, "cancel me")
    device_id = device["device_id"]
    first = api.post(f"/devices/{device_id}/disconnect").json()
    assert first["status"] == "disconnected" and first["qr"] is None
    second = api.post(f"/devices/{device_id}/disconnect")
    assert second.status_code == 200 and second.json()["status"] == "disconnected"
    time.sleep(4.5)  # past the first code's lifetime: the cancelled window must stay silent
    assert len(receiver.events(device_id, "device_qr_generated")) == 1
    assert api.get(f"/devices/{device_id}").json()["status"] == "disconnected"
    assert api.post("/sandbox/scan", json={"qr": device["qr"], "phone": "6281"}).status_code in (
        400,
        404,
    )


def test_restart_restores_linked_devices_without_scan(
    make_server, receiver: WebhookReceiver
) -> None:
    gateway: GatewayServer = make_server()
    creds = gateway.create_app("restore", receiver.url)
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        linked = create_device(api, "linked")
        scan(api, linked["qr"])
        pending = create_device(api, "mid-pairing")
    gateway.kill9()
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        restored = wait_until(
            lambda: (
                (d := api.get(f"/devices/{linked['device_id']}").json())["connection"] == "online"
                and d
            ),
            what="restore",
        )
        assert restored["status"] == "connected" and restored["wa_number"] == "6281234567890"
        interrupted = api.get(f"/devices/{pending['device_id']}").json()
        assert interrupted["status"] == "expired"
        assert "restart" in interrupted["last_error"]
        assert api.post(f"/devices/{pending['device_id']}/qr").status_code == 200
    receiver.wait_for(pending["device_id"], "device_expired")


def test_sandbox_inbound_text_becomes_message_event(
    api: httpx.Client, receiver: WebhookReceiver, app_creds: dict
) -> None:
    device = create_device(api, "inbox")
    device_id = device["device_id"]
    early = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": "6285550001111", "text": "hi"}
    )
    assert early.status_code == 409 and error_code(early) == "device_not_connected"
    scan(api, device["qr"])
    bad = api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": "x", "text": "hi"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "from"
    accepted = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": "+62 855-5000-1111", "text": "ada stok?"},
    )
    assert accepted.status_code == 202, accepted.text
    [message] = receiver.wait_for(device_id, "message")
    event = verify(message, app_creds["webhook_secret"])["payload"]
    assert (
        event["direction"] == "inbound" and event["type"] == "text" and event["text"] == "ada stok?"
    )
    assert event["from"] == event["sender_phone"] == "6285550001111"
    assert event["to"] == "6281234567890" and event["chat"] == "6285550001111@s.whatsapp.net"
    assert event["wa_message_id"] == accepted.json()["wa_message_id"]
    assert event["mentions"] == [] and event["forwarded"] is False and event["reply_to"] is None


def test_terminal_qr_for_the_host(server: GatewayServer, api: httpx.Client) -> None:
    """`wagateway devices qr DEVICE_ID` prints the current code as a terminal QR (the host's
    way to link a phone without the API), and says plainly when there is none."""
    device = create_device(api, "Terminal QR")
    shown = server.cli("devices", "qr", device["device_id"])
    assert "expires at" in shown.stdout and "Linked devices" in shown.stdout
    assert any(block in shown.stdout for block in ("█", "▀", "▄")), shown.stdout[:200]

    scan_current_qr(api, device["device_id"])
    linked = server.cli("devices", "qr", device["device_id"])
    assert "is connected as 6281234567890: no QR to show" in linked.stdout

    missing = server.cli("devices", "qr", "00000000-0000-0000-0000-000000000000", check=False)
    assert missing.returncode == 2 and "not_found" in missing.stderr
