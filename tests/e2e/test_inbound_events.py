"""What contacts do besides writing, end to end (CONTRACT §8.2, §8.5): a sandbox control on a
real gateway → a signed webhook at a real receiver, on SQLite and PostgreSQL (one server per
module and backend)."""

from __future__ import annotations

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import Delivery, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

CONTACT = "6285550001111"
CHAT = f"{CONTACT}@s.whatsapp.net"


@pytest.fixture
def device(api: httpx.Client) -> dict:
    return scan(api, create_device(api, "inbound events")["qr"])


def inbound(api: httpx.Client, device_id: str, body: dict) -> str | None:
    response = api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, **body})
    assert response.status_code == 202, response.text
    wa_message_id: str | None = response.json()["wa_message_id"]
    return wa_message_id


def signed(delivery: Delivery, app_creds: dict) -> dict:
    """The delivery's payload, once its Standard Webhooks signature checks out."""
    Webhook(app_creds["webhook_secret"]).verify(delivery.body, delivery.headers)
    assert delivery.headers["x-wa-event"] == delivery.json["event"]
    payload: dict = delivery.json["payload"]
    return payload


def message_event(receiver: WebhookReceiver, device_id: str, wa_message_id: str) -> Delivery:
    return wait_until(
        lambda: [
            d
            for d in receiver.events(device_id, "message")
            if d.json["payload"]["wa_message_id"] == wa_message_id
        ],
        what=f"message event of {wa_message_id}",
    )[0]


def test_chat_presence_is_its_own_event(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    for state in ("typing", "recording", "paused"):
        assert inbound(api, device_id, {"type": "chat_presence", "state": state}) is None
    deliveries = receiver.wait_for(device_id, "chat_presence", count=3)
    payloads = [signed(d, app_creds) for d in deliveries]
    assert payloads == [
        {"chat": CHAT, "jid": CHAT, "state": state} for state in ("typing", "recording", "paused")
    ]
    assert receiver.events(device_id, "presence") == [], "typing is not online presence"
    missing = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, "type": "chat_presence"}
    )
    assert missing.status_code == 400 and error_code(missing) == "validation_error"
    wrong = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": CONTACT, "type": "chat_presence", "state": "dancing"},
    )
    assert wrong.status_code == 400 and error_code(wrong) == "validation_error"
    api.post(f"/devices/{device_id}/disconnect")
    offline = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": CONTACT, "type": "chat_presence", "state": "typing"},
    )
    assert offline.status_code == 409 and error_code(offline) == "device_not_connected"
    assert len(receiver.events(device_id, "chat_presence")) == 3


def test_forwarded_on_every_inbound_type(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    bodies = {
        "text": {"text": "diteruskan"},
        "image": {"type": "image", "caption": "foto"},
        "document": {"type": "document", "file_name": "a.pdf"},
        "location": {"type": "location", "latitude": -6.2, "longitude": 106.8},
    }
    marked = {
        kind: inbound(api, device_id, {**body, "forwarded": True}) for kind, body in bodies.items()
    }
    plain = inbound(api, device_id, {"text": "asli"})
    for kind, wa_id in marked.items():
        assert wa_id is not None
        payload = signed(message_event(receiver, device_id, wa_id), app_creds)
        assert (payload["type"], payload["forwarded"]) == (kind, True)
        stored = api.get(f"/devices/{device_id}/messages/{payload['message_id']}").json()
        assert stored["forwarded"] is True
    assert plain is not None
    assert signed(message_event(receiver, device_id, plain), app_creds)["forwarded"] is False


def revoked_event(receiver: WebhookReceiver, device_id: str, wa_message_id: str) -> Delivery:
    return wait_until(
        lambda: [
            d
            for d in receiver.events(device_id, "message_revoked")
            if d.json["payload"]["wa_message_id"] == wa_message_id
        ],
        what=f"message_revoked of {wa_message_id}",
    )[0]


def test_revoke_by_inbound_type_and_by_its_alias(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    first, second = (inbound(api, device_id, {"text": t}) for t in ("satu", "dua"))
    assert first is not None and second is not None
    ids = {
        wa_id: signed(message_event(receiver, device_id, wa_id), app_creds)["message_id"]
        for wa_id in (first, second)
    }
    assert inbound(api, device_id, {"type": "revoke", "wa_message_id": first}) == first
    alias = api.post(
        f"/sandbox/devices/{device_id}/revoke", json={"from": CONTACT, "wa_message_id": second}
    )
    assert alias.status_code == 202 and alias.json() == {"wa_message_id": second}
    for wa_id, message_id in ids.items():
        payload = signed(revoked_event(receiver, device_id, wa_id), app_creds)
        assert payload["message_id"] == message_id and payload["chat"] == CHAT
        assert payload["by"] == CONTACT
        stored = api.get(f"/devices/{device_id}/messages/{message_id}").json()
        assert stored["content"]["revoked"] is True
    unseen = inbound(api, device_id, {"type": "revoke", "wa_message_id": "3EB0NEVERSEEN"})
    payload = signed(revoked_event(receiver, device_id, "3EB0NEVERSEEN"), app_creds)
    assert unseen == "3EB0NEVERSEEN" and payload["message_id"] is None
    missing = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, "type": "revoke"}
    )
    assert missing.status_code == 400 and error_code(missing) == "validation_error"
    assert len(receiver.events(device_id, "message_revoked")) == 3


