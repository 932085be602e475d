"""Limits on a real server (docs/limits.md): per-app and per-device API rate limits with 429
`rate_limit_exceeded` and `Retry-After`, set per app by the operator; the device quota (409
`too_many_devices`); request body caps (413 `request_too_large`), also for chunked bodies.
The device quota (a count the database answers) on both databases;
the rate limits (token buckets in the node's memory: the database only keeps an app's own
limits, set and read back on both databases in tests/unit/test_audited_actions.py) and the
body caps (the HTTP layer's, before any database) on SQLite only."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import GatewayServer, wait_until

pytestmark = pytest.mark.e2e


def set_limits(gateway: GatewayServer, app_id: str, *options: str) -> dict:
    out = gateway.cli("apps", "set-limits", app_id, *options)
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_rate_limited(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert body["error"]["details"]["scope"] == scope
    assert body["request_id"] == response.headers["x-request-id"]
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-remaining"] == "0"


@pytest.mark.storage_agnostic
def test_app_and_device_rate_limits_per_app(make_server) -> None:
    gateway: GatewayServer = make_server()
    limited = gateway.create_app("limited")
    other = gateway.create_app("other")
    now = set_limits(
        gateway,
        limited["app_id"],
        "--requests-per-second", "0.2",
        "--burst", "8",
        "--device-requests-per-second", "0.2",
        "--device-burst", "3",
    )  # fmt: skip
    assert now["requests_per_second"] == 0.2 and now["device_burst"] == 3
    gateway.start()
    with gateway.client(limited["app_token"]) as api, gateway.client(other["app_token"]) as b:
        shown = api.get("/app").json()["limits"]  # 1 of 8
        assert shown == {
            "requests_per_second": 0.2,
            "burst": 8,
            "device_requests_per_second": 0.2,
            "device_burst": 3,
            "max_devices": 100,
        }
        device_id = create_device(api)["device_id"]  # 2 of 8
        for _ in range(3):  # the device's 3: app 5 of 8
            assert api.get(f"/devices/{device_id}").status_code == 200
        assert_rate_limited(api.get(f"/devices/{device_id}"), "device")
        # The device's refusal spent nothing of the app's: 3 app-wide requests remain.
        assert [api.get("/devices").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert_rate_limited(api.get("/app"), "app")
        # Both buckets are empty now; the 429 names the one that refills last.
        refused = api.post(f"/devices/{device_id}/messages", json={"to": "6281", "text": "x"})
        assert refused.status_code == 429 and error_code(refused) == "rate_limit_exceeded"
        # Another app is untouched, and so are the server's defaults for it.
        assert b.get("/app").json()["limits"]["requests_per_second"] == 1000.0
        assert all(b.get("/devices").status_code == 200 for _ in range(20))

    # Back to the defaults: the limited app works again.
    set_limits(gateway, limited["app_id"], "--reset")
    gateway.stop()
    gateway.start()
    with gateway.client(limited["app_token"]) as api:
        assert all(api.get("/devices").status_code == 200 for _ in range(20))


@pytest.mark.storage_agnostic
def test_the_send_route_is_limited_too_and_a_bad_token_is_still_401(make_server) -> None:
    gateway: GatewayServer = make_server()
    creds = gateway.create_app("sender")
    set_limits(gateway, creds["app_id"], "--requests-per-second", "0.1", "--burst", "6")
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        device = create_device(api)  # 1
        scan(api, device["qr"])  # the sandbox's scan route is not app-limited
        wait_until(
            lambda: api.get(f"/devices/{device['device_id']}").json()["status"] == "connected"
        )
        url = f"/devices/{device['device_id']}/messages"
        statuses = [
            api.post(url, json={"to": "6281211112222", "text": "hi"}).status_code for _ in range(8)
        ]
        # wait_until's polls took some of the 6; every send after the burst is refused.
        assert statuses.count(202) >= 1 and statuses[-1] == 429, statuses
        assert_rate_limited(api.post(url, json={"to": "6281211112222", "text": "hi"}), "app")
        # A token that is not the app's gets 401, never a 429 that would confirm anything.
        with gateway.client("wagw_" + "x" * 40) as stranger:
            assert (
                error_code(stranger.post(url, json={"to": "6281", "text": "x"}))
                == "invalid_api_key"
            )


def test_device_quota_is_409_too_many_devices(make_server) -> None:
    gateway: GatewayServer = make_server(WAGW_MAX_DEVICES_PER_APP="3")
    small = gateway.create_app("small")
    default = gateway.create_app("default")
    assert set_limits(gateway, small["app_id"], "--max-devices", "2")["max_devices"] == 2
    gateway.start()
    with gateway.client(small["app_token"]) as api, gateway.client(default["app_token"]) as b:
        first = create_device(api, "one")
        create_device(api, "two")
        refused = api.post("/devices", json={"device_name": "three"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "too_many_devices"
        assert refused.json()["error"]["details"] == {"max_devices": 2}
        assert [d["device_name"] for d in api.get("/devices").json()["devices"]] != []
        assert len(api.get("/devices").json()["devices"]) == 2  # nothing half-made
        # A destroyed device frees its place.
        assert api.delete(f"/devices/{first['device_id']}").status_code == 200
        assert api.post("/devices", json={"device_name": "three"}).status_code == 201
        # The server's default quota for the other app.
        codes = [b.post("/devices", json={"device_name": f"d{i}"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 409]


# The cap is the HTTP layer's (core/body_limit.py): no database reached.
@pytest.mark.storage_agnostic
def test_bodies_over_the_cap_are_413_even_chunked(make_server) -> None:
    gateway: GatewayServer = make_server(WAGW_MAX_REQUEST_BYTES="4096")
    creds = gateway.create_app("bodies")
    gateway.start()
    big = json.dumps({"device_name": "x" * 5000}).encode()
    with gateway.client(creds["app_token"]) as api:
        refused = api.post("/devices", content=big, headers={"content-type": "application/json"})
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "request_too_large"
        assert refused.json()["error"]["details"] == {"max_bytes": 4096}
        assert refused.json()["request_id"] == refused.headers["x-request-id"]

        def chunks():  # no Content-Length: Transfer-Encoding: chunked
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]

        refused = api.post(
            "/devices", content=chunks(), headers={"content-type": "application/json"}
        )
        assert refused.status_code == 413 and error_code(refused) == "request_too_large"
        assert api.get("/devices").json()["devices"] == []  # nothing was created

        # Under the cap, chunked or not, the request goes through as usual.
        small = json.dumps({"device_name": "fits"}).encode()
        ok = api.post(
            "/devices",
            content=iter([small[:5], small[5:]]),
            headers={"content-type": "application/json"},
        )
        assert ok.status_code == 201, ok.text
        # A send may carry media: its cap follows the media cap, not WAGW_MAX_REQUEST_BYTES.
        device_id = ok.json()["device_id"]
        scan(api, ok.json()["qr"])
        wait_until(lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected")
        image = {"to": "6281211112222", "type": "image", "mime_type": "image/png",
                 "data_base64": "A" * 8000}  # fmt: skip
        sent = api.post(f"/devices/{device_id}/messages", json=image)
        assert sent.status_code == 202, sent.text
