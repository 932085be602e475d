"""Internal callers (CONTRACT §5): a device-scoped route called without a Bearer token is
allowed from an address in WAGW_INTERNAL_ALLOWLIST, the app resolved from the device, every
call audited; proxies' headers are believed only from WAGW_TRUSTED_PROXIES; an optional
WAGW_INTERNAL_TOKEN is a second factor. Against a real server on both databases; the tests
of whose address counts (headers alone) and of the logs on SQLite only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.test_device_flow import create_device, scan
from tests.e2e.test_inbound_media_queries import inbound
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, wait_until
from wagateway.audit.models import AuditEntry
from wagateway.core.db import Database
from wagateway.core.settings import Settings

pytestmark = pytest.mark.e2e

INTERNAL_TOKEN = "internal-second-factor-7f3a"


def internal_audit(gateway: GatewayServer) -> list[tuple[str, str | None, str | None, dict]]:
    """(actor, ip, device_id, detail) of every internal entry, oldest first."""
    url = Settings(data_dir=gateway.data_dir, database_url=gateway.database_url)
    db = Database(url.resolved_database_url)

    async def read() -> list[tuple[str, str | None, str | None, dict]]:
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.actor_kind == "internal")
                    .order_by(AuditEntry.seq)
                )
                return [(e.actor, e.ip, e.device_id, e.detail or {}) for e in rows.scalars()]
        finally:
            await db.dispose()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def allowlisted(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """One gateway per backend that lets all of loopback in without a token (no proxies),
    shared by the tests that need nothing else (each works on its own app and device)."""
    data_dir = tmp_path_factory.mktemp(f"gw-internal-{backend.backend}")
    extra = {"WAGW_INTERNAL_ALLOWLIST": "127.0.0.0/8"}
    gateway = GatewayServer(data_dir, backend.migrated_url(data_dir), extra_env=extra).start()
    yield gateway
    gateway.stop()


def test_an_allowlisted_caller_acts_on_a_device_by_its_id_alone(
    allowlisted: GatewayServer,
) -> None:
    gateway = allowlisted
    creds = gateway.create_app("internal")
    with gateway.client(creds["app_token"]) as api, gateway.client() as internal:
        device = create_device(api, "ops device")
        device_id = device["device_id"]

        shown = internal.get(f"/devices/{device_id}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["device_id"] == device_id

        # Sending works too, and the message is the device's app's.
        scan(api, device["qr"])
        wait_until(lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected")
        sent = internal.post(
            f"/devices/{device_id}/messages", json={"to": "6281211112222", "text": "from ops"}
        )
        assert sent.status_code == 202, sent.text
        mine = api.get(f"/devices/{device_id}/messages/{sent.json()['message_id']}")
        assert mine.status_code == 200 and mine.json()["content"]["text"] == "from ops"

        # A device that does not exist: 404; a route that names no device: a token is needed.
        assert internal.get("/devices/no-such-device").status_code == 404
        listing = internal.get("/devices")
        assert listing.status_code == 401
        assert listing.json()["error"]["code"] == "invalid_api_key"

    entries = internal_audit(gateway)
    mine = [e for e in entries if e[2] == device_id]
    assert [(e[0], e[1]) for e in mine[:2]] == [("127.0.0.1", "127.0.0.1")] * 2
    assert {e[3]["path"] for e in mine} >= {
        f"/devices/{device_id}",
        f"/devices/{device_id}/messages",
    }
    # No proxy in between: the chain is the peer alone.
    assert mine[0][3]["peer"] == "127.0.0.1" and "hops" not in mine[0][3]
    probes = [e for e in entries if e[3]["path"] == "/devices/no-such-device"]
    assert probes and probes[0][2] == "no-such-device"  # probes are audited too


def test_tokenless_access_stops_at_the_device_runtime_routes(allowlisted: GatewayServer) -> None:
    """Only `/devices/{device_id}…` (CONTRACT §5): the archive and the sandbox's controls name
    a device too, but need the app's token. Without one they are answered like any route
    that is not open to internal callers: 401 `invalid_api_key` (`unauthorized` says the
    caller's address was not allowlisted, which is not the point here)."""
    gateway = allowlisted
    creds = gateway.create_app("runtime only")
    with gateway.client(creds["app_token"]) as api, gateway.client() as internal:
        device = create_device(api, "runtime only")
        device_id = device["device_id"]
        scan(api, device["qr"])
        wait_until(lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected")

        for method, path in (
            ("GET", f"/archive/devices/{device_id}/messages.jsonl"),
            ("GET", f"/archive/devices/{device_id}/events.jsonl"),
            ("GET", f"/sandbox/devices/{device_id}/received"),
            ("POST", f"/sandbox/devices/{device_id}/drop"),
            ("POST", f"/sandbox/devices/{device_id}/logout"),
        ):
            refused = internal.request(method, path)
            assert refused.status_code == 401, (path, refused.text)
            assert refused.json()["error"]["code"] == "invalid_api_key", (path, refused.text)
        # Nothing was done, and the runtime route is still open to the same caller.
        shown = internal.get(f"/devices/{device_id}")
        assert shown.status_code == 200 and shown.json()["status"] == "connected", shown.text

    paths = [e[3]["path"] for e in internal_audit(gateway) if e[2] == device_id]
    assert paths == [f"/devices/{device_id}"]


def test_without_an_allowlist_a_tokenless_call_is_unauthorized(server: GatewayServer) -> None:
    # The shared server has the default settings: no allowlist.
    creds = server.create_app("no internal")
    with server.client(creds["app_token"]) as api, server.client() as anonymous:
        device_id = create_device(api)["device_id"]
        refused = anonymous.get(f"/devices/{device_id}")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    assert [entry for entry in internal_audit(server) if entry[2] == device_id] == []


# Which address is the caller's is decided from headers alone (core/client_address.py).
@pytest.mark.storage_agnostic
def test_forwarded_addresses_count_only_from_trusted_proxies(make_server) -> None:
    allowlist = "10.0.0.0/8,fd00::/8"  # neither contains the real peer, 127.0.0.1
    untrusting: GatewayServer = make_server(WAGW_INTERNAL_ALLOWLIST=allowlist)
    creds = untrusting.create_app("spoof")
    untrusting.start()
    with untrusting.client(creds["app_token"]) as api, untrusting.client() as caller:
        device_id = create_device(api)["device_id"]
        for headers in (
            {},
            {"X-Forwarded-For": "10.0.0.5"},
            {"Forwarded": "for=10.0.0.5"},
        ):
            spoofed = caller.get(f"/devices/{device_id}", headers=headers)
            assert spoofed.status_code == 401, headers
    untrusting.stop()

    behind_proxy: GatewayServer = make_server(
        WAGW_INTERNAL_ALLOWLIST=allowlist,
        WAGW_TRUSTED_PROXIES="127.0.0.1/32",
        WAGW_INTERNAL_TOKEN=INTERNAL_TOKEN,
    )
    creds = behind_proxy.create_app("proxied")
    behind_proxy.start()
    token = {"X-Internal-Token": INTERNAL_TOKEN}
    with behind_proxy.client(creds["app_token"]) as api, behind_proxy.client() as proxy:
        device_id = create_device(api)["device_id"]

        def status(headers: dict[str, str]) -> int:
            return proxy.get(f"/devices/{device_id}", headers=headers).status_code

        assert status({"X-Forwarded-For": "10.0.0.5"} | token) == 200
        assert status({"X-Forwarded-For": "[fd00::5]:4711"} | token) == 200
        assert status({"X-Forwarded-For": "fd00::7"} | token) == 200  # IPv6 CIDR
        # Only the header the proxies write counts (WAGW_FORWARDED_HEADER, X-Forwarded-For
        # by default): a `Forwarded` beside it is whatever the client wrote.
        assert status({"Forwarded": "for=10.0.0.5"} | token) == 401
        # The right-most address the proxy did not write itself is the client: here a
        # public one, whatever the client claimed to its left.
        assert status({"X-Forwarded-For": "10.0.0.5, 203.0.113.9"} | token) == 401
        assert status({"X-Forwarded-For": "fe80::1"} | token) == 401
        # The second factor: missing or wrong, refused.
        assert status({"X-Forwarded-For": "10.0.0.5"}) == 401
        assert status({"X-Forwarded-For": "10.0.0.5", "X-Internal-Token": "guess"}) == 401

    entries = internal_audit(behind_proxy)
    assert [e[1] for e in entries] == ["10.0.0.5", "fd00::5", "fd00::7"]
    assert all(e[2] == device_id for e in entries)


# Which address is the caller's is decided from headers alone (core/client_address.py).
@pytest.mark.storage_agnostic
def test_a_client_the_proxy_does_not_name_never_gets_the_proxys_rights(make_server) -> None:
    """The trusted proxy is allowlisted itself here (a local nginx, local internal callers):
    a client it does not name — no hop, a hop that cannot be parsed, only a header it does
    not write — is unknown and refused, never taken for the proxy."""
    gateway: GatewayServer = make_server(
        WAGW_INTERNAL_ALLOWLIST="127.0.0.0/8", WAGW_TRUSTED_PROXIES="127.0.0.1/32"
    )
    creds = gateway.create_app("unnamed clients")
    gateway.start()
    with gateway.client(creds["app_token"]) as api, gateway.client() as proxy:
        device_id = create_device(api)["device_id"]

        def answer(headers: list[tuple[str, str]]) -> httpx.Response:
            return proxy.get(f"/devices/{device_id}", headers=headers)

        for headers in (
            [],
            [("X-Forwarded-For", "unknown")],
            [("X-Forwarded-For", "_hidden")],
            [("X-Forwarded-For", "127.0.0.5, not-an-address")],
            [("X-Forwarded-For", "127.0.0.5,")],
            [("X-Forwarded-For", "127.0.0.5:http")],
            [("Forwarded", "for=127.0.0.5")],
            [("Forwarded", "for=127.0.0.5"), ("X-Forwarded-For", "203.0.113.9")],
            # Several lines are one list, in order: the proxy appended the last one.
            [("X-Forwarded-For", "127.0.0.5"), ("X-Forwarded-For", "203.0.113.9")],
        ):
            refused = answer(headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert refused.json()["error"]["code"] == "unauthorized", (headers, refused.text)

        lines = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "127.0.0.5")]
        assert answer(lines).status_code == 200
        # Every hop a trusted proxy: the left-most is the client (here the proxy's host).
        assert answer([("X-Forwarded-For", "127.0.0.1")]).status_code == 200

    entries = [e for e in internal_audit(gateway) if e[2] == device_id]
    assert [(actor, ip) for actor, ip, _, _ in entries] == [
        ("127.0.0.5", "127.0.0.5"),
        ("127.0.0.1", "127.0.0.1"),
    ]
    assert [e[3]["hops"] for e in entries] == [["203.0.113.9", "127.0.0.5"], ["127.0.0.1"]]
    assert all(e[3]["peer"] == "127.0.0.1" for e in entries)


# Which address is the caller's is decided from headers alone (core/client_address.py).
@pytest.mark.storage_agnostic
def test_the_internal_token_is_never_logged(make_server) -> None:
    gateway: GatewayServer = make_server(
        WAGW_INTERNAL_ALLOWLIST="127.0.0.0/8", WAGW_INTERNAL_TOKEN=INTERNAL_TOKEN
    )
    creds = gateway.create_app("quiet")
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        device_id = create_device(api)["device_id"]
    headers = {"X-Internal-Token": INTERNAL_TOKEN}
    assert httpx.get(f"{gateway.base_url}/devices/{device_id}", headers=headers).is_success
    assert httpx.get(f"{gateway.base_url}/devices/{device_id}").status_code == 401
    gateway.stop()
    assert INTERNAL_TOKEN not in gateway.logs()


def test_an_allowlisted_caller_fetches_a_devices_media_by_its_id_alone(
    allowlisted: GatewayServer,
) -> None:
    """`GET /devices/{device_id}/media?path=` (CONTRACT §10): the internal flow names only the
    device; a path of another device (of another app) is not found through it."""
    gateway = allowlisted
    creds, other_creds = gateway.create_app("internal media"), gateway.create_app("other media")
    with (
        gateway.client(creds["app_token"]) as api,
        gateway.client(other_creds["app_token"]) as other_api,
        gateway.client() as internal,
    ):
        device_id = scan(api, create_device(api, "media device")["qr"])["device_id"]
        other_id = scan(other_api, create_device(other_api, "other device")["qr"])["device_id"]
        inbound(api, device_id, {"type": "image"})
        inbox = f"/devices/{device_id}/messages?direction=inbound"
        stored = wait_until(lambda: api.get(inbox).json()["messages"], what="the image")[0]
        path = stored["media_path"]

        got = internal.get(f"/devices/{device_id}/media", params={"path": path})
        assert got.status_code == 200, got.text
        assert got.content == api.get("/media", params={"path": path}).content
        assert got.headers["content-type"] == "image/png"
        # The link beside it needs no one at all.
        assert internal.get(stored["media_url"]).content == got.content
        elsewhere = internal.get(f"/devices/{other_id}/media", params={"path": path})
        assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "not_found"
        assert internal.get("/media", params={"path": path}).status_code == 401

    paths = {e[3]["path"] for e in internal_audit(gateway) if e[2] == device_id}
    assert f"/devices/{device_id}/media" in paths  # audited as every internal call
