"""Inbound messages and media, runtime queries, revokes and archives (CONTRACT §2, §3, §4)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

CONTACT = "6285550001111"


@pytest.fixture
def device(api: httpx.Client) -> dict:
    created = create_device(api, "inbox")
    return scan(api, created["qr"])


def inbound(api: httpx.Client, device_id: str, body: dict) -> str:
    response = api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, **body})
    assert response.status_code == 202, response.text
    return response.json()["wa_message_id"]


def message_event(receiver: WebhookReceiver, device_id: str, wa_message_id: str) -> dict:
    return wait_until(
        lambda: [
            d.json["payload"]
            for d in receiver.events(device_id, "message")
            if d.json["payload"]["wa_message_id"] == wa_message_id
        ],
        what="inbound message event",
    )[0]


def test_inbound_text_and_image_with_downloadable_media(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    text_id = inbound(
        api,
        device_id,
        {
            "text": "ada stok?",
            "forwarded": True,
            "reply_to": "3EB0QUOTED",
            "mentions": ["6281234567890"],
        },
    )
    text = message_event(receiver, device_id, text_id)
    assert text["direction"] == "inbound" and text["text"] == "ada stok?"
    assert text["from"] == text["sender_phone"] == CONTACT and text["sender_lid"].endswith("@lid")
    assert text["forwarded"] is True and text["reply_to"] == "3EB0QUOTED"
    assert text["mentions"] == ["6281234567890@s.whatsapp.net"] and text["media_path"] is None

    image_id = inbound(api, device_id, {"type": "image", "caption": "bukti transfer"})
    image = message_event(receiver, device_id, image_id)
    assert image["type"] == "image" and image["caption"] == "bukti transfer"
    path = image["media_path"]
    assert path == f"media/{app_creds['app_id']}/{device_id}-{image['message_id']}.png"
    download = api.get("/media", params={"path": path})
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "image/png"
    assert download.content.startswith(b"\x89PNG")
    assert int(download.headers["content-length"]) == len(download.content) == image["media_size"]
    assert "attachment" in download.headers["content-disposition"]

    doc_id = inbound(api, device_id, {"type": "document", "file_name": "invoice.pdf"})
    doc = message_event(receiver, device_id, doc_id)
    got = api.get("/media", params={"path": doc["media_path"]})
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    assert 'filename="invoice.pdf"' in got.headers["content-disposition"]
    for delivery in receiver.events(device_id, "message"):
        Webhook(app_creds["webhook_secret"]).verify(delivery.body, delivery.headers)
    stored = api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"}).json()
    assert {m["wa_message_id"] for m in stored["messages"]} == {text_id, image_id, doc_id}


def test_inbound_media_over_the_cap_is_not_stored(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    wa_id = inbound(api, device["device_id"], {"type": "document", "media_size": 300000})
    event = message_event(receiver, device["device_id"], wa_id)
    assert event["media_path"] is None and event["media_size"] == 300000
    assert "MEDIA_MAX_BYTES" in event["media_error"]


def test_media_refuses_other_apps_and_traversal(
    server: GatewayServer,
    api: httpx.Client,
    receiver: WebhookReceiver,
    device: dict,
    app_creds: dict,
) -> None:
    wa_id = inbound(api, device["device_id"], {"type": "image"})
    path = message_event(receiver, device["device_id"], wa_id)["media_path"]
    intruder = server.create_app("media thief")
    with server.client(intruder["app_token"]) as other:
        stolen = other.get("/media", params={"path": path})
        assert stolen.status_code == 404 and error_code(stolen) == "not_found"
    app_id = app_creds["app_id"]
    for trick in [
        f"media/{app_id}/../../secret.key",
        "../secret.key",
        "/etc/passwd",
        f"media/{app_id}/%2e%2e/secret.key",
        f"media/{app_id}/..%2fsecret.key",
        "wagateway.db",
        f"media\\{app_id}\\x.png",
        path + "/..",
    ]:
        response = api.get("/media", params={"path": trick})
        assert response.status_code in (400, 404), trick
        assert response.json()["error"]["code"] in ("validation_error", "not_found")
    missing = f"media/{app_id}/{device['device_id']}-00000000-0000-0000-0000-000000000000.png"
    assert api.get("/media", params={"path": missing}).status_code == 404
    # The same tricks encoded in the URL itself (the server decodes them before the check),
    # a NUL, a trailing newline, and a second `path` parameter.
    for raw in [
        f"media/{app_id}/%2e%2e/%2e%2e/secret.key",
        f"media/{app_id}/..%2f..%2fsecret.key",
        f"media%2f{app_id}%2f..%2f..%2fwagateway.db",
        f"media/{app_id}/..%5c..%5csecret.key",
        "%2fetc%2fpasswd",
        "%2e%2e%2fsecret.key",
        "%c0%ae%c0%ae/secret.key",  # an overlong UTF-8 "."
        "%EF%BC%8E%EF%BC%8E/secret.key",  # fullwidth dots
        quote(path) + "%00",
        quote(path) + "%00.png",
        quote(path) + "%0a",
        quote(path).upper(),
        quote(path) + "&path=..%2fsecret.key",
        "..%2fsecret.key&path=" + quote(path) + "/..",
    ]:
        response = api.get(f"/media?path={raw}")
        assert response.status_code in (400, 404), raw
        assert response.json()["error"]["code"] in ("validation_error", "not_found"), raw


def test_media_never_follows_a_symlink_out_of_the_store(
    server: GatewayServer, api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    """Should anything plant a symlink in the data dir's media store (a file, or a whole
    app's folder), the download is refused: the resolved path must stay in the store."""
    outside = server.data_dir / "outside"
    outside.mkdir(exist_ok=True)
    paths = []
    for _ in range(2):
        wa_id = inbound(api, device["device_id"], {"type": "image"})
        paths.append(message_event(receiver, device["device_id"], wa_id)["media_path"])
    assert api.get("/media", params={"path": paths[0]}).status_code == 200

    # A file replaced by a symlink to something outside the store.
    stored = server.data_dir / "store" / paths[0]
    (outside / "private.txt").write_text("not media")
    stored.unlink()
    stored.symlink_to(outside / "private.txt")
    refused = api.get("/media", params={"path": paths[0]})
    assert refused.status_code == 404 and b"not media" not in refused.content

    # An app's folder replaced by a symlink to a folder outside holding the same name.
    folder = stored.parent
    (outside / paths[1].rsplit("/", 1)[1]).write_text("not media either")
    folder.rename(folder.with_name(folder.name + ".moved"))
    folder.symlink_to(outside, target_is_directory=True)
    try:
        refused = api.get("/media", params={"path": paths[1]})
        assert refused.status_code == 404 and b"not media" not in refused.content
    finally:
        folder.unlink()
        folder.with_name(folder.name + ".moved").rename(folder)


