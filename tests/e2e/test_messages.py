"""The messaging pipeline end to end (CONTRACT §3, §4): every type, receipts in order,
idempotency, validation, and what the sandbox's recipients do."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
BLOB = base64.b64encode(b"%PDF-1.4 sample document " * 20).decode()
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;type=CELL:+6281234500001\nEND:VCARD"
TO = "+62 812-1111-2222"
TO_JID = "6281211112222@s.whatsapp.net"

EVERY_TYPE: list[dict[str, Any]] = [
    {"type": "text", "text": "Halo! Pesanan Anda sudah dikirim.", "preview_url": False},
    {"type": "image", "data_base64": PNG, "mime_type": "image/png", "caption": "invoice"},
    {"type": "video", "data_base64": BLOB, "mime_type": "video/mp4", "caption": "demo"},
    {"type": "audio", "data_base64": BLOB, "mime_type": "audio/ogg", "ptt": True},
    {"type": "document", "data_base64": BLOB, "mime_type": "application/pdf", "file_name": "a.pdf"},
    {"type": "sticker", "data_base64": BLOB, "mime_type": "image/webp"},
    {"type": "contact", "contact_name": "Budi", "vcard": VCARD},
    {"type": "location", "latitude": -6.2, "longitude": 106.8, "name": "Monas"},
    {"type": "reaction", "message_id": "3EB0ABCDEF0123456789", "emoji": "👍"},
    {"type": "interactive", "text": "Pick one", "buttons": [{"id": "y", "title": "Yes"}]},
    {"type": "interactive", "poll_question": "Jam berapa?", "poll_options": ["09:00", "13:00"]},
]


@pytest.fixture
def device(api: httpx.Client) -> dict:
    created = create_device(api, "sender")
    return scan(api, created["qr"])


def send(api: httpx.Client, device_id: str, body: dict, **kw: Any) -> httpx.Response:
    return api.post(f"/devices/{device_id}/messages", json=body, **kw)


def final_status(api: httpx.Client, device_id: str, message_id: str, wanted: str) -> dict:
    return wait_until(
        lambda: (
            (m := api.get(f"/devices/{device_id}/messages/{message_id}").json())["status"] == wanted
            and m
        ),
        what=f"{message_id} → {wanted}",
    )


def test_every_type_is_sent_with_events_in_order(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    accepted = []
    for body in EVERY_TYPE:
        response = send(api, device_id, {"to": TO, "reply_to": "3EB0QUOTED", **body})
        assert response.status_code == 202, (body["type"], response.text)
        answer = response.json()
        assert answer["status"] == "queued" and answer["to"] == TO_JID
        assert answer["type"] == body["type"] and answer["device_id"] == device_id
        accepted.append(answer["message_id"])
    for body, message_id in zip(EVERY_TYPE, accepted, strict=True):
        wanted = "played" if body.get("ptt") else "read"
        message = final_status(api, device_id, message_id, wanted)
        assert message["wa_message_id"].startswith("3EB0") and message["sent_at"]
        assert message["delivered_at"] and message["read_at"] and message["error"] is None
    verifier = Webhook(app_creds["webhook_secret"])
    for body, message_id in zip(EVERY_TYPE, accepted, strict=True):
        expected = ["message", "sent", "delivered", "read"] + (
            ["played"] if body.get("ptt") else []
        )
        got = wait_until(
            lambda mid=message_id, n=len(expected): (
                (
                    found := [
                        d
                        for d in receiver.events(device_id)
                        if d.json["payload"].get("message_id") == mid
                    ]
                )
                and len(found) >= n
                and found
            ),
            what=f"events of {body['type']}",
        )
        names = [
            d.json["event"] if d.json["event"] == "message" else d.json["payload"]["status"]
            for d in got
        ]
        assert names == expected, (body["type"], names)
        for delivery in got:
            verifier.verify(delivery.body, delivery.headers)
        message_event = got[0].json["payload"]
        assert message_event["direction"] == "outbound" and message_event["type"] == body["type"]
        assert message_event["to"] == "6281211112222" and message_event["from"] == "6281234567890"
        assert message_event["reply_to"] == "3EB0QUOTED"
        for key in ("text", "caption", "latitude", "emoji", "poll_question", "contact_name"):
            if key in body:
                assert message_event[key] == body[key]
        assert "data_base64" not in message_event
    # Receipts of the whole device arrive in the order they happened: every message's
    # `message` event precedes its receipts.
    order = [d.json["payload"].get("message_id") for d in receiver.events(device_id, "message")]
    assert order == accepted


def test_wait_true_answers_once_sent(api: httpx.Client, device: dict) -> None:
    response = send(api, device["device_id"], {"to": TO, "text": "now"}, params={"wait": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] in ("sent", "delivered", "read") and body["wa_message_id"]


def test_not_on_whatsapp_and_never_reading_recipients(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    device_id = device["device_id"]
    nobody = send(api, device_id, {"to": "9991234567", "text": "hi"}).json()["message_id"]
    failed = final_status(api, device_id, nobody, "failed")
    assert failed["error"]["code"] == "not_on_whatsapp" and failed["wa_message_id"]
    receipt = wait_until(
        lambda: [
            d
            for d in receiver.events(device_id, "receipt")
            if d.json["payload"]["message_id"] == nobody
        ],
        what="failed receipt",
    )[0].json["payload"]
    assert receipt["status"] == "failed" and receipt["error"]["code"] == "not_on_whatsapp"
    shy = send(api, device_id, {"to": "6281234567800", "text": "hi"}).json()["message_id"]
    final_status(api, device_id, shy, "delivered")
    import time

    time.sleep(0.6)
    assert api.get(f"/devices/{device_id}/messages/{shy}").json()["status"] == "delivered"


def test_group_receipts_per_participant_never_regress(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    device_id = device["device_id"]
    group = "120363012345678901@g.us"
    message_id = send(api, device_id, {"to": group, "text": "rapat jam 3"}).json()["message_id"]
    final_status(api, device_id, message_id, "read")
    import time

    time.sleep(0.5)  # the second participant's late receipts have come in by now
    assert api.get(f"/devices/{device_id}/messages/{message_id}").json()["status"] == "read"
    statuses = [
        d.json["payload"]["status"]
        for d in receiver.events(device_id, "receipt")
        if d.json["payload"]["message_id"] == message_id
    ]
    assert statuses == ["sent", "delivered", "read"]


def test_idempotency_key(api: httpx.Client, device: dict) -> None:
    device_id = device["device_id"]
    headers = {"Idempotency-Key": "order-1234-confirmation"}
    body = {"to": TO, "text": "Pesanan #1234 diterima"}
    first = send(api, device_id, body, headers=headers)
    second = send(api, device_id, body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    final_status(api, device_id, first.json()["message_id"], "read")
    third = send(api, device_id, body, headers=headers)
    assert third.json()["message_id"] == first.json()["message_id"]
    listed = api.get(f"/devices/{device_id}/messages").json()["messages"]
    assert [m["message_id"] for m in listed] == [first.json()["message_id"]]
    received = api.get(f"/sandbox/devices/{device_id}/received").json()["received"]
    assert len(received) == 1 and received[0]["times_received"] == 1
    other = send(api, device_id, {**body, "text": "different"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "conflict"


def test_device_must_be_connected(api: httpx.Client) -> None:
    pending = create_device(api, "not linked")
    response = send(api, pending["device_id"], {"to": TO, "text": "hi"})
    assert response.status_code == 409 and error_code(response) == "device_not_connected"
    assert api.get(f"/devices/{pending['device_id']}/messages").json()["messages"] == []


BAD_INPUT = [
    ({"text": "no recipient"}, 400, "to"),
    ({"to": "12", "text": "x"}, 400, "to"),
    ({"to": "abc@example.com", "text": "x"}, 400, "to"),
    ({"to": TO}, 400, "text"),
    ({"to": TO, "type": "fax", "text": "x"}, 400, "type"),
    ({"to": TO, "text": 5}, 400, "text"),
    ({"to": TO, "type": "image", "mime_type": "image/png"}, 400, "url"),
    (
        {
            "to": TO,
            "type": "image",
            "mime_type": "image/png",
            "url": "https://x.example/a.png",
            "data_base64": PNG,
        },
        400,
        "data_base64",
    ),
    ({"to": TO, "type": "image", "data_base64": PNG}, 400, "mime_type"),
    ({"to": TO, "type": "image", "data_base64": PNG, "mime_type": "video/mp4"}, 400, "mime_type"),
    (
        {"to": TO, "type": "image", "data_base64": "not base64!!", "mime_type": "image/png"},
        400,
        "data_base64",
    ),
    (
        {"to": TO, "type": "image", "url": "file:///etc/passwd", "mime_type": "image/png"},
        400,
        "url",
    ),
    ({"to": TO, "type": "location", "latitude": 91, "longitude": 0}, 400, "latitude"),
    ({"to": TO, "type": "location", "latitude": 1}, 400, "longitude"),
    ({"to": TO, "type": "contact", "contact_name": "x", "vcard": "nope"}, 400, "vcard"),
    ({"to": TO, "type": "reaction", "emoji": "👍"}, 400, "message_id"),
    (
        {"to": TO, "type": "interactive", "poll_question": "q", "poll_options": ["a"]},
        400,
        "poll_options",
    ),
    ({"to": TO, "type": "interactive"}, 400, "buttons"),
    ({"to": TO, "text": "x", "mentions": ["nope"]}, 400, "mentions"),
    ({"to": TO, "text": "x", "mentions": [TO] * 1025}, 400, "mentions"),
    ({"to": TO, "text": "x" * 70000}, 400, "text"),
]


@pytest.fixture(scope="module")
def linked_sender(server: GatewayServer) -> Iterator[tuple[httpx.Client, str]]:
    """One app and connected device shared by the read-only validation cases."""
    creds = server.create_app("validation")
    with server.client(creds["app_token"]) as client:
        created = create_device(client, "validator")
        scan(client, created["qr"])
        yield client, created["device_id"]


@pytest.mark.parametrize("body,status,field", BAD_INPUT)
def test_bad_input_gets_its_contract_error(
    linked_sender: tuple[httpx.Client, str], body: dict, status: int, field: str
) -> None:
    api, device_id = linked_sender
    response = send(api, device_id, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == field


def test_oversized_media_is_413_and_nothing_half_accepted(api: httpx.Client, device: dict) -> None:
    device_id = device["device_id"]
    ok = send(api, device_id, {"to": TO, "text": "before"}).json()["message_id"]
    huge = base64.b64encode(b"\x00" * (1024 * 1024 + 10)).decode()  # over the 1 MiB test cap
    response = send(
        api,
        device_id,
        {"to": TO, "type": "document", "data_base64": huge, "mime_type": "application/pdf"},
    )
    assert response.status_code == 413 and error_code(response) == "request_too_large"
    listed = api.get(f"/devices/{device_id}/messages").json()["messages"]
    assert [m["message_id"] for m in listed] == [ok]
    final_status(api, device_id, ok, "read")


def test_list_filters_and_pagination(api: httpx.Client, device: dict) -> None:
    device_id = device["device_id"]
    ids = [send(api, device_id, {"to": TO, "text": f"m{i}"}).json()["message_id"] for i in range(5)]
    for mid in ids:
        final_status(api, device_id, mid, "read")
    api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": "6285550001111", "text": "yo"})
    inbound = wait_until(
        lambda: api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"}).json()[
            "messages"
        ],
        what="inbound stored",
    )
    assert inbound[0]["sender"] == "6285550001111" and inbound[0]["content"]["text"] == "yo"
    outbound = api.get(f"/devices/{device_id}/messages", params={"direction": "outbound"}).json()
    assert [m["message_id"] for m in outbound["messages"]] == list(reversed(ids))
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "direction": "outbound"} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/devices/{device_id}/messages", params=params).json()
        seen += [m["message_id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    assert (
        api.get(f"/devices/{device_id}/messages", params={"status": "failed"}).json()["messages"]
        == []
    )
    future = api.get(f"/devices/{device_id}/messages", params={"since": "2999-01-01T00:00:00Z"})
    assert future.json()["messages"] == []
    bad = api.get(f"/devices/{device_id}/messages", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "since"
    bad = api.get(f"/devices/{device_id}/messages", params={"direction": "sideways"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "direction"
    missing = api.get(f"/devices/{device_id}/messages/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def test_deleting_device_fails_its_queue(api: httpx.Client, receiver: WebhookReceiver) -> None:
    created = create_device(api, "slow sender")
    device_id = created["device_id"]
    scan(api, created["qr"])
    assert api.patch(f"/devices/{device_id}", json={"pacing": {"rate_per_second": 0.2}}).json()[
        "pacing"
    ] == {"rate_per_second": 0.2}
    ids = [send(api, device_id, {"to": TO, "text": f"q{i}"}).json()["message_id"] for i in range(3)]
    final_status(api, device_id, ids[0], "read")
    assert api.delete(f"/devices/{device_id}").status_code == 200
    failed = wait_until(
        lambda: (
            len(
                found := [
                    d.json["payload"]
                    for d in receiver.events(device_id, "receipt")
                    if d.json["payload"]["status"] == "failed"
                ]
            )
            == 2
            and found
        ),
        what="two failed receipts",
    )
    assert {p["message_id"] for p in failed} == set(ids[1:])
    assert all(p["error"]["code"] == "device_destroyed" for p in failed)
    assert send(api, device_id, {"to": TO, "text": "late"}).status_code == 410


def test_a_rotated_token_is_refused_at_once_on_the_send_path(
    server: GatewayServer, device: dict, app_creds: dict
) -> None:
    """The send route defers its token check into the message's write (apps/tokens.py).
    A token just used, then rotated by another process (the CLI), must be refused on its
    very next request, whatever the body, and nothing it sent may be kept. A refusal makes
    the server forget the token, so each case gets a token of its own, used and rotated."""
    device_id = device["device_id"]
    messages = f"/devices/{device_id}/messages"
    text = {"to": TO, "type": "text", "text": "after rotation"}
    cases: list[tuple[str, dict, dict]] = [
        (messages, text, {}),  # reaches the write
        (messages, {"to": TO, "type": "text"}, {}),  # 400 from the body's model
        (messages, {"to": TO, "type": "text", "text": "x" * 70_000}, {}),  # 400 from prepare
        ("/devices/no-such-device/messages", text, {}),  # 404 in the write
        (messages, {"to": TO, "type": "image", "data_base64": PNG, "mime_type": "image/png"}, {}),
        (messages, text, {"Idempotency-Key": "k" * 300}),  # 400 before the write
    ]
    token = app_creds["app_token"]
    for path, body, headers in cases:
        with server.client(token) as client:
            warm = send(client, device_id, {"to": TO, "type": "text", "text": "before rotation"})
            assert warm.status_code == 202  # the server now remembers this token
            token = server.cli("apps", "rotate-token", app_creds["app_id"]).stdout.strip()
            stale = client.post(path, json=body, headers=headers)
        assert stale.status_code == 401, (path, body, headers, stale.text)
        assert error_code(stale) == "invalid_api_key"
        assert stale.headers["www-authenticate"] == "Bearer"

    with server.client(token) as fresh:
        accepted = send(fresh, device_id, {"to": TO, "type": "text", "text": "new token"})
        assert accepted.status_code == 202
        texts = [m["content"].get("text") for m in fresh.get(messages).json()["messages"]]
    assert sorted(texts) == ["before rotation"] * len(cases) + ["new token"]
    stored_media = server.data_dir / "store" / "outbound" / app_creds["app_id"]
    assert not stored_media.exists() or not any(stored_media.iterdir()), "a stale token's image"


def test_a_token_in_its_grace_period_still_sends(
    server: GatewayServer, api: httpx.Client, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    assert send(api, device_id, {"to": TO, "type": "text", "text": "warm"}).status_code == 202
    server.cli("apps", "rotate-token", app_creds["app_id"], "--grace-seconds", "60")
    during = send(api, device_id, {"to": TO, "type": "text", "text": "grace"})
    assert during.status_code == 202, during.text
