"""The admin API (CONTRACT §10, api/admin.py) on the shared server, which has the test admin
token (tests/support/harness.py's TEST_ADMIN_TOKEN): every route refused without the admin
token, with a wrong one and with an app token; apps made, changed, limited and deleted
through it work as the CLI's do; the PIN rules of a token rotation; every call audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.dashboard import logged_in_admin
from tests.support.harness import TEST_ADMIN_TOKEN, GatewayServer, WebhookReceiver
from wagateway.apps import service as apps_service
from wagateway.audit.models import AuditEntry
from wagateway.audit.service import Actor
from wagateway.cli_context import CliContext
from wagateway.core.errors import ApiError
from wagateway.devices.models import Device

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
# Every operation of the admin API (the description must list exactly these).
ROUTES = [
    ("GET", "/admin/apps"),
    ("POST", "/admin/apps"),
    ("GET", "/admin/apps/{app_id}"),
    ("PATCH", "/admin/apps/{app_id}"),
    ("DELETE", "/admin/apps/{app_id}"),
    ("POST", "/admin/apps/{app_id}/token/rotate"),
    ("POST", "/admin/apps/{app_id}/token/reveal"),
    ("POST", "/admin/apps/{app_id}/webhook-secret/rotate"),
    ("POST", "/admin/apps/{app_id}/webhook-secret/reveal"),
    ("PUT", "/admin/apps/{app_id}/limits"),
]
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/admin/apps"): {"name": "taken over"},
    ("PATCH", "/admin/apps/{app_id}"): {"name": "taken over"},
    ("PUT", "/admin/apps/{app_id}/limits"): {"max_devices": 0},
}


@pytest.fixture
def admin(server: GatewayServer) -> Any:
    with server.client(TEST_ADMIN_TOKEN) as client:
        yield client


def audit_of(server: GatewayServer, app_id: str) -> list[tuple[str, str, str]]:
    """(actor kind, actor, action) of the app's audit entries, oldest first."""

    async def read(ctx: CliContext) -> list[tuple[str, str, str]]:
        async with ctx.db.read() as session:
            rows = await session.execute(
                select(AuditEntry).where(AuditEntry.app_id == app_id).order_by(AuditEntry.seq)
            )
            return [(e.actor_kind, e.actor, e.action) for e in rows.scalars()]

    return server.in_process(read)


def assert_unauthorized(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error", "request_id"}, what
    assert body["error"]["code"] == "unauthorized", what
    assert response.headers["www-authenticate"] == "Bearer", what


def test_every_route_refuses_no_token_a_wrong_one_and_an_app_token(
    server: GatewayServer, app_creds: dict[str, str]
) -> None:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    described = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/admin")
        for method, operation in item.items()
        if operation.get("security") == [{"adminBearerAuth": []}]
    }
    assert described == set(ROUTES)
    app_id = app_creds["app_id"]
    refused = {
        "no token": {},
        "a wrong token": {"Authorization": "Bearer " + TEST_ADMIN_TOKEN[:-1] + "X"},
        "the token as Basic": {"Authorization": f"Basic {TEST_ADMIN_TOKEN}"},
        "the app's own token": {"Authorization": f"Bearer {app_creds['app_token']}"},
    }
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        for method, template in ROUTES:
            url = template.replace("{app_id}", app_id)
            for what, headers in refused.items():
                body = BODIES.get((method, template))
                response = client.request(method, url, json=body, headers=headers)
                assert_unauthorized(response, f"{method} {template} with {what}")
                # Refused before a body is read: a broken one gets the 401 too.
                broken = client.request(
                    method,
                    url,
                    content=b"{not json",
                    headers=headers | {"Content-Type": "application/json"},
                )
                assert_unauthorized(broken, f"{method} {template} with {what}, bad JSON")
        # Nothing happened: the app keeps its token and its name, and no app was made.
        own = client.get("/app", headers={"Authorization": f"Bearer {app_creds['app_token']}"})
        assert own.status_code == 200 and own.json()["name"] == "e2e app"
        names = [a["name"] for a in client.get("/admin/apps", headers=ADMIN).json()["apps"]]
        assert "taken over" not in names
    assert [a for a in audit_of(server, app_id) if a[0] == "admin_api"] == []