def edited_events(receiver: WebhookReceiver, device_id: str, wa_message_id: str) -> list[Delivery]:
    return [
        d
        for d in receiver.events(device_id, "message_edited")
        if d.json["payload"]["wa_message_id"] == wa_message_id
    ]


def test_edit_updates_the_stored_message_and_is_announced(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    text_id = inbound(api, device_id, {"text": "harga 40rb"})
    image_id = inbound(api, device_id, {"type": "image", "caption": "foto lama"})
    assert text_id is not None and image_id is not None
    text_message = signed(message_event(receiver, device_id, text_id), app_creds)
    image_message = signed(message_event(receiver, device_id, image_id), app_creds)
    edits = {text_id: "harga 50rb", image_id: "foto baru"}
    for wa_id, new_text in edits.items():
        answer = inbound(api, device_id, {"type": "edit", "wa_message_id": wa_id, "text": new_text})
        assert answer == wa_id
    for wa_id, message, field in (
        (text_id, text_message, "text"),
        (image_id, image_message, "caption"),
    ):
        delivery = wait_until(lambda w=wa_id: edited_events(receiver, device_id, w), what="edit")
        payload = signed(delivery[0], app_creds)
        assert payload["message_id"] == message["message_id"] and payload["chat"] == CHAT
        assert payload["from"] == CONTACT and payload["text"] == edits[wa_id]
        assert payload["edited_at"].endswith("Z")
        stored = api.get(f"/devices/{device_id}/messages/{message['message_id']}").json()
        assert stored["content"][field] == edits[wa_id]
        assert stored["content"]["edited_at"] == payload["edited_at"]
    assert inbound(api, device_id, {"type": "edit", "wa_message_id": "3EB0NONE", "text": "x"})
    unseen = wait_until(lambda: edited_events(receiver, device_id, "3EB0NONE"), what="edit")
    assert signed(unseen[0], app_creds)["message_id"] is None
    for body, field in (
        ({"type": "edit", "wa_message_id": text_id}, "text"),
        ({"type": "edit", "text": "y"}, "wa_message_id"),
    ):
        bad = api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, **body})
        assert bad.status_code == 400 and error_code(bad) == "validation_error"
        assert bad.json()["error"]["details"]["field"] == field
    assert len(receiver.events(device_id, "message_edited")) == 3
    listed = api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"}).json()
    assert len(listed["messages"]) == 2, "an edit is not a new message"


def sent(api: httpx.Client, device_id: str, body: dict) -> dict:
    """Send, then wait until the simulated network has it (paced sends take their time)."""
    response = api.post(f"/devices/{device_id}/messages", json={"to": CONTACT, **body})
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    message: dict = wait_until(
        lambda: (
            (m := api.get(f"/devices/{device_id}/messages/{message_id}").json())["status"]
            in ("sent", "delivered", "read")
            and m
        ),
        timeout=30,
        what=f"{message_id} sent",
    )
    return message


def sent_poll(api: httpx.Client, device_id: str, options: list[str], multi: bool) -> dict:
    body = {
        "type": "interactive",
        "poll_question": "Jam berapa?",
        "poll_options": options,
        "poll_multi": multi,
    }
    return sent(api, device_id, body)


def vote(api: httpx.Client, device_id: str, poll: str, options: list[str]) -> httpx.Response:
    return api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": CONTACT, "type": "poll_vote", "poll_message_id": poll, "options": options},
    )


