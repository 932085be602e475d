"""Rate limits hold for the gateway as a whole (CONTRACT §9): two real server processes on one
PostgreSQL database, sharing their buckets in Redis (`WAGW_REDIS_URL`, a key prefix of the
test's own), refuse an app's requests spread over both once its one budget is spent, not
twice it. And Redis not answering does not take a node's API down: it holds apps to their
limits alone and `/health` says so."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_device_flow import create_device
from tests.e2e.test_limits import assert_rate_limited
from tests.support.databases import DatabaseProvider
from tests.support.harness import TEST_ADMIN_TOKEN, GatewayServer, free_port
from tests.support.redis_store import RedisStore, redis_store

pytestmark = pytest.mark.e2e

SHARED = {"ok": True, "scope": "gateway", "store": "redis"}


@pytest.fixture
def redis() -> Iterator[RedisStore]:
    yield from redis_store()


def _set_limits(node: GatewayServer, app_id: str, **limits: float) -> None:
    admin = httpx.put(
        f"{node.base_url}/admin/apps/{app_id}/limits",
        json=limits,
        headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"},
    )
    assert admin.status_code == 200, admin.text


def _rate_limits_check(node: GatewayServer) -> dict[str, object]:
    checks: dict[str, dict[str, object]] = httpx.get(node.base_url + "/health").json()["checks"]
    return checks["rate_limits"]


def test_an_apps_budget_is_one_for_all_nodes(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    redis: RedisStore,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("limits-db"))
    env = {
        **shared_media,
        "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
        "WAGW_REDIS_URL": redis.url,
        "WAGW_REDIS_PREFIX": redis.prefix,
    }
    a, b = (
        GatewayServer(tmp_path_factory.mktemp(f"node-{name}"), url, extra_env=dict(env))
        for name in "ab"
    )
    try:
        a.start()
        b.start()
        creds = a.create_app("limited")
        # 8 requests for the app, 3 of them on one device; refilling one takes 100 s.
        _set_limits(
            b,
            creds["app_id"],
            requests_per_second=0.01,
            burst=8,
            device_requests_per_second=0.01,
            device_burst=3,
        )
        assert _rate_limits_check(a) == _rate_limits_check(b) == SHARED
        with a.client(creds["app_token"]) as api_a, b.client(creds["app_token"]) as api_b:
            nodes = [api_a, api_b]
            device_id = create_device(api_a)["device_id"]  # the app's 1st
            # The device's 3, over both nodes (the app's 2nd to 4th); then the device is
            # refused on either, and its refusals spend nothing of the app's.
            codes = [nodes[i % 2].get(f"/devices/{device_id}").status_code for i in range(3)]
            assert codes == [200, 200, 200]
            for api in nodes:
                assert_rate_limited(api.get(f"/devices/{device_id}"), "device")
            # The app's 4 left, over both nodes; then refused on both (per-node limits would
            # have allowed each node 8).
            codes = [nodes[i % 2].get("/app").status_code for i in range(6)]
            assert codes == [200, 200, 200, 200, 429, 429]
            for api in nodes:
                refused = api.get("/devices")
                assert_rate_limited(refused, "app")
                assert 1 <= int(refused.headers["retry-after"]) <= 100
    finally:
        a.stop()
        b.stop()


def test_redis_not_answering_leaves_the_api_up_with_limits_per_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # One node on SQLite is enough: what is tested is the node's own answer to Redis away.
    data_dir = tmp_path_factory.mktemp("no-redis")
    node = GatewayServer(
        data_dir,
        DatabaseProvider("sqlite").migrated_url(data_dir),
        extra_env={
            "WAGW_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "WAGW_REDIS_PREFIX": "wagw_t_none:",
        },
    )
    creds = node.create_app("limited")
    try:
        node.start()
        assert "rate_limits_redis_unreachable" in node.logs()
        _set_limits(node, creds["app_id"], requests_per_second=0.01, burst=3)
        with node.client(creds["app_token"]) as api:
            assert [api.get("/app").status_code for _ in range(4)] == [200, 200, 200, 429]
        health = httpx.get(node.base_url + "/health").json()
        assert health["status"] == "degraded"
        assert health["checks"]["rate_limits"] == {"ok": False, "scope": "node", "store": "redis"}
    finally:
        node.stop()
