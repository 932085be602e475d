"""Edit and delete a message (CONTRACT §8.1) against a real server on the sandbox, on both
databases: a sent message's edit or delete is what the device did on the simulated network
(`kind` `edit` / `revoke` in `GET /sandbox/devices/{id}/network`); a queued message's edit
changes what is sent, its delete cancels it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_chat_actions import ALICE, acts, read_jsonl, receive
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.fake_phones import gateway_on_fake_phones, linked_device
from tests.support.harness import GatewayServer, wait_until
from wagateway.engines.whatsmeow import neonize_loader

pytestmark = pytest.mark.e2e

SENT = ("sent", "delivered", "read")


def message(api: httpx.Client, device_id: str, message_id: str) -> dict:
    response = api.get(f"/devices/{device_id}/messages/{message_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def send(api: httpx.Client, device_id: str, text: str) -> str:
    accepted = api.post(f"/devices/{device_id}/messages", json={"to": ALICE, "text": text})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["message_id"])


def send_and_wait(api: httpx.Client, device_id: str, text: str) -> dict:
    message_id = send(api, device_id, text)
    return wait_until(
        lambda: (m := message(api, device_id, message_id))["status"] in SENT and m,
        what=f"{text!r} sent",
    )


def sent_texts(api: httpx.Client, device_id: str) -> list[str]:
    """The texts the device put on the simulated network, in order."""
    return [m["text"] for m in acts(api, device_id, "message")]


@pytest.fixture
def device(api: httpx.Client) -> str:
    device_id = str(create_device(api, "edits")["device_id"])
    scan_current_qr(api, device_id)
    return device_id


def test_a_sent_message_is_edited_and_deleted_for_everyone(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    sent = send_and_wait(api, device, "harga 10rb")
    assert sent["edited_at"] is None and sent["revoked"] is False

    # By the WhatsApp id.
    edited = api.patch(
        f"/devices/{device}/messages/{sent['wa_message_id']}", json={"text": "harga 12rb"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["message_id"] == sent["message_id"]
    assert edited.json()["content"]["text"] == "harga 12rb" and edited.json()["edited_at"]
    [edit] = wait_until(lambda: acts(api, device, "edit"), what="edit logged")
    assert edit["wa_message_id"] == sent["wa_message_id"] and edit["text"] == "harga 12rb"
    stored = message(api, device, sent["message_id"])
    assert stored["content"]["text"] == "harga 12rb" and stored["edited_at"]

    # By the gateway's id.
    deleted = api.delete(f"/devices/{device}/messages/{sent['message_id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["revoked"] is True and deleted.json()["status"] in SENT
    [revoke] = wait_until(lambda: acts(api, device, "revoke"), what="revoke logged")
    assert revoke["wa_message_id"] == sent["wa_message_id"]
    assert message(api, device, sent["message_id"])["revoked"] is True
    after = api.patch(f"/devices/{device}/messages/{sent['message_id']}", json={"text": "lagi"})
    assert after.status_code == 409 and error_code(after) == "conflict"
    again = api.delete(f"/devices/{device}/messages/{sent['message_id']}")
    assert again.status_code == 200 and again.json()["revoked"] is True
    assert len(acts(api, device, "revoke")) == 1 and len(acts(api, device, "edit")) == 1


def test_others_messages_unknown_ids_and_offline_devices_are_refused(
    api: httpx.Client, server: GatewayServer, device: str
) -> None:
    theirs = receive(api, device, ALICE, "halo")
    patch = api.patch(f"/devices/{device}/messages/{theirs}", json={"text": "bukan"})
    assert patch.status_code == 403 and error_code(patch) == "forbidden"
    delete = api.delete(f"/devices/{device}/messages/{theirs}")
    assert delete.status_code == 403 and error_code(delete) == "forbidden"
    for response in (
        api.patch(f"/devices/{device}/messages/3EB0NOSUCH", json={"text": "x"}),
        api.delete(f"/devices/{device}/messages/3EB0NOSUCH"),
    ):
        assert response.status_code == 404 and error_code(response) == "not_found"
    sent = send_and_wait(api, device, "sebentar")
    empty = api.patch(f"/devices/{device}/messages/{sent['message_id']}", json={"text": ""})
    assert empty.status_code == 400 and error_code(empty) == "validation_error"

    assert api.post(f"/devices/{device}/disconnect").status_code == 200
    for response in (
        api.patch(f"/devices/{device}/messages/{sent['message_id']}", json={"text": "baru"}),
        api.delete(f"/devices/{device}/messages/{sent['message_id']}"),
    ):
        assert response.status_code == 409 and error_code(response) == "device_not_connected"
    stored = message(api, device, sent["message_id"])
    assert stored["content"]["text"] == "sebentar", "nothing half-done is recorded"
    assert stored["edited_at"] is None and stored["revoked"] is False
    assert acts(api, device, "edit") == [] and acts(api, device, "revoke") == []


ADMIN_GROUP = "120363012345678901@g.us"  # the sandbox group: the account is its admin
MEMBER_GROUP = "120363099999999999@g.us"  # any other group: the account is a plain member


def receive_in_group(api: httpx.Client, device_id: str, group: str, text: str) -> dict:
    """ALICE writes in `group`; the stored message, once the gateway has it."""
    response = api.post(
        f"/sandbox/devices/{device_id}/inbound", json={"from": ALICE, "group": group, "text": text}
    )
    assert response.status_code == 202, response.text
    wa_id = response.json()["wa_message_id"]
    return wait_until(
        lambda: next(
            (
                m
                for m in api.get(f"/devices/{device_id}/messages").json()["messages"]
                if m["wa_message_id"] == wa_id
            ),
            None,
        ),
        what=f"{text!r} in {group} stored",
    )


def test_a_group_admin_deletes_another_members_message(api: httpx.Client, device: str) -> None:
    """CONTRACT §8.1: another's message in a group where the account is admin is deleted for
    everyone (the revoke names its sender); where it is not, 403 not_group_admin and nothing
    is recorded."""
    spam = receive_in_group(api, device, ADMIN_GROUP, "promo murah")
    assert (spam["direction"], spam["chat"]) == ("inbound", ADMIN_GROUP)
    deleted = api.delete(f"/devices/{device}/messages/{spam['message_id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["revoked"] is True
    [revoke] = acts(api, device, "revoke")
    assert (revoke["chat"], revoke["wa_message_id"], revoke["sender"]) == (
        ADMIN_GROUP,
        spam["wa_message_id"],
        f"{ALICE}@s.whatsapp.net",
    )

    elsewhere = receive_in_group(api, device, MEMBER_GROUP, "halo semua")
    refused = api.delete(f"/devices/{device}/messages/{elsewhere['wa_message_id']}")
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    assert refused.json()["error"]["details"]["reason"] == "not_group_admin"
    assert message(api, device, elsewhere["message_id"])["revoked"] is False
    assert len(acts(api, device, "revoke")) == 1, "nothing half-done reached the network"
    bad = api.post(
        f"/sandbox/devices/{device}/inbound",
        json={"from": ALICE, "group": "6281211112222", "text": "x"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "group"


def test_queued_messages_are_edited_or_cancelled_and_windows_close(
    make_server: Callable[..., GatewayServer],
) -> None:
    gateway = make_server(
        WAGW_SANDBOX_RECONNECT_DELAY="200",  # 10 s at the tests' time scale
        WAGW_EDIT_WINDOW_SECONDS="1",
        WAGW_REVOKE_WINDOW_SECONDS="1",
    )
    creds = gateway.create_app("edits")
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        device = str(create_device(api, "queued edits")["device_id"])
        scan_current_qr(api, device)
        early = send_and_wait(api, device, "pertama")
        dropped = api.post(f"/sandbox/devices/{device}/drop")
        assert dropped.json()["connection"] == "reconnecting", dropped.text
        later = send(api, device, "kedua")
        dropped_one = send(api, device, "ketiga")

        # While the device is away its messages stay queued: the edit changes what is sent.
        edited = api.patch(f"/devices/{device}/messages/{later}", json={"text": "kedua (baru)"})
        assert edited.status_code == 200, edited.text
        assert edited.json()["status"] == "queued" and edited.json()["edited_at"]
        cancelled = api.delete(f"/devices/{device}/messages/{dropped_one}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "failed"
        assert cancelled.json()["error"]["code"] == "canceled"

        wait_until(lambda: message(api, device, later)["status"] in SENT, timeout=30, what="resent")
        assert sent_texts(api, device) == ["pertama", "kedua (baru)"]
        assert acts(api, device, "edit") == [], "a queued edit needs no WhatsApp edit"
        assert message(api, device, dropped_one)["status"] == "failed"
        again = api.delete(f"/devices/{device}/messages/{dropped_one}")
        assert again.status_code == 409 and error_code(again) == "conflict"

        # Past the windows (1 s each here), a sent message is neither edited nor deleted.
        late_edit = api.patch(
            f"/devices/{device}/messages/{early['message_id']}", json={"text": "telat"}
        )
        assert late_edit.status_code == 409 and error_code(late_edit) == "conflict"
        late_delete = api.delete(f"/devices/{device}/messages/{early['message_id']}")
        assert late_delete.status_code == 409 and error_code(late_delete) == "conflict"
        assert acts(api, device, "edit") == [] and acts(api, device, "revoke") == []
        assert message(api, device, early["message_id"])["content"]["text"] == "pertama"


# Engine processes are the subject (the sandbox tests above cover storage on both databases).
@pytest.mark.storage_agnostic
@pytest.mark.skipif(not neonize_loader.available(), reason=neonize_loader.missing() or "")
def test_whatsmeow_devices_edit_and_delete_through_their_worker(
    make_server: Callable[..., GatewayServer], tmp_path: Path
) -> None:
    """The same routes on a whatsmeow app: through the supervisor, the worker process and the
    backend to the neonize stand-in, which records the edit and revoke protocol messages
    neonize's builders made."""
    server, client, network = gateway_on_fake_phones(make_server, tmp_path, "real phone")
    with client as api:
        device = linked_device(api)
        sent = send_and_wait(api, device, "harga 10rb")
        edited = api.patch(
            f"/devices/{device}/messages/{sent['message_id']}", json={"text": "12rb"}
        )
        assert edited.status_code == 200 and edited.json()["edited_at"], edited.text
        deleted = api.delete(f"/devices/{device}/messages/{sent['wa_message_id']}")
        assert deleted.status_code == 200 and deleted.json()["revoked"] is True, deleted.text
    chat = f"{ALICE}@s.whatsapp.net"
    acts_seen = [a for a in read_jsonl(network / "acts.jsonl") if a["method"] in ("edit", "revoke")]
    assert acts_seen == [
        {
            "device": device,
            "method": "edit",
            "id": sent["wa_message_id"],
            "chat": chat,
            "text": "12rb",
        },
        {
            "device": device,
            "method": "revoke",
            "id": sent["wa_message_id"],
            "chat": chat,
            "from_me": True,
            "participant": "",
        },
    ]
    server.stop()