def test_poll_votes_are_poll_responses_with_option_texts(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    multi = sent_poll(api, device_id, ["09:00", "13:00", "16:00"], multi=True)
    single = sent_poll(api, device_id, ["Ya", "Tidak"], multi=False)
    by_gateway_id = vote(api, device_id, multi["message_id"], ["16:00", "09:00"])
    assert by_gateway_id.status_code == 202, by_gateway_id.text
    assert by_gateway_id.json()["wa_message_id"] == multi["wa_message_id"]
    assert vote(api, device_id, single["wa_message_id"], ["Tidak"]).status_code == 202
    assert vote(api, device_id, multi["wa_message_id"], []).status_code == 202  # withdrawn
    deliveries = receiver.wait_for(device_id, "poll_response", count=3)
    payloads = [signed(d, app_creds) for d in deliveries]
    chosen = [
        (p["message_id"], p["wa_message_id"], p["selected_options"], p["voter"]) for p in payloads
    ]
    assert chosen == [
        (multi["message_id"], multi["wa_message_id"], ["16:00", "09:00"], CONTACT),
        (single["message_id"], single["wa_message_id"], ["Tidak"], CONTACT),
        (multi["message_id"], multi["wa_message_id"], [], CONTACT),
    ]
    assert all(
        p["chat"] == CHAT and len(p["selected_hashes"]) == len(p["selected_options"])
        for p in payloads
    )
    stored = api.get(f"/devices/{device_id}/messages/{single['message_id']}").json()
    assert stored["content"]["poll_votes"] == {CONTACT: ["Tidak"]}
    for poll, options, code in (
        ("3EB0NOSUCHPOLL", ["Ya"], 404),
        (single["message_id"], ["Mungkin"], 400),
        (single["message_id"], ["Ya", "Tidak"], 400),
        (multi["message_id"], ["09:00", "09:00"], 400),
    ):
        refused = vote(api, device_id, poll, options)
        assert refused.status_code == code, refused.text
    text = sent(api, device_id, {"text": "bukan polling"})
    assert vote(api, device_id, text["message_id"], ["Ya"]).status_code == 404
    missing = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"from": CONTACT, "type": "poll_vote", "poll_message_id": single["message_id"]},
    )
    assert missing.status_code == 400 and missing.json()["error"]["details"]["field"] == "options"
    assert len(receiver.events(device_id, "poll_response")) == 3


