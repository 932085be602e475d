"""Internal callers (CONTRACT §5): a device-scoped route called without a Bearer token is
allowed from an address in WAGW_INTERNAL_ALLOWLIST, the app resolved from the device, every
call audited; proxies' headers are believed only from WAGW_TRUSTED_PROXIES; an optional
WAGW_INTERNAL_TOKEN is a second factor. Against a real server on both databases."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.test_device_flow import create_device, scan
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


def test_an_allowlisted_caller_acts_on_a_device_by_its_id_alone(make_server) -> None:
    gateway: GatewayServer = make_server(WAGW_INTERNAL_ALLOWLIST="127.0.0.0/8")
    creds = gateway.create_app("internal")
    gateway.start()
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
    assert [(e[0], e[1], e[2]) for e in entries[:2]] == [
        ("127.0.0.1", "127.0.0.1", device_id),
        ("127.0.0.1", "127.0.0.1", device_id),
    ]
    assert {e[3]["path"] for e in entries} >= {
        f"/devices/{device_id}",
        f"/devices/{device_id}/messages",
        "/devices/no-such-device",  # probes are audited too
    }


def test_without_an_allowlist_a_tokenless_call_is_unauthorized(make_server) -> None:
    gateway: GatewayServer = make_server()
    creds = gateway.create_app("no internal")
    gateway.start()
    with gateway.client(creds["app_token"]) as api, gateway.client() as anonymous:
        device_id = create_device(api)["device_id"]
        refused = anonymous.get(f"/devices/{device_id}")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    assert internal_audit(gateway) == []


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
        assert status({"Forwarded": 'for="[fd00::5]:4711";proto=https'} | token) == 200
        assert status({"X-Forwarded-For": "fd00::7"} | token) == 200  # IPv6 CIDR
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
