"""Outbound address rules for media `url` fetches and webhook redirects (CONTRACT §4, issue 6),
against a real server and real local HTTP servers.

The server allowlists only 127.0.0.2/32 (not the 127.0.0.0/8 other tests use): a host on
127.0.0.2 is the reachable control, and a trap on 127.0.0.1 stands for everything the rules
refuse (loopback, and by the same code path private, link-local and metadata addresses,
which `tests/unit/test_netguard.py` covers address by address). Linux routes all of 127/8
to the loopback interface."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def allowed_host() -> Iterator[WebhookReceiver]:
    """The app's webhook receiver and a media host, on the one allowlisted address."""
    host = WebhookReceiver(host="127.0.0.2").start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def guarded(
    backend: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    allowed_host: WebhookReceiver,
) -> Iterator[tuple[GatewayServer, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp(f"guard-{backend.backend}")
    server = GatewayServer(
        data_dir,
        backend.migrated_url(data_dir),
        extra_env={"WAGW_OUTBOUND_ALLOWLIST": "127.0.0.2/32"},
    )
    creds = server.create_app("guarded", allowed_host.url)
    server.start()
    yield server, creds
    server.stop()


@pytest.fixture
def trap() -> Iterator[WebhookReceiver]:
    """A server on a refused address: any request reaching it is a failure of the rules."""
    trap = WebhookReceiver(host="127.0.0.1").start()
    trap.media = PNG
    yield trap
    trap.stop()


@pytest.fixture
def api(guarded: tuple[GatewayServer, dict[str, str]]) -> Iterator[httpx.Client]:
    server, creds = guarded
    with server.client(creds["app_token"]) as client:
        yield client


@pytest.fixture
def device_id(api: httpx.Client, allowed_host: WebhookReceiver) -> str:
    allowed_host.status = 200
    allowed_host.media = PNG
    device = create_device(api, f"guarded {uuid.uuid4().hex[:8]}")
    scan(api, device["qr"])
    return str(device["device_id"])


def send_media(api: httpx.Client, device_id: str, url: str) -> dict:
    sent = api.post(
        f"/devices/{device_id}/messages",
        params={"wait": "true"},
        json={"to": "6281211112222", "type": "image", "url": url, "mime_type": "image/png"},
    )
    assert sent.status_code in (200, 202), sent.text
    return dict(sent.json())


def test_the_allowlisted_host_is_fetched(
    api: httpx.Client, device_id: str, allowed_host: WebhookReceiver
) -> None:
    """The positive control: the same server fetches from the address it may reach."""
    before = len(allowed_host.fetches)
    sent = send_media(api, device_id, f"http://127.0.0.2:{allowed_host.port}/ok.png")
    assert sent["status"] in ("sent", "delivered", "read"), sent  # receipts may have overtaken
    assert [f.path for f in allowed_host.fetches[before:]] == ["/ok.png"]


def test_the_allowlisted_address_is_fetched_in_its_ipv4_mapped_form(
    api: httpx.Client, device_id: str, allowed_host: WebhookReceiver
) -> None:
    """`[::ffff:127.0.0.2]` is 127.0.0.2 itself to a dual-stack socket: allowlisted too."""
    try:
        socket.create_connection(("::ffff:127.0.0.2", allowed_host.port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"this host has no dual-stack IPv6 sockets: {exc}")
    before = len(allowed_host.fetches)
    sent = send_media(api, device_id, f"http://[::ffff:127.0.0.2]:{allowed_host.port}/v6.png")
    assert sent["status"] != "failed", sent
    assert [f.path for f in allowed_host.fetches[before:]] == ["/v6.png"]


@pytest.mark.parametrize(
    ("host", "refusal"),
    [
        ("127.0.0.1", "non-public address"),
        ("localhost", "non-public address"),  # a name that resolves to loopback
        ("0.0.0.0", "non-public address"),  # connecting to it reaches the local host on Linux
        ("[::ffff:127.0.0.1]", "non-public address"),  # IPv4-mapped IPv6
        ("[::127.0.0.1]", "non-public address"),  # IPv4-compatible IPv6
        ("[::ffff:0:127.0.0.1]", "non-public address"),  # IPv4-translated IPv6
        ("[2002:7f00:1::1]", "non-public address"),  # 6to4 of 127.0.0.1
        ("[fec0::1]", "non-public address"),  # site-local
        # Forms the system resolver would turn into 127.0.0.1: the URL parser refuses them
        # before any lookup (and the guard would refuse what they resolve to).
        ("2130706433", "is not a canonical IPv4 address"),
        ("127.1", "is not a canonical IPv4 address"),
    ],
)
def test_a_media_url_on_a_refused_address_fails_without_a_request(
    api: httpx.Client, device_id: str, trap: WebhookReceiver, host: str, refusal: str
) -> None:
    sent = send_media(api, device_id, f"http://{host}:{trap.port}/secret.png")
    assert sent["status"] == "failed", sent
    assert sent["error"]["code"] == "media_error"
    assert sent["error"]["message"].startswith("fetching media failed: ")
    assert refusal in sent["error"]["message"]
    assert trap.fetches == [] and trap.seen == []


@pytest.mark.parametrize("target", ["refused", "allowlisted"])
def test_a_media_redirect_is_not_followed(
    api: httpx.Client,
    device_id: str,
    allowed_host: WebhookReceiver,
    trap: WebhookReceiver,
    target: str,
) -> None:
    """A 302 from an allowed host is the answer, never a hop: not to a refused address (the
    trap sees nothing), and not even back to the allowed host (it is asked once)."""
    allowed_host.status = 302
    allowed_host.location = (
        f"http://127.0.0.1:{trap.port}/internal.png"
        if target == "refused"
        else f"http://127.0.0.2:{allowed_host.port}/moved.png"
    )
    before = len(allowed_host.fetches)
    try:
        sent = send_media(api, device_id, f"http://127.0.0.2:{allowed_host.port}/redirect.png")
    finally:
        allowed_host.status, allowed_host.location = 200, ""
    assert sent["status"] == "failed", sent
    assert sent["error"] == {
        "code": "media_error",
        "message": "fetching media answered HTTP 302 (redirects are not followed)",
    }
    assert [f.path for f in allowed_host.fetches[before:]] == ["/redirect.png"]
    assert trap.fetches == [] and trap.seen == []


def test_a_webhook_redirect_to_a_refused_address_is_not_followed(
    api: httpx.Client, allowed_host: WebhookReceiver, trap: WebhookReceiver
) -> None:
    allowed_host.status = 302
    allowed_host.location = f"http://127.0.0.1:{trap.port}/hooks/internal"
    try:
        device = create_device(api, "redirected webhook")
        row = wait_until(
            lambda: [
                d
                for d in api.get(
                    "/webhooks/deliveries", params={"device_id": device["device_id"]}
                ).json()["deliveries"]
                if d["attempts"] >= 2
            ],
            what="two attempts",
        )[0]
    finally:
        allowed_host.status, allowed_host.location = 200, ""
    assert {a["status_code"] for a in row["attempt_log"]} == {302}
    assert all("redirects are not followed" in a["error"] for a in row["attempt_log"])
    assert trap.seen == [] and trap.fetches == []