def test_button_and_list_replies_are_their_own_events(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    button_id = inbound(
        api,
        device_id,
        {
            "type": "button_reply",
            "reply_to": "3EB0ASKED",
            "selected_id": "btn-ya",
            "selected_text": "Ya",
        },
    )
    row_id = inbound(
        api,
        device_id,
        {"type": "list_reply", "reply_to": "3EB0LIST", "selected_row_id": "row-2", "title": "B"},
    )
    button = signed(receiver.wait_for(device_id, "button_response")[0], app_creds)
    row = signed(receiver.wait_for(device_id, "list_response")[0], app_creds)
    assert {k: button[k] for k in ("wa_message_id", "reply_to", "chat", "from")} == {
        "wa_message_id": button_id,
        "reply_to": "3EB0ASKED",
        "chat": CHAT,
        "from": CONTACT,
    }
    assert (button["selected_id"], button["selected_text"]) == ("btn-ya", "Ya")
    assert (row["wa_message_id"], row["reply_to"], row["chat"], row["from"]) == (
        row_id,
        "3EB0LIST",
        CHAT,
        CONTACT,
    )
    assert (row["selected_row_id"], row["title"]) == ("row-2", "B")
    stored = api.get(f"/devices/{device_id}/messages/{button['message_id']}").json()
    assert stored["type"] == "button_response" and stored["reply_to"] == "3EB0ASKED"
    assert receiver.events(device_id, "message") == [], "a reply is not also a message event"
    for body, field in (
        ({"type": "button_reply", "selected_id": "x", "selected_text": "X"}, "reply_to"),
        ({"type": "button_reply", "reply_to": "3EB0A", "selected_text": "X"}, "selected_id"),
        ({"type": "list_reply", "reply_to": "3EB0A", "selected_row_id": "r"}, "title"),
    ):
        bad = api.post(f"/sandbox/devices/{device_id}/inbound", json={"from": CONTACT, **body})
        assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == field


def test_owner_messages_from_the_phone_are_outbound_with_source_phone(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    """CONTRACT §8.2 `source`: the owner typing on the phone (sandbox `from_me`) is the chat's
    outbound message, source `phone`; what the API sent says `api`, a contact's `contact`."""
    device_id, own = device["device_id"], device["wa_number"]
    typed = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"type": "text", "from_me": True, "to": CONTACT, "text": "sudah dikirim ya"},
    )
    assert typed.status_code == 202, typed.text
    phone_id = typed.json()["wa_message_id"]
    photo = api.post(
        f"/sandbox/devices/{device_id}/inbound",
        json={"type": "image", "from_me": True, "to": CHAT, "caption": "nota"},
    )
    assert photo.status_code == 202, photo.text
    payload = signed(message_event(receiver, device_id, phone_id), app_creds)
    assert (payload["direction"], payload["source"], payload["type"]) == (
        "outbound",
        "phone",
        "text",
    )
    assert (payload["from"], payload["to"], payload["chat"]) == (own, CONTACT, CHAT)
    assert payload["text"] == "sudah dikirim ya"
    image = signed(message_event(receiver, device_id, photo.json()["wa_message_id"]), app_creds)
    assert (image["direction"], image["source"], image["caption"]) == ("outbound", "phone", "nota")
    assert image["media_path"], "the photo is in the media store"
    stored = api.get(f"/devices/{device_id}/messages/{payload['message_id']}").json()
    assert (stored["direction"], stored["source"], stored["status"], stored["chat"]) == (
        "outbound",
        "phone",
        "sent",
        CHAT,
    )
    assert stored["wa_message_id"] == phone_id and stored["sent_at"]

    api_sent = sent(api, device_id, {"text": "dari API"})
    contact_id = inbound(api, device_id, {"text": "terima kasih"})
    assert contact_id is not None
    by_api = signed(message_event(receiver, device_id, api_sent["wa_message_id"]), app_creds)
    by_contact = signed(message_event(receiver, device_id, contact_id), app_creds)
    assert (by_api["source"], by_contact["source"]) == ("api", "contact")
    assert api_sent["source"] == "api"
    listed = api.get(f"/devices/{device_id}/messages").json()["messages"]
    assert [(m["source"], m["direction"]) for m in listed if m["chat"] == CHAT] == [
        ("contact", "inbound"),
        ("api", "outbound"),
        ("phone", "outbound"),
        ("phone", "outbound"),
    ]
    phone_only = api.get(f"/devices/{device_id}/messages", params={"source": "phone"}).json()
    assert {m["wa_message_id"] for m in phone_only["messages"]} == {
        phone_id,
        photo.json()["wa_message_id"],
    }
    network = api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
    sent_ids = {e["wa_message_id"] for e in network if e["kind"] == "message"}
    assert sent_ids == {api_sent["wa_message_id"]}, "the phone's messages were not the device's"
    for body, field in (
        ({"type": "text", "from_me": True, "text": "x"}, "to"),
        ({"type": "chat_presence", "from_me": True, "to": CONTACT, "state": "typing"}, "from_me"),
        ({"type": "text", "from_me": True, "to": "bukan nomor", "text": "x"}, "to"),
    ):
        bad = api.post(f"/sandbox/devices/{device_id}/inbound", json=body)
        assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == field
    unknown = api.get(f"/devices/{device_id}/messages", params={"source": "fax"})
    assert unknown.status_code == 400 and error_code(unknown) == "validation_error"


def call_states(receiver: WebhookReceiver, device_id: str, call_id: str, count: int) -> list[dict]:
    """The `call` events of one call, once `count` of them arrived (their payloads)."""
    found: list[Delivery] = wait_until(
        lambda: (
            len(
                ds := [
                    d
                    for d in receiver.events(device_id, "call")
                    if d.json["payload"]["call_id"] == call_id
                ]
            )
            >= count
            and ds
        ),
        what=f"{count} call events of {call_id}",
    )
    return [d.json["payload"] for d in found]


def place_call(api: httpx.Client, device_id: str, **body: object) -> dict:
    response = api.post(f"/sandbox/devices/{device_id}/call", json={"from": CONTACT, **body})
    assert response.status_code == 202, response.text
    placed: dict = response.json()
    return placed


