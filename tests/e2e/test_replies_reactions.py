"""Replies and reactions by either id (CONTRACT §8.1) against a real server on the sandbox,
on both databases: what the device put on the simulated network (`message` entries of
`GET /sandbox/devices/{id}/network`: `reply_to` / `quoted_sender`, `reaction_to` /
`from_me`) names the quoted message by its WhatsApp id and its sender. Link previews:
fetched by the gateway from a real local page under the outbound address rules (a server
of the module's own allowlists only 127.0.0.2), shown as the entry's `preview`; a refused
address is never fetched and the text goes without a preview."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_chat_actions import acts, inbound, receive
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.databases import DatabaseProvider
from tests.support.fake_phones import gateway_on_fake_phones, linked_device
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

ALICE = "6285550001111"
GROUP = "120363012345678901@g.us"


@pytest.fixture
def device(api: httpx.Client) -> dict[str, Any]:
    created = create_device(api, "replies")
    scan_current_qr(api, str(created["device_id"]))
    return dict(api.get(f"/devices/{created['device_id']}").json())


def send(api: httpx.Client, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/devices/{device_id}/messages", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def sent_entry(api: httpx.Client, device_id: str, wa_message_id: str) -> dict[str, Any]:
    """The network's `message` entry for the outbound message with this WhatsApp id."""
    return dict(
        wait_until(
            lambda: next(
                (e for e in acts(api, device_id, "message") if e["wa_message_id"] == wa_message_id),
                None,
            ),
            what=f"{wa_message_id} sent",
        )
    )


def wa_id_of(api: httpx.Client, device_id: str, message_id: str) -> str:
    return str(api.get(f"/devices/{device_id}/messages/{message_id}").json()["wa_message_id"])


def own_jid(api: httpx.Client, device: dict[str, Any]) -> str:
    return f"{device['wa_number']}@s.whatsapp.net"


def test_replies_quote_inbound_outbound_and_group_messages_by_either_id(
    api: httpx.Client, device: dict[str, Any]
) -> None:
    device_id = str(device["device_id"])
    alice = f"{ALICE}@s.whatsapp.net"
    theirs_wa = receive(api, device_id, ALICE, "jam berapa buka?")
    theirs = next(m for m in inbound(api, device_id) if m["wa_message_id"] == theirs_wa)
    mine = send(api, device_id, {"to": ALICE, "type": "text", "text": "nota terlampir"})
    in_group = send(api, device_id, {"to": GROUP, "type": "text", "text": "halo grup"})
    mine_wa, group_wa = (
        wa_id_of(api, device_id, mine["message_id"]),
        wa_id_of(api, device_id, in_group["message_id"]),
    )

    cases = [
        (ALICE, theirs["message_id"], theirs_wa, alice),  # inbound, by the gateway's id
        (ALICE, theirs_wa, theirs_wa, alice),  # inbound, by its WhatsApp id
        (ALICE, mine["message_id"], mine_wa, own_jid(api, device)),  # own, gateway id
        (GROUP, group_wa, group_wa, own_jid(api, device)),  # own in a group, WhatsApp id
        (ALICE, "3EB0NOTKNOWN", "3EB0NOTKNOWN", None),  # unknown: passed on as a WhatsApp id
    ]
    for to, ref, wa_id, sender in cases:
        reply = send(api, device_id, {"to": to, "type": "text", "text": "ok", "reply_to": ref})
        stored = api.get(f"/devices/{device_id}/messages/{reply['message_id']}").json()
        assert stored["reply_to"] == wa_id
        entry = sent_entry(api, device_id, stored["wa_message_id"])
        assert (entry["reply_to"], entry.get("quoted_sender")) == (wa_id, sender), ref


def test_reactions_name_inbound_and_own_messages_by_either_id(
    api: httpx.Client, device: dict[str, Any]
) -> None:
    device_id = str(device["device_id"])
    alice = f"{ALICE}@s.whatsapp.net"
    theirs_wa = receive(api, device_id, ALICE, "terima kasih")
    theirs = next(m for m in inbound(api, device_id) if m["wa_message_id"] == theirs_wa)
    mine = send(api, device_id, {"to": ALICE, "type": "text", "text": "sama-sama"})
    mine_wa = wa_id_of(api, device_id, mine["message_id"])
    in_group = send(api, device_id, {"to": GROUP, "type": "text", "text": "halo grup"})

    cases = [
        (ALICE, theirs["message_id"], theirs_wa, False, alice),
        (ALICE, theirs_wa, theirs_wa, False, alice),
        (ALICE, mine_wa, mine_wa, True, own_jid(api, device)),
        (
            GROUP,
            in_group["message_id"],
            wa_id_of(api, device_id, in_group["message_id"]),
            True,
            own_jid(api, device),
        ),
    ]
    for to, ref, wa_id, from_me, sender in cases:
        body = {"to": to, "type": "reaction", "message_id": ref, "emoji": "👍"}
        reaction = send(api, device_id, body)
        stored = api.get(f"/devices/{device_id}/messages/{reaction['message_id']}").json()
        assert stored["content"]["message_id"] == wa_id
        entry = sent_entry(api, device_id, stored["wa_message_id"])
        assert (entry["reaction_to"], entry["from_me"], entry["quoted_sender"]) == (
            wa_id,
            from_me,
            sender,
        ), ref