def test_create_show_change_limit_and_reveal_as_the_cli_does(
    server: GatewayServer, admin: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = admin.post(
        "/admin/apps", json={"name": "from the control plane", "webhook_url": receiver.url}
    )
    assert created.status_code == 201, created.text
    creds = created.json()
    assert set(creds) == {"app_id", "app_token", "webhook_secret"}  # `apps create --json`
    assert created.headers["cache-control"] == "no-store"
    app_id = creds["app_id"]
    assert creds["app_token"].startswith("wag_")

    # The new app works with its token.
    with server.client(creds["app_token"]) as own:
        assert own.get("/app").json()["app_id"] == app_id
        device = create_device(own, "admin made")
        assert device["status"] == "qr_generated"

    listed = admin.get("/admin/apps")
    assert listed.status_code == 200
    assert app_id in [a["app_id"] for a in listed.json()["apps"]]
    shown = admin.get(f"/admin/apps/{app_id}").json()
    assert (shown["name"], shown["engine"], shown["webhook_url"]) == (
        "from the control plane",
        "sandbox",
        receiver.url,
    )
    assert (shown["rotation_enabled"], shown["rotation_pin_set"]) == (True, False)
    assert "app_token" not in shown and "webhook_secret" not in shown

    changed = admin.patch(
        f"/admin/apps/{app_id}", json={"name": "renamed", "rotation_pin": "4321"}
    ).json()
    assert (changed["name"], changed["rotation_pin_set"]) == ("renamed", True)

    limits = admin.put(
        f"/admin/apps/{app_id}/limits", json={"requests_per_second": 7, "max_devices": 3}
    )
    assert limits.status_code == 200, limits.text
    assert (limits.json()["requests_per_second"], limits.json()["max_devices"]) == (7.0, 3)
    with server.client(creds["app_token"]) as own:
        assert own.get("/app").json()["limits"]["max_devices"] == 3

    revealed = admin.post(f"/admin/apps/{app_id}/token/reveal")
    assert revealed.json() == {"app_token": creds["app_token"]}
    assert revealed.headers["cache-control"] == "no-store"
    secret = admin.post(f"/admin/apps/{app_id}/webhook-secret/reveal").json()
    assert secret == {"webhook_secret": creds["webhook_secret"]}
    rotated = admin.post(f"/admin/apps/{app_id}/webhook-secret/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["webhook_secret"]
    assert new_secret.startswith("whsec_") and new_secret != creds["webhook_secret"]
    again = admin.post(f"/admin/apps/{app_id}/webhook-secret/reveal").json()
    assert again == {"webhook_secret": new_secret}

    # The rules of the services: a bad engine, a bad limit, an unknown app.
    bad = admin.post("/admin/apps", json={"name": "x", "engine": "telegram"})
    assert (bad.status_code, error_code(bad)) == (400, "validation_error")
    bad = admin.put(f"/admin/apps/{app_id}/limits", json={"burst": 0})
    assert (bad.status_code, error_code(bad)) == (400, "validation_error")
    for method, template in ROUTES:
        if "{app_id}" in template:
            url = template.replace("{app_id}", "00000000-0000-0000-0000-000000000000")
            missing = admin.request(method, url, json=BODIES.get((method, template)))
            assert (missing.status_code, error_code(missing)) == (404, "not_found"), url

    assert [a for a in audit_of(server, app_id) if a[0] == "admin_api"] == [
        ("admin_api", "admin API", action)
        for action in (
            "project.create",
            "project.show",
            "project.settings",
            "project.rotation_policy",
            "app.set_limits",
            "api_key.reveal",
            "webhook_secret.reveal",
            "webhook_secret.rotate",
            "webhook_secret.reveal",
        )
    ]


def test_token_rotation_keeps_the_pin_rules(server: GatewayServer, admin: httpx.Client) -> None:
    creds = admin.post("/admin/apps", json={"name": "pinned", "rotation_pin": "2468"}).json()
    app_id = creds["app_id"]
    rotate = f"/admin/apps/{app_id}/token/rotate"
    for body in (None, {"pin": "1111"}):
        refused = admin.post(rotate, json=body)
        assert (refused.status_code, error_code(refused)) == (401, "invalid_rotation_pin")
    rotated = admin.post(rotate, json={"pin": "2468", "grace_seconds": 0})
    assert rotated.status_code == 200, rotated.text
    token = rotated.json()["app_token"]
    assert token != creds["app_token"]
    with server.client(creds["app_token"]) as old, server.client(token) as new:
        assert old.get("/app").status_code == 401
        assert new.get("/app").status_code == 200
    assert admin.post(f"/admin/apps/{app_id}/token/reveal").json() == {"app_token": token}

    # Wrong PINs are throttled per app (WAGW_PIN_MAX_FAILURES, 5): then even the right one
    # is refused until the window passes.
    for _ in range(3):
        assert admin.post(rotate, json={"pin": "0000"}).status_code == 401
    throttled = admin.post(rotate, json={"pin": "2468"})
    assert (throttled.status_code, error_code(throttled)) == (429, "rate_limit_exceeded")
    assert int(throttled.headers["retry-after"]) >= 1
    with server.client(token) as new:
        assert new.get("/app").status_code == 200  # the refusal changed nothing

    # Rotation disabled for an app: 403, whatever the PIN.
    other = admin.post("/admin/apps", json={"name": "fixed key"}).json()
    off = admin.patch(f"/admin/apps/{other['app_id']}", json={"rotation_enabled": False})
    assert off.json()["rotation_enabled"] is False
    disabled = admin.post(f"/admin/apps/{other['app_id']}/token/rotate")
    assert (disabled.status_code, error_code(disabled)) == (403, "app_token_rotation_disabled")
    # A new PIN alone leaves rotation as it was (disabled).
    pinned = admin.patch(f"/admin/apps/{other['app_id']}", json={"rotation_pin": "9753"}).json()
    assert (pinned["rotation_enabled"], pinned["rotation_pin_set"]) == (False, True)

    actions = [a[2] for a in audit_of(server, app_id) if a[0] == "admin_api"]
    assert actions == [
        "project.create",
        *["api_key.rotate_refused"] * 2,
        "api_key.rotate",
        "api_key.reveal",
        *["api_key.rotate_refused"] * 4,  # three wrong PINs, one throttled
    ]


def test_delete_destroys_the_devices_revokes_the_tokens_and_archives_the_app(
    server: GatewayServer, admin: httpx.Client, receiver: WebhookReceiver
) -> None:
    creds = admin.post("/admin/apps", json={"name": "to go", "webhook_url": receiver.url}).json()
    app_id = creds["app_id"]
    with server.client(creds["app_token"]) as own:
        linked = create_device(own, "linked")["device_id"]
        scan_current_qr(own, linked)
        waiting = create_device(own, "waiting")["device_id"]

    with logged_in_admin(server) as dash:  # shown to the dashboard before
        assert app_id in dash.page("/dashboard/").text
        dash.page(f"/dashboard/projects/{app_id}/settings")

    deleted = admin.delete(f"/admin/apps/{app_id}")
    assert deleted.status_code == 204, deleted.text
    # Each device went as DELETE /devices/{id} does: destroyed, announced, audited.
    for device_id in (linked, waiting):
        receiver.wait_for(device_id, "device_destroyed")

    async def devices(ctx: CliContext) -> dict[str, str]:
        async with ctx.db.read() as session:
            rows = await session.execute(select(Device).where(Device.app_id == app_id))
            return {d.id: d.status for d in rows.scalars()}

    assert server.in_process(devices) == {linked: "destroyed", waiting: "destroyed"}
    with server.client(creds["app_token"]) as own:
        gone = own.get("/app")
        assert (gone.status_code, error_code(gone)) == (401, "invalid_api_key")
    for method, template in ROUTES:
        if "{app_id}" in template:
            url = template.replace("{app_id}", app_id)
            answer = admin.request(method, url, json=BODIES.get((method, template)))
            assert (answer.status_code, error_code(answer)) == (404, "not_found"), url
    assert app_id not in [a["app_id"] for a in admin.get("/admin/apps").json()["apps"]]
    # Gone for the dashboard and the CLI too (the same services).
    with logged_in_admin(server) as dash:
        assert app_id not in dash.page("/dashboard/").text
        dash.page(f"/dashboard/projects/{app_id}/settings", expect=404)

    async def reveal(ctx: CliContext) -> str:
        return await apps_service.reveal_token_as(ctx.db, ctx.box, Actor("cli", "cli"), app_id)

    with pytest.raises(ApiError) as refused:
        server.in_process(reveal)
    assert refused.value.code == "not_found"

    entries = audit_of(server, app_id)
    assert ("admin_api", "admin API", "project.archive") == entries[-1]
    assert entries.count(("admin_api", "admin API", "device.delete")) == 2


@pytest.mark.storage_agnostic
def test_a_short_admin_token_stops_the_start_with_a_clear_error(make_server: Any) -> None:
    short = "only-twenty-nine-characters-x"
    gateway: GatewayServer = make_server(WAGW_ADMIN_TOKEN=short)
    result = gateway.cli("serve", "--port", "1", check=False)
    assert result.returncode == 2
    assert (
        "error: invalid setting WAGW_ADMIN_TOKEN: must have at least 32 characters (it has 29)"
        in result.stderr
    )
    assert short not in result.stderr and "Traceback" not in result.stderr
