"""What the several-node end-to-end tests ask of their nodes (CONTRACT §9): how many devices a
node holds and its id, read from its `/health`, and whether devices are online."""

from __future__ import annotations

import httpx

from tests.support.harness import GatewayServer


def _cluster_check(node: GatewayServer) -> dict:
    return dict(httpx.get(node.base_url + "/health", timeout=5).json()["checks"]["cluster"])


def devices_owned(node: GatewayServer) -> int:
    return int(_cluster_check(node)["devices_owned"])


def node_id_of(node: GatewayServer) -> str:
    return str(_cluster_check(node)["node_id"])


def all_online(api: httpx.Client, ids: list[str]) -> bool:
    """Every one of these devices linked and online, as the node `api` talks to sees it."""
    return all(
        (d := api.get(f"/devices/{i}").json())["status"] == "connected"
        and d["connection"] == "online"
        for i in ids
    )