PAGE = b"""<!doctype html><html><head><title>Toko Kopi</title>
<meta property="og:title" content="Toko Kopi &amp; Roti">
<meta property="og:description" content="Buka setiap hari 07.00-21.00">
</head><body>Selamat datang</body></html>"""


@pytest.fixture
def page_host() -> Iterator[WebhookReceiver]:
    """Serves PAGE as text/html on the one allowlisted address (a test's own: its fetches are
    what the test counts)."""
    host = WebhookReceiver(host="127.0.0.2").start()
    host.media, host.media_type = PAGE, "text/html; charset=utf-8"
    yield host
    host.stop()


@pytest.fixture
def trap() -> Iterator[WebhookReceiver]:
    """A page on a refused address: any request reaching it breaks the rules."""
    trap = WebhookReceiver(host="127.0.0.1").start()
    trap.media, trap.media_type = PAGE, "text/html"
    yield trap
    trap.stop()


@pytest.fixture(scope="module")
def guarded_api(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp(f"preview-{backend.backend}")
    server = GatewayServer(
        data_dir,
        backend.migrated_url(data_dir),
        extra_env={"WAGW_OUTBOUND_ALLOWLIST": "127.0.0.2/32"},
    )
    creds = server.create_app("previews")
    server.start()
    with server.client(creds["app_token"]) as client:
        yield client
    server.stop()


def text_entry(api: httpx.Client, device_id: str, text: str, preview: bool) -> dict[str, Any]:
    sent = api.post(
        f"/devices/{device_id}/messages",
        params={"wait": "true"},
        json={"to": ALICE, "type": "text", "text": text, "preview_url": preview},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] in ("sent", "delivered", "read"), sent.text
    return sent_entry(api, device_id, str(sent.json()["wa_message_id"]))


def test_link_previews_are_fetched_by_the_gateway_under_the_address_rules(
    guarded_api: httpx.Client, page_host: WebhookReceiver, trap: WebhookReceiver
) -> None:
    api = guarded_api
    created = create_device(api, "previews")
    scan_current_qr(api, str(created["device_id"]))
    device_id = str(created["device_id"])
    url = f"http://127.0.0.2:{page_host.port}/menu"

    entry = text_entry(api, device_id, f"Menu kami: {url} (baru!)", True)
    assert entry["preview"] == {
        "url": url,
        "title": "Toko Kopi & Roti",
        "description": "Buka setiap hari 07.00-21.00",
    }
    assert [f.path for f in page_host.fetches] == ["/menu"]

    # Without preview_url nothing is fetched; a refused address is not fetched at all.
    assert "preview" not in text_entry(api, device_id, f"tanpa pratinjau {url}", False)
    assert "preview" not in text_entry(api, device_id, f"http://127.0.0.1:{trap.port}/menu", True)
    assert "preview" not in text_entry(api, device_id, "http://10.0.0.1/menu", True)
    assert [f.path for f in page_host.fetches] == ["/menu"] and trap.fetches == []

    # A page that fails (here: not HTML) sends the text without a preview.
    page_host.media_type = "application/octet-stream"
    try:
        assert "preview" not in text_entry(api, device_id, f"{url}?lagi", True)
    finally:
        page_host.media_type = "text/html; charset=utf-8"
    assert len(page_host.fetches) == 2


# Engine processes are the subject (the sandbox tests above cover storage on both databases).
@pytest.mark.storage_agnostic
def test_whatsmeow_replies_reactions_and_previews_through_the_worker(
    make_server: Callable[..., GatewayServer], tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The same on a whatsmeow app: through the supervisor, the worker process and the
    backend to the neonize stand-in, which records the quote, the key and the preview."""
    receiver.media, receiver.media_type = PAGE, "text/html"
    server, client, network = gateway_on_fake_phones(
        make_server, tmp_path, "real phone", FAKE_NEONIZE_GREET="1"
    )
    url = f"http://127.0.0.1:{receiver.port}/menu"
    with client as api:
        device_id = linked_device(api)
        (network / f"greet-{device_id}").write_text("halo")
        [theirs] = wait_until(lambda: inbound(api, device_id), what="the contact's message")
        for body in (
            {"type": "text", "text": "ya", "reply_to": theirs["message_id"]},
            {"type": "reaction", "message_id": theirs["message_id"], "emoji": "👍"},
            {"type": "text", "text": f"menu {url}", "preview_url": True},
        ):
            sent = api.post(
                f"/devices/{device_id}/messages",
                params={"wait": "true"},
                json={"to": theirs["chat"], **body},
            )
            assert sent.status_code == 200 and sent.json()["error"] is None, sent.text
    server.stop()
    lines = [json.loads(line) for line in (network / "sent.jsonl").read_text().splitlines()]
    reply, reaction, preview = (line for line in lines if line["device"] == device_id)
    assert (reply["reply_to"], reply["participant"]) == (theirs["wa_message_id"], theirs["chat"])
    assert (reaction["reaction_to"], reaction["from_me"]) == (theirs["wa_message_id"], False)
    assert preview["preview"] == {
        "url": url,
        "title": "Toko Kopi & Roti",
        "description": "Buka setiap hari 07.00-21.00",
    }
    assert [f.path for f in receiver.fetches] == ["/menu"]
