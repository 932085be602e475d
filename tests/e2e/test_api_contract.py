"""The contract's conventions (CONTRACT §1, §5): auth, tenant isolation, error envelope,
request ids — checked on a real server."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.e2e.test_device_flow import create_device
from tests.support.harness import GatewayServer

pytestmark = pytest.mark.e2e

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


def test_other_apps_qr_and_deliveries_are_invisible(
    server: GatewayServer, api: httpx.Client
) -> None:
    victim = create_device(api, "qr victim")
    intruder = server.create_app("intruder 2")
    with server.client(intruder["app_token"]) as other:
        assert_envelope(
            other.post("/sandbox/scan", json={"qr": victim["qr"], "phone": "6281200000001"}),
            404,
            "not_found",
        )
    # Not linked by the intruder's scan (its QR window may have ended meanwhile: 8 s here).
    assert api.get(f"/devices/{victim['device_id']}").json()["status"] in (
        "qr_generated",
        "expired",
    )
    rid = api.get("/webhooks/deliveries").json()["deliveries"][0]["request_id"]
    with server.client(intruder["app_token"]) as other:
        assert_envelope(other.get(f"/webhooks/deliveries/{rid}"), 404, "not_found")
        assert_envelope(other.post(f"/webhooks/deliveries/{rid}/redeliver"), 404, "not_found")


def test_authentication_errors(server: GatewayServer, api: httpx.Client) -> None:
    device = create_device(api, "auth")
    anonymous = httpx.Client(base_url=server.base_url)
    assert_envelope(anonymous.get("/devices"), 401, "invalid_api_key")
    assert_envelope(anonymous.post("/devices", json={"device_name": "x"}), 401, "invalid_api_key")
    # Token-less device-scoped calls are the internal route: refused outside the allowlist.
    assert_envelope(anonymous.get(f"/devices/{device['device_id']}"), 401, "unauthorized")
    for header in ["Bearer wag_not-a-real-token-at-all-000000", "Bearer", "Basic abc", "wag_x"]:
        response = anonymous.get("/devices", headers={"Authorization": header})
        assert_envelope(response, 401, "invalid_api_key")
        assert response.headers["www-authenticate"] == "Bearer"
    assert anonymous.get("/health").status_code == 200


def test_validation_errors_name_the_field(api: httpx.Client) -> None:
    cases = [
        (b"{not json", "body"),
        (b'{"device_name": 5}', "device_name"),
        (b'{"device_name": null}', "device_name"),
        (b"{}", "device_name"),
        (b'{"device_name": "   "}', "device_name"),
        (b'{"device_name": "' + b"x" * 101 + b'"}', "device_name"),
        (b'["device_name"]', None),
    ]
    for raw, field in cases:
        response = api.post("/devices", content=raw, headers={"Content-Type": "application/json"})
        body = assert_envelope(response, 400, "validation_error")
        if field:
            assert body["error"]["details"]["field"] == field, (raw, body)
    assert api.get("/devices").json()["devices"] == []  # nothing half-created


def test_nul_characters_are_refused_with_the_field_named(api: httpx.Client) -> None:
    """U+0000 anywhere in a request is 400 on both databases (PostgreSQL cannot store it in
    text: ids, filters, names and URLs with one were 500s there; found by the API fuzzer)."""
    device = str(uuid.uuid4())
    nul = "a\x00b"
    cases = [
        ("GET", "/devices/a%00b", {}, None, "path"),
        ("GET", f"/devices/{device}/messages/a%00b", {}, None, "path"),
        ("GET", f"/devices/{device}/messages", {"status": nul}, None, "status"),
        ("GET", "/webhooks/deliveries", {"device_id": nul}, None, "device_id"),
        (
            "POST",
            "/webhooks/deliveries/redeliver-failed",
            {"event": "x", "device_id": nul},
            None,
            "device_id",
        ),
        ("PATCH", "/app", {}, {"name": nul}, "name"),
        ("PATCH", "/app", {}, {"webhook_url": "https://example.com/" + nul}, "webhook_url"),
        (
            "POST",
            f"/devices/{device}/messages",
            {},
            {"to": "6281211112222", "reply_to": nul},
            "reply_to",
        ),
        (
            "POST",
            f"/devices/{device}/messages",
            {},
            {"to": "6281211112222", "type": "interactive", "buttons": [{"id": nul}]},
            "buttons.0.id",
        ),
        (
            "POST",
            f"/sandbox/devices/{device}/revoke",
            {},
            {"from": "62812", "wa_message_id": nul},
            "wa_message_id",
        ),
    ]
    for method, path, params, body, field in cases:
        response = api.request(method, path, params=params, json=body)
        found = assert_envelope(response, 400, "validation_error")
        assert found["error"]["details"] == {"field": field}, (path, body, found)
    assert api.get("/app").json()["name"] == "e2e app"  # nothing half-applied
    # The six characters "\u0000" (an escaped backslash, then "u0000") are no NUL.
    created = api.post(
        "/devices",
        content=b'{"device_name": "a\\\\u0000b"}',
        headers={"Content-Type": "application/json"},
    )
    assert created.status_code == 201 and created.json()["device_name"] == "a\\u0000b"


def test_unknown_routes_methods_and_request_ids(api: httpx.Client) -> None:
    body = assert_envelope(api.get("/no/such/route"), 404, "not_found")
    assert UUID_RE.match(body["request_id"])
    assert_envelope(api.put("/devices"), 405, "method_not_allowed")
    echoed = api.get("/devices", headers={"X-Request-ID": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    hostile = api.get("/devices", headers={"X-Request-ID": "a b\tc<script>"})
    assert UUID_RE.match(hostile.headers["x-request-id"])
    assert UUID_RE.match(api.get("/health").headers["x-request-id"])


def test_health_and_docs(server: GatewayServer) -> None:
    health = httpx.get(server.base_url + "/health").json()
    assert health["status"] == "ok"
    assert {"database", "webhook_dispatcher", "session_runtime", "engine:sandbox"} <= set(
        health["checks"]
    )
    # One node: it is the cluster (CONTRACT §9, `checks.cluster`).
    cluster = health["checks"]["cluster"]
    own = (server.data_dir / "node-id").read_text().strip()
    assert cluster["ok"] and cluster["node_id"] == own
    assert [n["node_id"] for n in cluster["nodes"]] == [own]
    assert httpx.get(server.base_url + "/docs").status_code == 200
    spec = httpx.get(server.base_url + "/openapi.json").json()
    assert "/devices/{device_id}/pairing-code" in spec["paths"]
    metrics = httpx.get(server.base_url + "/metrics").text
    assert "wagateway_devices" in metrics and "wagateway_webhook_queue_depth" in metrics


def test_token_rotation_and_reveal_via_cli(server: GatewayServer) -> None:
    creds = server.create_app("rotating")
    assert creds["app_token"].startswith("wag_") and creds["webhook_secret"].startswith("whsec_")
    assert UUID_RE.match(creds["app_id"])
    revealed = server.cli("apps", "reveal-token", creds["app_id"]).stdout.strip()
    assert revealed == creds["app_token"]
    new = server.cli("apps", "rotate-token", creds["app_id"]).stdout.strip()
    assert new.startswith("wag_") and new != creds["app_token"]
    with server.client(creds["app_token"]) as old_client:
        assert_envelope(old_client.get("/devices"), 401, "invalid_api_key")
    with server.client(new) as new_client:
        assert new_client.get("/devices").status_code == 200
        assert new_client.get("/app").json()["app_id"] == creds["app_id"]
    assert server.cli("apps", "reveal-token", creds["app_id"]).stdout.strip() == new
    secret = server.cli("apps", "reveal-webhook-secret", creds["app_id"]).stdout.strip()
    assert secret == creds["webhook_secret"]


def test_rotation_grace_period_and_pin(server: GatewayServer) -> None:
    creds = server.create_app("pinned", "", "--rotation-pin", "2468")
    wrong = server.cli("apps", "rotate-token", creds["app_id"], "--pin", "1111", check=False)
    assert wrong.returncode == 2 and "invalid_rotation_pin" in wrong.stderr
    missing = server.cli("apps", "rotate-token", creds["app_id"], check=False)
    assert missing.returncode == 2 and "invalid_rotation_pin" in missing.stderr
    new = server.cli(
        "apps", "rotate-token", creds["app_id"], "--pin", "2468", "--grace-seconds", "60"
    )
    token = new.stdout.strip()
    for t in (creds["app_token"], token):  # both valid during the grace period
        with server.client(t) as client:
            assert client.get("/devices").status_code == 200


def test_secrets_stay_out_of_logs(
    server: GatewayServer, api: httpx.Client, app_creds: dict
) -> None:
    create_device(api, "log check")
    logs = server.logs()
    assert logs, "the server writes logs"
    assert app_creds["app_token"] not in logs
    assert app_creds["webhook_secret"] not in logs
    assert app_creds["webhook_secret"].removeprefix("whsec_") not in logs


def test_unknown_app_in_cli_is_a_clear_error(server: GatewayServer) -> None:
    result = server.cli("apps", "reveal-token", str(uuid.uuid4()), check=False)
    assert result.returncode == 2 and "not_found" in result.stderr
    bad_engine = server.cli("apps", "create", "x", "--engine", "telegram", "--json", check=False)
    assert bad_engine.returncode == 2 and "engine" in bad_engine.stderr
