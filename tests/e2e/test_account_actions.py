"""The account itself (CONTRACT §8.4) against a real server on the sandbox, on both
databases: restart, the own profile, blocking. Each route's effect is what the device did on
the simulated network (`GET /sandbox/devices/{id}/network`: `disconnect`/`connect`,
`profile_update`, `block`/`unblock`), and bad input is answered in the error envelope."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.e2e.test_history import history_messages
from tests.support.fake_phones import gateway_on_fake_phones, linked_device
from tests.support.harness import GatewayServer, wait_until
from wagateway.engines.whatsmeow import neonize_loader

pytestmark = pytest.mark.e2e

ALICE = "6285550001111"
BOB = "6285550002222"


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def network(api: httpx.Client, device_id: str, *kinds: str) -> list[dict]:
    response = api.get(f"/sandbox/devices/{device_id}/network")
    assert response.status_code == 200, response.text
    return [e for e in response.json()["network"] if e["kind"] in kinds]


@pytest.fixture
def device(api: httpx.Client) -> str:
    device_id = str(create_device(api, "account actions")["device_id"])
    scan_current_qr(api, device_id)
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
        what="device online",
    )
    return device_id


def test_restart_reconnects_without_unlinking(api: httpx.Client, device: str) -> None:
    before = api.get(f"/devices/{device}").json()
    response = api.post(f"/devices/{device}/restart")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "connected"
    assert response.json()["connection"] == "reconnecting"
    after = wait_until(
        lambda: (d := api.get(f"/devices/{device}").json())["connection"] == "online" and d,
        what="back online",
    )
    assert after["status"] == "connected" and after["wa_number"] == before["wa_number"]
    assert after["last_error"] is None
    log = wait_until(
        lambda: (
            (n := network(api, device, "connect", "disconnect"))
            and n[-1]["kind"] == "connect"
            and len(n) >= 3
            and n
        ),
        what="restart logged",
    )
    assert [e["kind"] for e in log[-3:]] == ["connect", "disconnect", "connect"]
    assert log[-2]["reason"] == "restart" and log[-1]["reconnected"] is True

    # The webhooks of any reconnect: the drop (a warning), then device_connected again.
    def restart_events() -> set[str]:
        found = api.get("/webhooks/deliveries", params={"device_id": device, "limit": "200"})
        return {
            d["event"]
            for d in found.json()["deliveries"]
            if d["event"] == "device_warning"
            or (d["event"] == "device_connected" and d["payload"].get("reconnected"))
        }

    wait_until(
        lambda: restart_events() == {"device_warning", "device_connected"},
        what="the restart's webhooks: connection_lost, then device_connected reconnected",
    )


def test_restart_needs_a_linked_device(api: httpx.Client) -> None:
    unlinked = create_device(api, "not linked")["device_id"]
    response = api.post(f"/devices/{unlinked}/restart")
    assert response.status_code == 409 and error_code(response) == "device_not_connected"
    assert api.post("/devices/00000000-0000-4000-8000-000000000000/restart").status_code == 404


def test_own_profile_update_reaches_the_network(api: httpx.Client, device: str) -> None:
    picture = b"\xff\xd8\xff\xe0" + b"jpeg" * 10
    response = api.patch(
        f"/devices/{device}/profile",
        json={
            "name": "Toko Maju",
            "about": "Buka 08.00-17.00",
            "picture": {
                "data_base64": base64.b64encode(picture).decode(),
                "mime_type": "image/jpeg",
            },
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": ["name", "about", "picture"]}
    response = api.patch(f"/devices/{device}/profile", json={"about": ""})
    assert response.status_code == 200 and response.json() == {"updated": ["about"]}
    updates = wait_until(
        lambda: len(u := network(api, device, "profile_update")) == 2 and u,
        what="profile updates logged",
    )
    first, second = updates
    assert first["name"] == "Toko Maju" and first["about"] == "Buka 08.00-17.00"
    assert first["size"] == len(picture)
    assert first["sha256"] == hashlib.sha256(picture).hexdigest()
    assert second["about"] == "" and "name" not in second


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": None, "about": None, "picture": None}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 26}, "name"),
        ({"about": "x" * 140}, "about"),
        ({"picture": {"data_base64": "not base64!", "mime_type": "image/jpeg"}}, None),
        ({"picture": {"data_base64": "aGVsbG8=", "mime_type": "text/plain"}}, None),
        ({"nickname": "x"}, None),
    ],
)
def test_own_profile_bad_input_is_400(
    api: httpx.Client, device: str, body: dict, field: str | None
) -> None:
    response = api.patch(f"/devices/{device}/profile", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "validation_error"
    if field:
        assert response.json()["error"]["details"]["field"] == field
    assert network(api, device, "profile_update") == []


def test_block_unblock_and_the_blocklist(api: httpx.Client, device: str) -> None:
    assert api.get(f"/devices/{device}/blocklist").json() == {"blocklist": []}
    response = api.post(f"/devices/{device}/contacts/{ALICE}/block")
    assert response.status_code == 200, response.text
    alice = f"{ALICE}@s.whatsapp.net"
    assert response.json() == {"jid": alice, "phone": ALICE, "blocked": True}
    bob = f"{BOB}@s.whatsapp.net"
    assert api.post(f"/devices/{device}/contacts/{bob}/block").status_code == 200
    response = api.post(f"/devices/{device}/contacts/+{ALICE}/unblock")
    assert response.status_code == 200, response.text
    assert response.json() == {"jid": alice, "phone": ALICE, "blocked": False}
    response = api.get(f"/devices/{device}/blocklist")
    assert response.status_code == 200, response.text
    assert response.json() == {"blocklist": [{"jid": bob, "phone": BOB}]}
    acts = [(e["kind"], e["jid"]) for e in network(api, device, "block", "unblock")]
    assert acts == [("block", alice), ("block", bob), ("unblock", alice)]


def test_blocking_bad_input_and_unconnected_devices(api: httpx.Client, device: str) -> None:
    for bad in ("120363000000000001@g.us", "not-a-number"):
        response = api.post(f"/devices/{device}/contacts/{bad}/block")
        assert response.status_code == 400, response.text
        assert error_code(response) == "validation_error"
    assert network(api, device, "block") == []
    unlinked = create_device(api, "not linked either")["device_id"]
    for method, path in (
        ("POST", f"/devices/{unlinked}/contacts/{ALICE}/block"),
        ("POST", f"/devices/{unlinked}/contacts/{ALICE}/unblock"),
        ("GET", f"/devices/{unlinked}/blocklist"),
        ("PATCH", f"/devices/{unlinked}/profile"),
    ):
        kwargs = {"json": {"name": "Shop"}} if method == "PATCH" else {}
        response = api.request(method, path, **kwargs)
        assert response.status_code == 409, (path, response.text)
        assert error_code(response) == "device_not_connected"


# Engine processes are the subject (the sandbox tests above cover storage on both databases).
@pytest.mark.storage_agnostic
def test_whatsmeow_account_actions_through_the_worker(
    make_server: Callable[..., GatewayServer], tmp_path: Path
) -> None:
    """The same routes on a whatsmeow app: through the supervisor, the worker process and the
    backend to the neonize stand-in (which records what reached the servers)."""
    if not neonize_loader.available():
        pytest.skip("neonize is not installed")
    server, client, network = gateway_on_fake_phones(
        make_server, tmp_path, "real account", FAKE_NEONIZE_HISTORY="1"
    )
    with client as api:
        device = linked_device(api)
        # History (CONTRACT §8.4) through the worker: WhatsApp's HistorySync, mapped and
        # capped in the worker, stored by the gateway; ignored for a device without it.
        importing = api.post("/devices", json={"device_name": "inbox", "history_sync": True})
        assert importing.status_code == 201, importing.text
        importing_id = importing.json()["device_id"]
        wait_until(
            lambda: api.get(f"/devices/{importing_id}").json()["connection"] == "online",
            timeout=60,
            what="the importing device linked by the fake phone",
        )
        for device_id in (device, importing_id):
            (network / f"history-{device_id}").write_text("3 300")
        wait_until(
            lambda: len(history_messages(api, importing_id)) == 900, what="the history imported"
        )
        assert history_messages(api, device) == []
        listed = api.get(f"/devices/{importing_id}/chats").json()["chats"]
        assert [c["chat"] for c in listed] == [
            f"{6285500000000 + i}@s.whatsapp.net" for i in range(3)
        ]
        response = api.post(f"/devices/{device}/restart")
        assert response.status_code == 200, response.text
        assert response.json()["connection"] == "reconnecting"
        wait_until(
            lambda: api.get(f"/devices/{device}").json()["connection"] == "online",
            timeout=30,
            what="back online after the restart",
        )
        picture = b"\xff\xd8\xff\xe0" + b"jpeg" * 10
        response = api.patch(
            f"/devices/{device}/profile",
            json={
                "name": "Toko Maju",
                "about": "Buka",
                "picture": {
                    "data_base64": base64.b64encode(picture).decode(),
                    "mime_type": "image/jpeg",
                },
            },
        )
        assert response.status_code == 200, response.text
        assert api.post(f"/devices/{device}/contacts/{ALICE}/block").status_code == 200
        assert api.post(f"/devices/{device}/contacts/{BOB}/block").status_code == 200
        assert api.post(f"/devices/{device}/contacts/{ALICE}/unblock").status_code == 200
        response = api.get(f"/devices/{device}/blocklist")
        assert response.status_code == 200, response.text
        assert response.json() == {"blocklist": [{"jid": f"{BOB}@s.whatsapp.net", "phone": BOB}]}
    acts = [
        {k: v for k, v in a.items() if k != "device"}
        for a in read_jsonl(network / "acts.jsonl")
        if a["device"] == device and a["method"] != "send_presence"
    ]
    assert acts == [
        {"method": "set_profile_name", "name": "Toko Maju"},
        {"method": "set_status_message", "about": "Buka"},
        {
            "method": "set_profile_photo",
            "size": len(picture),
            "sha256": hashlib.sha256(picture).hexdigest(),
        },
        {"method": "block", "jid": f"{ALICE}@s.whatsapp.net"},
        {"method": "block", "jid": f"{BOB}@s.whatsapp.net"},
        {"method": "unblock", "jid": f"{ALICE}@s.whatsapp.net"},
    ]


PICTURE = b"\xff\xd8\xff\xe0" + b"picture by url" * 20


@pytest.fixture(scope="module")
def picture_host() -> Iterator[str]:
    """A loopback HTTP server (allowed by the test servers' WAGW_OUTBOUND_ALLOWLIST): its
    `/picture.jpg` answers PICTURE, anything else 404. Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            found = self.path == "/picture.jpg"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PICTURE) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(PICTURE)

        def log_message(self, *args: Any) -> None:
            pass

    host = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{host.server_address[1]}"
    host.shutdown()
    host.server_close()


def test_own_profile_picture_by_url(api: httpx.Client, device: str, picture_host: str) -> None:
    source = {"url": f"{picture_host}/picture.jpg", "mime_type": "image/jpeg"}
    response = api.patch(f"/devices/{device}/profile", json={"picture": source})
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": ["picture"]}
    [update] = wait_until(lambda: network(api, device, "profile_update"), what="logged")
    assert update["size"] == len(PICTURE)
    assert update["sha256"] == hashlib.sha256(PICTURE).hexdigest()
    for bad, field in (
        ({"url": f"{picture_host}/missing.jpg", "mime_type": "image/jpeg"}, "picture.url"),
        ({"url": "ftp://example.com/a.jpg", "mime_type": "image/jpeg"}, "picture.url"),
        ({"mime_type": "image/jpeg"}, "picture.url"),
        ({**source, "data_base64": "aGVsbG8="}, "picture.data_base64"),
    ):
        response = api.patch(f"/devices/{device}/profile", json={"name": "X", "picture": bad})
        assert response.status_code == 400, response.text
        assert error_code(response) == "validation_error"
        assert response.json()["error"]["details"]["field"] == field
    assert len(network(api, device, "profile_update")) == 1
