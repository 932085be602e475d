"""The gateway behind a real nginx configured the usual way (CONTRACT §5): the internal
allowlist, the audit of internal calls, the dashboard's login throttle and its Secure cookies
see the client nginx saw, whatever the client wrote into forwarding headers itself.

WAGW_INTERNAL_ALLOWLIST=127.0.0.2/32, WAGW_TRUSTED_PROXIES=127.0.0.1/32 (nginx connects to
the gateway from 127.0.0.1); clients connect to nginx from chosen loopback addresses."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.e2e.test_internal_access import internal_audit
from tests.support.dashboard import PASSWORD, create_operator, logged_in_admin
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, wait_until
from tests.support.nginx import Nginx, nginx_path

pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

INSIDER = "127.0.0.2"  # the allowlisted address
OUTSIDER = "127.0.0.9"
PROXY_ENV = {
    "WAGW_INTERNAL_ALLOWLIST": f"{INSIDER}/32",
    "WAGW_TRUSTED_PROXIES": "127.0.0.1/32",
    # Per-address throttling only (a wrong guess per e-mail stays far below its own limit).
    "WAGW_LOGIN_MAX_FAILURES_PER_IP": "3",
    "WAGW_LOGIN_MAX_FAILURES": "50",
}
# What a client at OUTSIDER may write to pass for the allowlisted address.
SPOOFS = [
    {"Forwarded": f"for={INSIDER}"},
    {"X-Forwarded-For": INSIDER},
    {"Forwarded": f'for="{INSIDER}";proto=https', "X-Forwarded-For": INSIDER},
]
_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def behind_nginx(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayServer, Nginx]]:
    """One gateway per backend behind one nginx writing X-Forwarded-For, shared by the tests
    (each works on its own app and device)."""
    nginx_path()  # skip (or fail, in CI) before starting anything
    data_dir = tmp_path_factory.mktemp(f"gw-nginx-{backend.backend}")
    gateway = GatewayServer(data_dir, backend.migrated_url(data_dir), extra_env=PROXY_ENV).start()
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), gateway.port)
    try:
        proxy.start()
        yield gateway, proxy
    finally:
        proxy.stop()
        gateway.stop()


def connected_device(gateway: GatewayServer, api: httpx.Client) -> str:
    device = create_device(api, "behind nginx")
    scan(api, device["qr"])
    device_id = str(device["device_id"])
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected",
        what="the device to connect",
    )
    return device_id


def device_calls(device_id: str) -> list[tuple[str, str, dict[str, str] | None]]:
    """Read the device, send from it, disconnect it: what the probe did without a token."""
    return [
        ("GET", f"/devices/{device_id}", None),
        ("POST", f"/devices/{device_id}/messages", {"to": "6281211112222", "text": "spoofed"}),
        ("POST", f"/devices/{device_id}/disconnect", None),
    ]


def test_a_client_claiming_the_allowlisted_address_gets_no_internal_rights(
    behind_nginx: tuple[GatewayServer, Nginx],
) -> None:
    gateway, proxy = behind_nginx
    creds = gateway.create_app("spoof target")
    with gateway.client(creds["app_token"]) as api, proxy.client(OUTSIDER) as outsider:
        device_id = connected_device(gateway, api)
        for headers in SPOOFS:
            for method, path, body in device_calls(device_id):
                refused = outsider.request(method, path, json=body, headers=headers)
                assert refused.status_code == 401, (headers, method, path, refused.text)
                assert refused.json()["error"]["code"] == "unauthorized", refused.text
        # Nothing happened: still connected, no message, no internal call on record.
        assert api.get(f"/devices/{device_id}").json()["status"] == "connected"
        assert api.get(f"/devices/{device_id}/messages").json()["messages"] == []
    assert [e for e in internal_audit(gateway) if e[2] == device_id] == []


def test_a_client_really_at_the_allowlisted_address_is_served_and_the_chain_audited(
    behind_nginx: tuple[GatewayServer, Nginx],
) -> None:
    gateway, proxy = behind_nginx
    creds = gateway.create_app("internal via nginx")
    # Whatever the client writes left of nginx's own entry is kept on record, not believed.
    claim = {"X-Forwarded-For": "198.51.100.7"}
    with gateway.client(creds["app_token"]) as api, proxy.client(INSIDER) as insider:
        device_id = connected_device(gateway, api)
        shown = insider.get(f"/devices/{device_id}", headers=claim)
        assert shown.status_code == 200, shown.text
        sent = insider.post(
            f"/devices/{device_id}/messages",
            json={"to": "6281211112222", "text": "from ops"},
            headers=claim,
        )
        assert sent.status_code == 202, sent.text
        mine = api.get(f"/devices/{device_id}/messages/{sent.json()['message_id']}")
        assert mine.json()["content"]["text"] == "from ops"
        gone = insider.post(f"/devices/{device_id}/disconnect", headers=claim)
        assert gone.status_code == 200, gone.text
        assert api.get(f"/devices/{device_id}").json()["status"] != "connected"
        markup = insider.get(f"/devices/{device_id}", headers={"X-Forwarded-For": "<em>x</em>"})
        assert markup.status_code == 200, markup.text

    entries = [e for e in internal_audit(gateway) if e[2] == device_id]
    assert [(actor, ip) for actor, ip, _, _ in entries] == [(INSIDER, INSIDER)] * 4
    for _, _, _, detail in entries:
        assert detail["peer"] == "127.0.0.1"
        assert detail["forwarded_header"] == "X-Forwarded-For"
    assert [e[3]["hops"] for e in entries] == [["198.51.100.7", INSIDER]] * 3 + [
        ["<em>x</em>", INSIDER]
    ]
    # The audit page shows the chain, as text.
    with logged_in_admin(gateway) as admin:
        page = admin.page("/dashboard/audit").text
    assert f"via 127.0.0.1, X-Forwarded-For: 198.51.100.7, {INSIDER}" in page
    assert "&lt;em&gt;x&lt;/em&gt;" in page and "<em>x</em>" not in page


def _login(client: httpx.Client, email: str, password: str, headers: dict[str, str]) -> int:
    form = client.get("/dashboard/login", headers=headers)
    token = _FORM_CSRF.search(form.text)
    assert token, form.text[:300]
    answer = client.post(
        "/dashboard/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        headers=headers,
    )
    return answer.status_code


def test_the_login_throttle_counts_the_address_nginx_saw(
    behind_nginx: tuple[GatewayServer, Nginx],
) -> None:
    gateway, proxy = behind_nginx
    owner_address = "127.0.0.3"
    owner = create_operator(gateway, f"owner-{uuid.uuid4().hex[:8]}@example.com")

    def claiming(address: str) -> dict[str, str]:
        return {"Forwarded": f"for={address}", "X-Forwarded-For": address}

    with proxy.client(OUTSIDER) as guesser:
        # Three wrong guesses claiming to come from the owner's address (to get it
        # throttled), then more, each claiming a fresh address (to dodge the throttle).
        claims = [owner_address] * 3 + ["10.9.0.4", "10.9.0.5"]
        statuses = [
            _login(guesser, f"guess-{uuid.uuid4().hex[:8]}@example.com", "wrong", claiming(a))
            for a in claims
        ]
    assert statuses == [401, 401, 401, 429, 429]
    with proxy.client(owner_address) as owner_client:
        assert _login(owner_client, owner, PASSWORD, {}) == 303


def _cookie_is_secure(response: httpx.Response) -> bool:
    cookie = response.headers.get("set-cookie", "")
    assert cookie.startswith("wagw_login_csrf="), cookie
    return "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_cookies_follow_the_scheme_nginx_reports(
    behind_nginx: tuple[GatewayServer, Nginx],
) -> None:
    _, proxy = behind_nginx
    with proxy.client(OUTSIDER) as browser:
        # nginx speaks plain HTTP here and says so in X-Forwarded-Proto; a client's own
        # claim of HTTPS, in either header, does not make the cookie Secure.
        for claim in (
            {"Forwarded": "for=198.51.100.7;proto=https"},
            {"X-Forwarded-Proto": "https"},
        ):
            assert not _cookie_is_secure(browser.get("/dashboard/login", headers=claim)), claim


def test_behind_a_proxy_that_writes_forwarded(make_server, tmp_path: Path) -> None:
    """WAGW_FORWARDED_HEADER=Forwarded, nginx appending an RFC 7239 element (its documented
    recipe) and leaving X-Forwarded-* as the client wrote them."""
    nginx_path()
    gateway: GatewayServer = make_server(**PROXY_ENV, WAGW_FORWARDED_HEADER="Forwarded")
    creds = gateway.create_app("forwarded")
    gateway.start()
    proxy = Nginx(tmp_path / "nginx", gateway.port, writes="forwarded").start()
    try:
        with (
            gateway.client(creds["app_token"]) as api,
            proxy.client(OUTSIDER) as outsider,
            proxy.client(INSIDER) as insider,
        ):
            device_id = connected_device(gateway, api)
            for headers in SPOOFS:
                refused = outsider.get(f"/devices/{device_id}", headers=headers)
                assert refused.status_code == 401, (headers, refused.text)
                assert refused.json()["error"]["code"] == "unauthorized"
            for claim in ({"Forwarded": "proto=https"}, {"X-Forwarded-Proto": "https"}):
                login = outsider.get("/dashboard/login", headers=claim)
                assert not _cookie_is_secure(login), claim

            shown = insider.get(f"/devices/{device_id}", headers={"Forwarded": "for=_client"})
            assert shown.status_code == 200, shown.text
    finally:
        proxy.stop()
    [entry] = [e for e in internal_audit(gateway) if e[2] == device_id]
    assert entry[:2] == (INSIDER, INSIDER)
    assert entry[3]["peer"] == "127.0.0.1"
    assert entry[3]["forwarded_header"] == "Forwarded"
    assert entry[3]["hops"] == ["for=_client", f"for={INSIDER};proto=http"]
