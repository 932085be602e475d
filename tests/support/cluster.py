"""What the several-node end-to-end tests ask of their nodes (CONTRACT §9): how many devices a
node holds and its id, read from its `/health`, whether devices are online, and whether every
accepted message was sent."""

from __future__ import annotations

import httpx

from tests.support.harness import GatewayServer, wait_until


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


def outbound(api: httpx.Client, device_id: str) -> dict[str, dict]:
    """The device's messages by id: a page of many per call, not a call per message."""
    found: dict[str, dict] = {}
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/devices/{device_id}/messages", params=params).json()
        found |= {m["message_id"]: m for m in page["messages"]}
        if not (cursor := page["next_cursor"]):
            return found


def unsent(api: httpx.Client, accepted: dict[str, list[str]]) -> list[dict]:
    """The accepted messages (by device) not sent yet, as the node `api` talks to sees them."""
    left = []
    for device_id, messages in accepted.items():
        listed = outbound(api, device_id)
        left += [
            listed.get(m, {"message_id": m, "device_id": device_id, "status": "missing"})
            for m in messages
            if listed.get(m, {}).get("status") not in ("sent", "delivered", "read")
        ]
    return left


def wait_all_sent(api: httpx.Client, accepted: dict[str, list[str]], timeout: float = 60) -> None:
    """Wait until every accepted message is sent; else fail naming those that are not."""
    try:
        wait_until(
            lambda: not unsent(api, accepted),
            timeout=timeout,
            interval=0.5,
            what="every accepted message sent",
        )
    except AssertionError:
        for message in unsent(api, accepted):  # what was left, for the failure's report
            print(
                "not sent:",
                {
                    k: message.get(k)
                    for k in (
                        "device_id",
                        "message_id",
                        "status",
                        "error",
                        "attempts",
                        "updated_at",
                    )
                },
            )
        raise
