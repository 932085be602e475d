"""History import (CONTRACT §8.4, §8.5 `history`) against a real server on the sandbox, on
both databases: a device created with `history_sync`, and one that sets it with PATCH while
its QR is shown, import what the network sends at linking as `source: "history"` messages,
announced by `history_sync` events and no `message` event; a second sending stores nothing
twice; a device without it, or that sets it only once linked, imports nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_device_flow import scan_current_qr
from tests.e2e.test_inbound_events import signed
from tests.support.harness import WebhookReceiver
from wagateway.engines.base import HISTORY_BATCH_SIZE

pytestmark = pytest.mark.e2e

FIRST_CONTACT = 6285500000000  # the sandbox's history chats are with 62855000000NN


def history_messages(api: httpx.Client, device_id: str) -> list[dict]:
    found: list[dict] = []
    cursor = None
    while True:
        params: dict[str, object] = {"source": "history", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = api.get(f"/devices/{device_id}/messages", params=params)
        assert response.status_code == 200, response.text
        found += response.json()["messages"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return found


def send_history(api: httpx.Client, device_id: str, chats: int, per_chat: int) -> None:
    response = api.post(
        f"/sandbox/devices/{device_id}/history",
        json={"chats": chats, "messages_per_chat": per_chat},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"chats": chats, "messages": chats * per_chat}


def test_history_is_imported_for_devices_that_asked_before_linking(
    api: httpx.Client, receiver: WebhookReceiver, app_creds: dict
) -> None:
    created = api.post("/devices", json={"device_name": "history", "history_sync": True})
    assert created.status_code == 201, created.text
    importing = created.json()["device_id"]
    assert created.json()["history_sync"] is True
    late = api.post("/devices", json={"device_name": "history late"}).json()["device_id"]
    patched = api.patch(f"/devices/{late}", json={"history_sync": True})  # its QR is shown
    assert patched.status_code == 200 and patched.json()["history_sync"] is True
    without = api.post("/devices", json={"device_name": "no history"}).json()["device_id"]
    for device_id in (importing, late, without):
        scan_current_qr(api, device_id)
    # set once linked: applies from the next link only
    assert api.patch(f"/devices/{without}", json={"history_sync": True}).status_code == 200

    send_history(api, importing, 3, 200)
    send_history(api, late, 1, 10)
    send_history(api, without, 2, 10)

    # Everything was written when the control answered.
    messages = history_messages(api, importing)
    assert len(messages) == 600
    assert {m["source"] for m in messages} == {"history"}
    assert {m["direction"] for m in messages} == {"inbound", "outbound"}
    assert len(history_messages(api, late)) == 10
    assert history_messages(api, without) == []

    # One event per batch the engine handed over, in order.
    parts = 600 // HISTORY_BATCH_SIZE
    reports = [signed(d, app_creds) for d in receiver.wait_for(importing, "history_sync", parts)]
    assert len(reports) == parts
    assert sum(r["messages"] for r in reports) == 600
    assert reports[-1]["progress"] == 100 and not any(r["limit_reached"] for r in reports)
    assert all(set(r) == {"chats", "messages", "progress", "limit_reached"} for r in reports)
    receiver.wait_for(late, "history_sync")

    # WhatsApp sends a part again: nothing is stored twice.
    send_history(api, importing, 3, 200)
    assert len(history_messages(api, importing)) == 600
    again = [signed(d, app_creds) for d in receiver.wait_for(importing, "history_sync", 2 * parts)][
        parts:
    ]
    assert [r["messages"] for r in again] == [0] * parts

    # The chats, the most recent first, none unread; a chat's messages, newest first.
    listed = api.get(f"/devices/{importing}/chats").json()["chats"]
    assert [c["chat"] for c in listed] == [f"{FIRST_CONTACT + i}@s.whatsapp.net" for i in range(3)]
    assert {c["unread_count"] for c in listed} == {0}
    newest = api.get(
        f"/devices/{importing}/chats/{FIRST_CONTACT}@s.whatsapp.net/messages", params={"limit": 2}
    ).json()["messages"]
    assert [m["content"]["text"] for m in newest] == ["history 0/199", "history 0/198"]

    # No message event for an imported message, on any device.
    assert not [
        d
        for device_id in (importing, late, without)
        for d in receiver.events(device_id, "message")
        if d.json["payload"].get("source") == "history"
    ]
    assert receiver.events(without, "history_sync") == []