def test_calls_are_reported_and_rejected_with_a_reply_by_policy(
    api: httpx.Client, receiver: WebhookReceiver, device: dict, app_creds: dict
) -> None:
    device_id = device["device_id"]
    # No policy: the call rings (offer) and, unanswered, ends missed.
    missed = place_call(api, device_id, video=True)
    assert missed["state"] == "missed"
    payloads = [signed(d, app_creds) for d in receiver.wait_for(device_id, "call", count=2)]
    assert [(p["call_id"], p["from"], p["video"], p["group"], p["state"]) for p in payloads] == [
        (missed["call_id"], CONTACT, True, False, "offer"),
        (missed["call_id"], CONTACT, True, False, "missed"),
    ]
    answered = place_call(api, device_id, outcome="accepted")
    states = [p["state"] for p in call_states(receiver, device_id, answered["call_id"], 3)]
    assert (answered["state"], states) == ("ended", ["offer", "accepted", "ended"])

    # The app's policy rejects and answers; the device follows it.
    reply = "Maaf, nomor ini tidak menerima telepon. Silakan kirim pesan."
    policy = {"reject": True, "reply_text": reply}
    changed = api.patch("/app", json={"call_policy": policy})
    assert changed.status_code == 200, changed.text
    assert changed.json()["call_policy"] == api.get("/app").json()["call_policy"] == policy
    rejected = place_call(api, device_id)
    assert rejected["state"] == "rejected"
    events = call_states(receiver, device_id, rejected["call_id"], 2)
    assert [(p["state"], p["video"], p["from"]) for p in events] == [
        ("offer", False, CONTACT),
        ("rejected", False, CONTACT),
    ]
    network = api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
    rejects = [e for e in network if e["kind"] == "call_reject"]
    assert [(e["call_id"], e["to"]) for e in rejects] == [(rejected["call_id"], CHAT)]
    auto = wait_until(
        lambda: [
            d
            for d in receiver.events(device_id, "message")
            if d.json["payload"]["source"] == "auto"
        ],
        what="the call reply's message event",
    )
    sent = signed(auto[0], app_creds)
    assert (sent["direction"], sent["to"], sent["text"], sent["type"]) == (
        "outbound",
        CONTACT,
        reply,
        "text",
    )
    stored = api.get(f"/devices/{device_id}/messages/{sent['message_id']}").json()
    assert (stored["source"], stored["status"] != "queued") == ("auto", True)
    on_network = wait_until(
        lambda: [
            (e["to"], e["text"])
            for e in api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
            if e["kind"] == "message"
        ],
        what="the reply on the network",
    )
    assert on_network == [(CHAT, reply)]

    # The device's own policy wins: it only reports calls; cleared, the app's applies again.
    own = api.patch(f"/devices/{device_id}", json={"call_policy": {"reject": False}})
    assert own.json()["call_policy"] == {"reject": False, "reply_text": None}
    assert place_call(api, device_id)["state"] == "missed"
    cleared = api.patch(f"/devices/{device_id}", json={"call_policy": None})
    assert cleared.json()["call_policy"] is None
    assert place_call(api, device_id)["state"] == "rejected"
    network = api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
    assert len([e for e in network if e["kind"] == "call_reject"]) == 2

    api.post(f"/devices/{device_id}/disconnect")
    offline = api.post(f"/sandbox/devices/{device_id}/call", json={"from": CONTACT})
    assert offline.status_code == 409 and error_code(offline) == "device_not_connected"


def test_call_policy_and_presence_mode_settings_are_checked(
    api: httpx.Client, device: dict
) -> None:
    device_id = device["device_id"]
    too_long = "x" * 65537
    bad = [
        ({"call_policy": {"reject": "yes"}}, "call_policy.reject"),
        ({"call_policy": {"reply_text": "hi"}}, "call_policy.reject"),
        ({"call_policy": {"reject": True, "reply": "hi"}}, "call_policy.reply"),
        ({"call_policy": {"reject": True, "reply_text": too_long}}, "call_policy.reply_text"),
        ({"call_policy": {"reject": False, "reply_text": "hi"}}, "call_policy.reply_text"),
        ({"presence_mode": "sometimes"}, "presence_mode"),
    ]
    for path in ("/app", f"/devices/{device_id}"):
        for body, field in bad:
            response = api.patch(path, json=body)
            assert response.status_code == 400, (path, body, response.text)
            assert error_code(response) == "validation_error"
            assert response.json()["error"]["details"]["field"] == field, (path, body)
    app = api.get("/app").json()
    assert (app["call_policy"], app["presence_mode"]) == (None, None)

    # Set, shown, kept when other fields change, cleared by null.
    app = api.patch("/app", json={"presence_mode": "always_online"}).json()
    assert app["presence_mode"] == "always_online"
    kept = api.patch("/app", json={"name": "renamed"}).json()
    assert kept["presence_mode"] == "always_online"
    assert api.patch("/app", json={"presence_mode": None}).json()["presence_mode"] is None
    own = api.patch(
        f"/devices/{device_id}",
        json={"presence_mode": "on_demand", "call_policy": {"reject": True, "reply_text": "  "}},
    ).json()
    assert (own["presence_mode"], own["call_policy"]) == (
        "on_demand",
        {"reject": True, "reply_text": None},
    )
    again = api.get(f"/devices/{device_id}").json()
    assert (again["presence_mode"], again["call_policy"]) == (
        own["presence_mode"],
        own["call_policy"],
    )
    renamed = api.patch(f"/devices/{device_id}", json={"device_name": "calls"}).json()
    assert renamed["presence_mode"] == "on_demand"
