"""Chats and contacts (CONTRACT §8.4) against a real server on the sandbox, on both
databases: the chat list by last activity with unread counts that fall when the device marks
messages read and when the owner reads a chat on the phone (sandbox inbound type `read`),
one chat's messages, the session's contacts, and bad input in the error envelope."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_chat_actions import acts, receive
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.harness import wait_until

pytestmark = pytest.mark.e2e

ALICE = "6285550001111"
BOB = "6285550002222"
CAROL = "6285550003333"
GROUP = "120363012345678901@g.us"


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


@pytest.fixture
def device(api: httpx.Client) -> str:
    device_id = str(create_device(api, "chats")["device_id"])
    scan_current_qr(api, device_id)
    return device_id


def chats(api: httpx.Client, device_id: str, **params: object) -> dict:
    response = api.get(f"/devices/{device_id}/chats", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def unread(api: httpx.Client, device_id: str) -> dict[str, int]:
    return {c["chat"]: c["unread_count"] for c in chats(api, device_id)["chats"]}


def group_message(api: httpx.Client, device_id: str, sender: str, text: str) -> str:
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": sender, "text": text, "group": GROUP}
    )
    assert response.status_code == 202, response.text
    wa_id = str(response.json()["wa_message_id"])
    wait_until(
        lambda: any(
            m["wa_message_id"] == wa_id
            for m in api.get(f"/devices/{device_id}/messages").json()["messages"]
        ),
        what="group message stored",
    )
    return wa_id


def test_chats_by_last_activity_with_unread_counts_and_pages(
    api: httpx.Client, device: str
) -> None:
    assert chats(api, device) == {"chats": [], "next_cursor": None}
    receive(api, device, ALICE, "satu")
    receive(api, device, BOB, "dari bob")
    group_message(api, device, ALICE, "di grup")
    sent = api.post(
        f"/devices/{device}/messages", params={"wait": "true"}, json={"to": CAROL, "text": "halo"}
    )
    assert sent.status_code == 200, sent.text
    receive(api, device, ALICE, "dua")

    listed = chats(api, device)
    assert [c["chat"] for c in listed["chats"]] == [jid(ALICE), jid(CAROL), GROUP, jid(BOB)]
    by_chat = {c["chat"]: c for c in listed["chats"]}
    assert {chat: c["unread_count"] for chat, c in by_chat.items()} == {
        jid(ALICE): 2,
        jid(CAROL): 0,  # only the device's own message
        GROUP: 1,
        jid(BOB): 1,
    }
    assert by_chat[jid(ALICE)]["name"] == "Sandbox 1111", "the contact's push name"
    assert by_chat[GROUP]["name"] is None
    times = [c["last_message_at"] for c in listed["chats"]]
    assert times == sorted(times, reverse=True)
    assert listed["next_cursor"] is None

    # Cursor pagination, as the message list: no chat twice, none left out.
    first = chats(api, device, limit=3)
    assert len(first["chats"]) == 3 and first["next_cursor"]
    rest = chats(api, device, limit=3, cursor=first["next_cursor"])
    assert rest["next_cursor"] is None
    assert [c["chat"] for c in first["chats"] + rest["chats"]] == [
        c["chat"] for c in listed["chats"]
    ]


def test_unread_falls_when_the_device_reads_and_when_the_owner_reads_on_the_phone(
    api: httpx.Client, device: str
) -> None:
    receive(api, device, ALICE, "satu")
    second = receive(api, device, ALICE, "dua")
    for text in ("b1", "b2", "b3"):
        receive(api, device, BOB, text)
    assert unread(api, device) == {jid(ALICE): 2, jid(BOB): 3}

    # The device marks Alice's newest message read (and so the earlier one).
    read = api.post(f"/devices/{device}/messages/{second}/read")
    assert read.status_code == 200, read.text
    assert unread(api, device) == {jid(ALICE): 0, jid(BOB): 3}
    assert len(acts(api, device, "read")) == 1

    # The owner opens Bob's chat on the phone: a read-self receipt, no receipt from the device.
    response = api.post(
        f"/sandbox/devices/{device}/inbound", json={"type": "read", "to": f"+{BOB}"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["wa_message_id"]
    wait_until(lambda: unread(api, device)[jid(BOB)] == 0, what="Bob's chat read on the phone")
    assert unread(api, device) == {jid(ALICE): 0, jid(BOB): 0}
    bobs = api.get(f"/devices/{device}/chats/{BOB}/messages").json()["messages"]
    assert all(m["read_at"] is not None for m in bobs)
    assert len(acts(api, device, "read")) == 1, "the phone told the senders, not the device"

    # Nothing unread: the phone sends nothing, the control says so.
    again = api.post(f"/sandbox/devices/{device}/inbound", json={"type": "read", "to": BOB})
    assert again.status_code == 202 and again.json()["wa_message_id"] is None

    # A new message makes the chat unread again.
    receive(api, device, BOB, "b4")
    assert unread(api, device)[jid(BOB)] == 1


def test_a_chat_s_messages_newest_first_with_a_cursor(api: httpx.Client, device: str) -> None:
    receive(api, device, ALICE, "satu")
    receive(api, device, BOB, "dari bob")
    receive(api, device, ALICE, "dua")
    group_message(api, device, BOB, "di grup")

    for form in (ALICE, f"+{ALICE}", jid(ALICE), f"{ALICE}:3@s.whatsapp.net"):
        response = api.get(f"/devices/{device}/chats/{form}/messages")
        assert response.status_code == 200, (form, response.text)
        texts = [m["content"]["text"] for m in response.json()["messages"]]
        assert texts == ["dua", "satu"], form
    page = api.get(f"/devices/{device}/chats/{ALICE}/messages", params={"limit": 1}).json()
    assert [m["content"]["text"] for m in page["messages"]] == ["dua"] and page["next_cursor"]
    after = api.get(
        f"/devices/{device}/chats/{ALICE}/messages",
        params={"limit": 1, "cursor": page["next_cursor"]},
    ).json()
    assert [m["content"]["text"] for m in after["messages"]] == ["satu"]
    group = api.get(f"/devices/{device}/chats/{GROUP}/messages").json()["messages"]
    assert [(m["chat"], m["content"]["text"]) for m in group] == [(GROUP, "di grup")]
    none = api.get(f"/devices/{device}/chats/{CAROL}/messages").json()
    assert none == {"messages": [], "next_cursor": None}


def test_contacts_are_those_that_wrote(api: httpx.Client, device: str) -> None:
    receive(api, device, ALICE, "halo")
    receive(api, device, BOB, "halo juga")
    response = api.get(f"/devices/{device}/contacts")
    assert response.status_code == 200, response.text
    by_phone = {c["phone"]: c for c in response.json()["contacts"]}
    assert set(by_phone) == {ALICE, BOB}
    alice = by_phone[ALICE]
    assert alice["jid"] == jid(ALICE) and alice["push_name"] == "Sandbox 1111"
    assert alice["lid"].endswith("@lid")
    assert set(alice) == {"jid", "phone", "lid", "name", "push_name", "business_name"}
    one = api.get(f"/devices/{device}/contacts", params={"jid": f"+{BOB}"})
    assert [c["phone"] for c in one.json()["contacts"]] == [BOB]
    by_lid = api.get(f"/devices/{device}/contacts", params={"jid": alice["lid"]})
    assert [c["phone"] for c in by_lid.json()["contacts"]] == [ALICE]


def test_bad_input_gets_the_error_envelope(api: httpx.Client, device: str) -> None:
    receive(api, device, ALICE, "halo")
    group = api.get(f"/devices/{device}/contacts", params={"jid": GROUP})
    assert group.status_code == 400 and error_code(group) == "validation_error"
    assert group.json()["error"]["details"]["field"] == "jid"
    cases = [
        (f"/devices/{device}/chats/not-a-chat/messages", {}, "chat"),
        (f"/devices/{device}/chats/123@example.com/messages", {}, "chat"),
        (f"/devices/{device}/chats", {"cursor": "bm9wZQ"}, "cursor"),
        (f"/devices/{device}/chats", {"limit": 0}, "limit"),
        (f"/devices/{device}/chats", {"limit": 201}, "limit"),
        (f"/devices/{device}/chats/{ALICE}/messages", {"cursor": "%%%"}, "cursor"),
    ]
    for path, params, field in cases:
        response = api.get(path, params=params)
        assert response.status_code == 400, (path, params, response.text)
        assert error_code(response) == "validation_error"
        assert response.json()["error"]["details"]["field"] == field, (path, params)
    for path in ("/chats", f"/chats/{ALICE}/messages", "/contacts"):
        missing = api.get(f"/devices/00000000-0000-0000-0000-000000000000{path}")
        assert missing.status_code == 404 and error_code(missing) == "not_found", path
    no_chat = api.post(f"/sandbox/devices/{device}/inbound", json={"type": "read"})
    assert no_chat.status_code == 400 and error_code(no_chat) == "validation_error"
    assert unread(api, device) == {jid(ALICE): 1}, "nothing half-done"

    # Contacts need the session; chats are the stored messages, there even when offline.
    offline = str(create_device(api, "not linked")["device_id"])
    refused = api.get(f"/devices/{offline}/contacts")
    assert refused.status_code == 409 and error_code(refused) == "device_not_connected"
    assert chats(api, offline) == {"chats": [], "next_cursor": None}