def test_an_attachment_name_cannot_break_the_download_headers(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    """File names come from whoever sent the attachment: quotes, line breaks and non-ASCII
    letters must neither split the header nor fail the download."""
    name = 'faktur "Mei" — résumé\r\nX-Injected: 1.pdf'
    wa_id = inbound(api, device["device_id"], {"type": "document", "file_name": name})
    path = message_event(receiver, device["device_id"], wa_id)["media_path"]
    got = api.get("/media", params={"path": path})
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    assert "x-injected" not in got.headers
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; ") and "\r" not in disposition
    assert "filename*=utf-8''" in disposition.lower()


def test_runtime_queries(api: httpx.Client, device: dict) -> None:
    device_id = device["device_id"]
    groups = api.get(f"/devices/{device_id}/groups").json()["groups"]
    assert groups and groups[0]["jid"].endswith("@g.us")
    own = next(p for p in groups[0]["participants"] if p["phone"] == "6281234567890")
    assert own["jid"] == "6281234567890@s.whatsapp.net" and own["admin"] is True
    assert own["lid"].endswith("@lid")
    assert {"subject", "description", "owner", "announce", "locked", "created_at"} <= set(groups[0])
    one = api.get(f"/devices/{device_id}/groups/{groups[0]['jid']}")
    assert one.status_code == 200 and one.json() == groups[0]
    unknown_group = api.get(f"/devices/{device_id}/groups/120363999999999999@g.us")
    assert unknown_group.status_code == 404 and error_code(unknown_group) == "not_found"
    profile = api.get(f"/devices/{device_id}/profile", params={"jid": "+62 855-5000-1111"}).json()
    assert profile["jid"] == f"{CONTACT}@s.whatsapp.net" and profile["name"]
    missing = api.get(f"/devices/{device_id}/profile", params={"jid": "9991234567"})
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    unknown = api.get(f"/devices/{device_id}/presence", params={"jid": CONTACT}).json()
    assert unknown["presence"] == "unknown"
    inbound(api, device_id, {"text": "online now"})
    seen = wait_until(
        lambda: (
            (p := api.get(f"/devices/{device_id}/presence", params={"jid": CONTACT}).json())[
                "presence"
            ]
            == "available"
            and p
        ),
        what="presence cached",
    )
    assert seen["last_seen"]
    checked = api.get(
        f"/devices/{device_id}/contacts/check", params=[("phone", CONTACT), ("phone", "9991234567")]
    ).json()["contacts"]
    assert checked[0] == {
        "phone": CONTACT,
        "on_whatsapp": True,
        "jid": f"{CONTACT}@s.whatsapp.net",
        "lid": checked[0]["lid"],
    }
    assert checked[0]["lid"].endswith("@lid")
    assert checked[1]["on_whatsapp"] is False and checked[1]["jid"] is None
    bad = api.get(f"/devices/{device_id}/contacts/check", params={"phone": "abc"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "phone"
    api.post(f"/devices/{device_id}/disconnect")
    offline = api.get(f"/devices/{device_id}/groups")
    assert offline.status_code == 409 and error_code(offline) == "device_not_connected"


def test_revoke_and_presence_events(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    device_id = device["device_id"]
    wa_id = inbound(api, device_id, {"text": "oops"})
    message_event(receiver, device_id, wa_id)
    revoked = api.post(
        f"/sandbox/devices/{device_id}/revoke", json={"from": CONTACT, "wa_message_id": wa_id}
    )
    assert revoked.status_code == 202
    event = receiver.wait_for(device_id, "message_revoked")[0].json["payload"]
    assert event["wa_message_id"] == wa_id and event["chat"] == f"{CONTACT}@s.whatsapp.net"
    presence = receiver.wait_for(device_id, "presence")[0].json["payload"]
    assert presence["jid"] == f"{CONTACT}@s.whatsapp.net" and presence["presence"] == "available"
    stored = api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"}).json()
    assert stored["messages"][0]["content"]["revoked"] is True


def test_archive_after_delete_is_readable_and_media_is_gone(
    api: httpx.Client, receiver: WebhookReceiver, device: dict
) -> None:
    device_id = device["device_id"]
    sent = api.post(f"/devices/{device_id}/messages", json={"to": CONTACT, "text": "bye"}).json()
    wait_until(
        lambda: (
            api.get(f"/devices/{device_id}/messages/{sent['message_id']}").json()["status"]
            == "read"
        ),
        what="read",
    )
    wa_id = inbound(api, device_id, {"type": "image"})
    path = message_event(receiver, device_id, wa_id)["media_path"]
    assert api.get("/media", params={"path": path}).status_code == 200
    assert api.delete(f"/devices/{device_id}").status_code == 200
    receiver.wait_for(device_id, "device_destroyed")
    assert api.get(f"/devices/{device_id}/messages").status_code == 410
    assert api.get("/media", params={"path": path}).status_code == 404
    export = api.get(f"/archive/devices/{device_id}/messages.jsonl")
    assert export.status_code == 200 and export.headers["content-type"].startswith(
        "application/x-ndjson"
    )
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert [r["direction"] for r in rows] == ["outbound", "inbound"]
    assert rows[0]["message_id"] == sent["message_id"] and rows[0]["status"] == "read"
    events = [
        json.loads(line)
        for line in api.get(f"/archive/devices/{device_id}/events.jsonl").text.splitlines()
    ]
    names = [e["event"] for e in events]
    assert names[0] == "device_qr_generated" and names[-1] == "device_destroyed"
    assert all(e["archived"] for e in events) and "receipt" in names
    assert all("attempt_log" in e for e in events)


def test_media_in_an_s3_bucket(make_server, receiver: WebhookReceiver, s3_endpoint: str) -> None:
    gateway: GatewayServer = make_server(
        WAGW_MEDIA_STORE="s3",
        WAGW_S3_BUCKET="wagw-media",
        WAGW_S3_PREFIX="e2e",
        WAGW_S3_ENDPOINT_URL=s3_endpoint,
        WAGW_S3_ACCESS_KEY_ID="test",
        WAGW_S3_SECRET_ACCESS_KEY="test",
    )
    creds = gateway.create_app("s3 media", receiver.url)
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        created = create_device(api, "s3 inbox")
        device_id = scan(api, created["qr"])["device_id"]
        wa_id = inbound(api, device_id, {"type": "image", "caption": "in a bucket"})
        path = message_event(receiver, device_id, wa_id)["media_path"]
        download = api.get("/media", params={"path": path})
        assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
        assert not (gateway.data_dir / "store").exists(), "nothing written to the local store"
        assert api.delete(f"/devices/{device_id}").status_code == 200
        assert api.get("/media", params={"path": path}).status_code == 404
