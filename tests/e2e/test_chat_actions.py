"""Chat actions (CONTRACT §8.1) against a real server on the sandbox, on both databases:
each route's effect is what the device did on the simulated network (`kind` `read`,
`chat_presence`, `presence` in `GET /sandbox/devices/{id}/network`). Last, the same routes
on a whatsmeow app, through its worker process to the neonize stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.e2e.test_inbound_events import signed
from tests.support.fake_phones import gateway_on_fake_phones, linked_device
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.engines.whatsmeow import neonize_loader

pytestmark = pytest.mark.e2e

ALICE = "6285550001111"
BOB = "6285550002222"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def acts(api: httpx.Client, device_id: str, kind: str) -> list[dict]:
    response = api.get(f"/sandbox/devices/{device_id}/network")
    assert response.status_code == 200, response.text
    return [e for e in response.json()["network"] if e["kind"] == kind]


def inbound(api: httpx.Client, device_id: str) -> list[dict]:
    """The device's received messages, oldest first."""
    response = api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["messages"]))


def receive(api: httpx.Client, device_id: str, sender: str, text: str) -> str:
    """A contact writes; waits until the gateway stored it; returns its WhatsApp id."""
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": sender, "text": text}
    )
    assert response.status_code == 202, response.text
    wa_id = str(response.json()["wa_message_id"])
    wait_until(
        lambda: any(m["wa_message_id"] == wa_id for m in inbound(api, device_id)),
        what=f"inbound {text!r} stored",
    )
    return wa_id


@pytest.fixture
def device(api: httpx.Client) -> str:
    device_id = str(create_device(api, "chat actions")["device_id"])
    scan_current_qr(api, device_id)
    return device_id


