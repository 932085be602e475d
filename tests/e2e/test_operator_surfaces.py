"""What the gateway shows people who hold no app token (issue 15): `/health` stays open but
gives no figures that add up every tenant's activity unless the caller holds
`WAGW_METRICS_TOKEN`, which `/metrics` then requires; and the data dir the gateway creates is
readable by its own user only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.harness import GatewayServer

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    # A data dir that does not exist yet: the CLI (first) and the server create it.
    data_dir = tmp_path_factory.mktemp("surfaces") / "not-yet" / "data"
    gateway = GatewayServer(data_dir, "", extra_env={"WAGW_METRICS_TOKEN": METRICS_TOKEN})
    old_umask = os.umask(0o022)  # the usual one: the dir must still come out 0700
    try:
        gateway.create_app("surfaces")
    finally:
        os.umask(old_umask)
    gateway.start()
    yield gateway
    gateway.stop()


def test_health_is_open_without_figures_and_metrics_needs_its_token(
    guarded: GatewayServer,
) -> None:
    anonymous = httpx.get(guarded.base_url + "/health")
    assert anonymous.status_code == 200 and anonymous.json()["status"] == "ok"
    checks = anonymous.json()["checks"]
    assert {"database", "engine:sandbox", "webhook_dispatcher"} <= set(checks)
    assert all(check == {"ok": True} for check in checks.values()), checks

    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    detailed = httpx.get(guarded.base_url + "/health", headers=bearer).json()["checks"]
    assert detailed["engine:sandbox"] == {"ok": True, "sessions": 0}
    assert detailed["database"]["dialect"] == "sqlite"

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
        refused = httpx.get(guarded.base_url + "/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["code"] == "unauthorized"
        assert "wagateway_devices" not in refused.text
    metrics = httpx.get(guarded.base_url + "/metrics", headers=bearer)
    assert metrics.status_code == 200 and "wagateway_devices" in metrics.text
    assert METRICS_TOKEN not in guarded.logs()


def test_the_data_dir_is_created_private(guarded: GatewayServer) -> None:
    mode = stat.S_IMODE(Path(guarded.data_dir).stat().st_mode)
    assert mode == 0o700, oct(mode)
