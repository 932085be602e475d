"""Several `wagateway serve` processes on one PostgreSQL database (CONTRACT §9), as far as
membership goes: each lists every live node in `/health`'s `checks.cluster`, one that leaves
is gone from the list, and a node whose master key is not the database's refuses to start,
saying why."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, wait_until

pytestmark = pytest.mark.e2e


def _node_id(server: GatewayServer) -> str:
    return (server.data_dir / "node-id").read_text().strip()


def _cluster(server: GatewayServer) -> dict:
    return httpx.get(server.base_url + "/health").json()["checks"]["cluster"]


def test_nodes_on_one_database_see_each_other_and_a_wrong_key_is_refused(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("cluster-db"))
    env = {
        **shared_media,
        "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
        "WAGW_DEVICE_LEASE_SECONDS": "3",
    }
    nodes = [
        GatewayServer(tmp_path_factory.mktemp(f"node-{name}"), url, extra_env=dict(env))
        for name in "ab"
    ]
    try:
        for node in nodes:
            node.start()
        ids = {_node_id(node) for node in nodes}
        assert len(ids) == 2
        for node in nodes:
            wait_until(
                lambda node=node: {n["node_id"] for n in _cluster(node)["nodes"]} == ids,
                what="both nodes listed",
            )
            own = _cluster(node)
            assert own["ok"] and own["node_id"] == _node_id(node)

        stranger = GatewayServer(
            tmp_path_factory.mktemp("node-c"),
            url,
            extra_env=env | {"WAGW_SECRET_KEY": secrets.token_urlsafe(32)},
        )
        with pytest.raises(AssertionError, match="server exited early"):
            stranger.start()
        assert "WAGW_SECRET_KEY" in stranger.logs()
        # The CLI is held to the same key: it would write secrets no node could read.
        refused = stranger.cli("apps", "list", check=False)
        assert refused.returncode == 2 and "WAGW_SECRET_KEY" in refused.stderr

        # Media one node stored must be readable on the others: a node with its own (local)
        # media store is refused while the others run (another bucket too:
        # tests/unit/test_cluster_membership.py).
        secret = secrets.token_urlsafe(16)
        own_media = GatewayServer(
            tmp_path_factory.mktemp("node-d"),
            url,
            extra_env=env | {"WAGW_MEDIA_STORE": "local", "WAGW_S3_SECRET_ACCESS_KEY": secret},
        )
        with pytest.raises(AssertionError, match="server exited early"):
            own_media.start()
        assert "several nodes need one shared media store" in own_media.logs()
        assert "wagw-media" in own_media.logs() and secret not in own_media.logs()

        nodes[1].stop()  # leaves: gone from the list at once, not after the lease
        first = nodes[0]
        assert [n["node_id"] for n in _cluster(first)["nodes"]] == [_node_id(first)]
    finally:
        for node in nodes:
            node.stop()