def test_read_marks_the_message_and_earlier_unread_ones_of_its_chat(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    first = receive(api, device, ALICE, "satu")
    other_chat = receive(api, device, BOB, "dari bob")
    second = receive(api, device, ALICE, "dua")
    later = receive(api, device, ALICE, "tiga")
    by_wa = {m["wa_message_id"]: m for m in inbound(api, device)}
    assert all(m["read_at"] is None for m in by_wa.values())

    # By the gateway's id: the message and the earlier unread one of the same chat.
    response = api.post(f"/devices/{device}/messages/{by_wa[second]['message_id']}/read")
    assert response.status_code == 200, response.text
    assert response.json()["message_id"] == by_wa[second]["message_id"]
    assert response.json()["read_at"] is not None
    chat = f"{ALICE}@s.whatsapp.net"
    reads = wait_until(lambda: acts(api, device, "read"), what="read receipt logged")
    assert len(reads) == 1
    assert reads[0]["chat"] == chat and reads[0]["sender"] == chat
    assert reads[0]["wa_message_ids"] == [first, second]
    now = {m["wa_message_id"]: m for m in inbound(api, device)}
    assert now[first]["read_at"] and now[second]["read_at"]
    assert now[later]["read_at"] is None, "a later message stays unread"
    assert now[other_chat]["read_at"] is None, "another chat stays unread"

    # By the WhatsApp id: only what is still unread gets a receipt.
    response = api.post(f"/devices/{device}/messages/{later}/read")
    assert response.status_code == 200, response.text
    assert response.json()["wa_message_id"] == later and response.json()["read_at"]
    reads = wait_until(
        lambda: (r := acts(api, device, "read")) and len(r) == 2 and r, what="second receipt"
    )
    assert reads[1]["wa_message_ids"] == [later]

    # Already read: nothing more is sent.
    again = api.post(f"/devices/{device}/messages/{first}/read")
    assert again.status_code == 200 and again.json()["read_at"] == now[first]["read_at"]
    api.post(f"/devices/{device}/presence", json={"state": "available"})  # a marker act
    wait_until(lambda: acts(api, device, "presence"), what="marker logged")
    assert len(acts(api, device, "read")) == 2


def test_read_refuses_unknown_and_outbound_messages_and_offline_devices(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    unknown = api.post(f"/devices/{device}/messages/3EB0NOSUCHMESSAGE/read")
    assert unknown.status_code == 404 and error_code(unknown) == "not_found"
    sent = api.post(
        f"/devices/{device}/messages", params={"wait": "true"}, json={"to": ALICE, "text": "hi"}
    )
    assert sent.status_code == 200, sent.text
    own = api.post(f"/devices/{device}/messages/{sent.json()['message_id']}/read")
    assert own.status_code == 409 and error_code(own) == "conflict"
    wa_id = receive(api, device, ALICE, "halo")
    assert api.post(f"/devices/{device}/disconnect").status_code == 200
    offline = api.post(f"/devices/{device}/messages/{wa_id}/read")
    assert offline.status_code == 409 and error_code(offline) == "device_not_connected"
    assert all(m["read_at"] is None for m in inbound(api, device)), "nothing half-done"
    assert acts(api, device, "read") == []


def test_chat_presence_and_own_presence_reach_the_network(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    for state in ("typing", "recording", "paused"):
        response = api.post(f"/devices/{device}/chats/{ALICE}/presence", json={"state": state})
        assert response.status_code == 200, response.text
        assert response.json() == {"chat": f"{ALICE}@s.whatsapp.net", "state": state}
    group = "120363012345678901@g.us"
    response = api.post(f"/devices/{device}/chats/{group}/presence", json={"state": "typing"})
    assert response.status_code == 200 and response.json()["chat"] == group
    for state in ("unavailable", "available"):
        response = api.post(f"/devices/{device}/presence", json={"state": state})
        assert response.status_code == 200 and response.json() == {"state": state}

    chats = wait_until(
        lambda: (c := acts(api, device, "chat_presence")) and len(c) == 4 and c,
        what="chat presence logged",
    )
    assert [(c["chat"], c["state"]) for c in chats] == [
        (f"{ALICE}@s.whatsapp.net", "typing"),
        (f"{ALICE}@s.whatsapp.net", "recording"),
        (f"{ALICE}@s.whatsapp.net", "paused"),
        (group, "typing"),
    ]
    own = wait_until(
        lambda: (p := acts(api, device, "presence")) and len(p) == 2 and p, what="presence logged"
    )
    assert [p["state"] for p in own] == ["unavailable", "available"]


def test_presence_routes_refuse_bad_states_and_offline_devices(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    bad = api.post(f"/devices/{device}/chats/{ALICE}/presence", json={"state": "dancing"})
    assert bad.status_code == 400 and error_code(bad) == "validation_error"
    bad = api.post(f"/devices/{device}/presence", json={"state": "online"})
    assert bad.status_code == 400 and error_code(bad) == "validation_error"
    bad_chat = api.post(f"/devices/{device}/chats/not-a-chat/presence", json={"state": "typing"})
    assert bad_chat.status_code == 400 and error_code(bad_chat) == "validation_error"
    assert api.post(f"/devices/{device}/disconnect").status_code == 200
    for path, body in (
        (f"/devices/{device}/chats/{ALICE}/presence", {"state": "typing"}),
        (f"/devices/{device}/presence", {"state": "available"}),
    ):
        offline = api.post(path, json=body)
        assert offline.status_code == 409 and error_code(offline) == "device_not_connected"
    assert acts(api, device, "chat_presence") == [] and acts(api, device, "presence") == []
    missing = api.post("/devices/no-such-device/presence", json={"state": "available"})
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def presence_acts_are(
    api: httpx.Client, device_id: str, expected: list[tuple[str, str]], start: int = 0
) -> None:
    """Until the device's presence acts from `start` on are `expected` (the sandbox writes its
    network log in the background: an act shows there a moment after the call returned)."""
    seen: list[list[tuple[str, str]]] = []
    try:
        wait_until(
            lambda: seen.append(presence_acts(api, device_id)[start:]) or seen[-1] == expected,
            timeout=5,
            what="the presence acts",
        )
    except AssertionError:
        assert seen[-1] == expected  # the difference, shown


def presence_acts(api: httpx.Client, device_id: str) -> list[tuple[str, str]]:
    """The device's own presence and its subscriptions on the network: (kind, state or jid)."""
    return [
        (e["kind"], e.get("state") or e.get("jid"))
        for e in api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
        if e["kind"] in ("presence", "presence_subscribe")
    ]


def contact_presence(api: httpx.Client, device_id: str, state: str, **extra: str) -> None:
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": ALICE, "type": "presence", "state": state, **extra},
    )
    assert response.status_code == 202, response.text


def test_presence_query_subscribes_on_demand_and_changes_arrive_while_online(
    api: httpx.Client,
    server: GatewayServer,
    device: str,
    receiver: WebhookReceiver,
    app_creds: dict,
) -> None:
    """GET presence answers from the cache at once and subscribes; on_demand (the default)
    shows the account online just for the subscription, so a change while it is offline sends
    nothing; once it shows online the next change is a signed `presence` webhook, and GET
    presence answers it."""
    chat = f"{ALICE}@s.whatsapp.net"
    first = api.get(f"/devices/{device}/presence", params={"jid": ALICE})
    assert first.status_code == 200, first.text
    assert first.json() == {
        "jid": chat,
        "presence": "unknown",
        "last_seen": None,
        "observed_at": None,
        "subscribed": True,
    }
    subscribe = wait_until(lambda: acts(api, device, "presence_subscribe"), what="subscription")
    assert [s["jid"] for s in subscribe] == [chat]
    presence_acts_are(
        api,
        device,
        [("presence", "available"), ("presence_subscribe", chat), ("presence", "unavailable")],
    )
    assert [a.get("reason") for a in acts(api, device, "presence")] == ["on_demand"] * 2

    contact_presence(api, device, "available")  # the account shows offline: not sent
    assert api.post(f"/devices/{device}/presence", json={"state": "available"}).status_code == 200
    contact_presence(api, device, "unavailable", last_seen="2026-12-01T08:30:00Z")
    [delivery] = receiver.wait_for(device, "presence")
    assert signed(delivery, app_creds) == {
        "jid": chat,
        "presence": "unavailable",
        "last_seen": "2026-12-01T08:30:00.000Z",
    }
    answered = api.get(f"/devices/{device}/presence", params={"jid": f"+{ALICE}"}).json()
    assert answered["presence"] == "unavailable" and answered["subscribed"] is True
    assert answered["last_seen"].startswith("2026-12-01T08:30:00")
    assert len(receiver.events(device, "presence")) == 1, "nothing while it showed offline"
    # Online already (its own choice): the second subscription is not wrapped.
    presence_acts_are(
        api, device, [("presence", "available"), ("presence_subscribe", chat)], start=3
    )

    bad = api.post(
        f"/sandbox/devices/{device}/inbound",
        json={"from": ALICE, "type": "presence", "state": "typing"},
    )
    assert bad.status_code == 400 and error_code(bad) == "validation_error"
    assert api.post(f"/devices/{device}/disconnect").status_code == 200
    offline = api.get(f"/devices/{device}/presence", params={"jid": ALICE})
    assert offline.status_code == 409 and error_code(offline) == "device_not_connected"


def test_always_online_device_shows_online_at_connect_and_gets_presence(
    api: httpx.Client, server: GatewayServer, receiver: WebhookReceiver, app_creds: dict
) -> None:
    """presence_mode always_online (`PATCH /devices/{id}`): the device goes available once
    connected, subscriptions need no wrapping, changes arrive; switched back to on_demand
    (here through the app's setting, which a device without its own follows), a connected
    device goes unavailable at once."""
    device = str(create_device(api, "always online")["device_id"])
    changed = api.patch(f"/devices/{device}", json={"presence_mode": "always_online"})
    assert changed.status_code == 200 and changed.json()["presence_mode"] == "always_online"
    scan_current_qr(api, device)
    online = wait_until(lambda: acts(api, device, "presence"), what="available at connect")
    assert [(p["state"], p.get("reason")) for p in online] == [("available", "always_online")]
    kinds = [e["kind"] for e in api.get(f"/sandbox/devices/{device}/network").json()["network"]]
    assert kinds.index("connect") < kinds.index("presence")
    presence = api.get(f"/devices/{device}/presence", params={"jid": ALICE}).json()
    assert presence["subscribed"] is True
    chat = f"{ALICE}@s.whatsapp.net"
    presence_acts_are(api, device, [("presence", "available"), ("presence_subscribe", chat)])
    contact_presence(api, device, "available")
    [delivery] = receiver.wait_for(device, "presence")
    payload = signed(delivery, app_creds)
    assert payload["jid"] == chat and payload["presence"] == "available" and payload["last_seen"]

    assert api.patch(f"/devices/{device}", json={"presence_mode": None}).status_code == 200
    assert api.patch("/app", json={"presence_mode": "on_demand"}).status_code == 200
    wait_until(
        lambda: presence_acts(api, device)[-1:] == [("presence", "unavailable")],
        what="unavailable once the mode that applies is on_demand",
    )


def test_profile_has_the_contacts_push_name_and_picture(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    receive(api, device, ALICE, "halo")
    [message] = inbound(api, device)
    profile = api.get(f"/devices/{device}/profile", params={"jid": ALICE})
    assert profile.status_code == 200, profile.text
    body = profile.json()
    assert body["jid"] == f"{ALICE}@s.whatsapp.net" and body["phone"] == ALICE
    assert body["name"] == message["content"]["push_name"], "the push name its messages carry"
    assert body["picture_url"].startswith("https://") and ALICE in body["picture_url"]
    no_picture = api.get(f"/devices/{device}/profile", params={"jid": "6285550002220"}).json()
    assert no_picture["picture_url"] is None


# Engine processes are the subject (the sandbox tests above cover storage on both databases).
@pytest.mark.storage_agnostic
@pytest.mark.skipif(not neonize_loader.available(), reason=neonize_loader.missing() or "")
def test_whatsmeow_devices_read_and_show_presence_through_their_worker(
    make_server: Callable[..., GatewayServer], tmp_path: Path
) -> None:
    """The same routes on a whatsmeow app: through the supervisor, the worker process and the
    backend to the neonize stand-in (which records what reached the servers)."""
    server, client, network = gateway_on_fake_phones(
        make_server, tmp_path, "real phone", FAKE_NEONIZE_GREET="1"
    )
    # The app's presence_mode (its devices have none of their own): the worker's backend is
    # told it after the connect and sends AVAILABLE.
    with client as api:
        assert api.patch("/app", json={"presence_mode": "always_online"}).status_code == 200
        device = linked_device(api)
        wait_until(lambda: (network / "acts.jsonl").exists(), what="available once connected")
        (network / f"greet-{device}").write_text("halo")
        [message] = wait_until(lambda: inbound(api, device), what="the contact's message")
        read = api.post(f"/devices/{device}/messages/{message['message_id']}/read")
        assert read.status_code == 200 and read.json()["read_at"], read.text
        typing = api.post(f"/devices/{device}/chats/{ALICE}/presence", json={"state": "typing"})
        assert typing.status_code == 200, typing.text
        # Presence and profiles for real: a subscription (always_online: not wrapped) and the
        # contact's push name (whatsmeow's contact store) and picture.
        presence = api.get(f"/devices/{device}/presence", params={"jid": ALICE})
        assert presence.status_code == 200 and presence.json()["subscribed"] is True
        profile = api.get(f"/devices/{device}/profile", params={"jid": ALICE})
        assert profile.status_code == 200, profile.text
        assert profile.json()["name"] == message["content"]["push_name"]
        assert profile.json()["picture_url"] == f"https://pps.whatsapp.net/v/t61/{ALICE}.jpg"
        online = api.post(f"/devices/{device}/presence", json={"state": "available"})
        assert online.status_code == 200, online.text
        # A call, rejected by the app's call policy through the worker (reject_call), and
        # answered with the policy's text (source auto).
        policy = {"reject": True, "reply_text": "Maaf, kirim pesan saja."}
        assert api.patch("/app", json={"call_policy": policy}).status_code == 200
        (network / f"call-{device}").write_text(BOB)
        [reply] = wait_until(
            lambda: [
                m
                for m in api.get(f"/devices/{device}/messages").json()["messages"]
                if m["source"] == "auto" and m["status"] != "queued"
            ],
            what="the call's auto reply sent",
        )
        assert (reply["to"], reply["content"]["text"]) == (
            f"{BOB}@s.whatsapp.net",
            policy["reply_text"],
        )
    sent = read_jsonl(network / "sent.jsonl")
    assert [(s["to"], s["text"]) for s in sent] == [(f"{BOB}@s.whatsapp.net", policy["reply_text"])]
    chat = f"{ALICE}@s.whatsapp.net"
    *chat_acts, rejected = read_jsonl(network / "acts.jsonl")
    assert (rejected["method"], rejected["to"], rejected["device"]) == (
        "reject_call",
        f"{BOB}@s.whatsapp.net",
        device,
    )
    assert chat_acts == [
        {"device": device, "method": "send_presence", "presence": "AVAILABLE"},
        {
            "device": device,
            "method": "mark_read",
            "ids": [message["wa_message_id"]],
            "chat": chat,
            "sender": chat,
            "receipt": "READ",
        },
        {
            "device": device,
            "method": "send_chat_presence",
            "chat": chat,
            "state": "CHAT_PRESENCE_COMPOSING",
            "media": "CHAT_PRESENCE_MEDIA_TEXT",
        },
        {"device": device, "method": "subscribe_presence", "jid": chat},
        {"device": device, "method": "send_presence", "presence": "AVAILABLE"},
    ]
    server.stop()
