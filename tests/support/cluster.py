"""What the several-node end-to-end tests ask of their nodes (CONTRACT §9): how many devices a
node holds and its id, read from its `/health`, whether devices are online, and whether every
accepted message was sent; `Traffic`, the messages a test sends through its nodes meanwhile."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from tests.support.databases import activity
from tests.support.harness import GatewayServer, wait_until

T = TypeVar("T")


def _cluster_check(node: GatewayServer) -> dict:
    return dict(httpx.get(node.base_url + "/health", timeout=5).json()["checks"]["cluster"])


def wait_explained(url: str, nodes: list[GatewayServer], check: Callable[[], T], **wait: Any) -> T:
    """`wait_until`, whose failure also says what the nodes were waiting for: each running
    one logs where its tasks wait (SIGUSR1, core/task_dump.py; its log ends the test's
    report), and the message lists what every connection to their database was doing."""
    try:
        return wait_until(check, **wait)
    except AssertionError as exc:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)  # the dumps written
        raise AssertionError(f"{exc}\n{activity(url)}") from exc


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


class Traffic:
    """Messages sent to the devices through the nodes a test routes them to (none: paused),
    each accepted one (202) kept per device in order. `strict`: any other answer fails the
    test; otherwise every other answer (and every failed call) is kept in `refused`."""

    def __init__(
        self,
        ids: list[str],
        targets: list[httpx.Client],
        strict: bool = True,
        to: str = "6281299990000",
    ) -> None:
        self.ids = ids
        self.to = to
        self.targets = list(targets)
        self.strict = strict
        self.accepted: dict[str, list[str]] = {i: [] for i in ids}
        # (time, status or 0, body or error, Retry-After)
        self.refused: list[tuple[float, int, str, str | None]] = []
        self._stop = threading.Event()
        # A daemon: a test that fails before `stop` must not leave pytest waiting on it.
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.failure: str | None = None

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def total_accepted(self) -> int:
        return sum(len(messages) for messages in list(self.accepted.values()))

    def _run(self) -> None:
        for n in itertools.count():
            if self._stop.is_set():
                return
            targets = list(self.targets)
            if not targets:
                time.sleep(0.05)
                continue
            device_id = self.ids[n % len(self.ids)]
            api = targets[n % len(targets)]
            try:
                r = api.post(
                    f"/devices/{device_id}/messages", json={"to": self.to, "text": f"m{n}"}
                )
            except httpx.HTTPError as exc:
                self.refused.append((time.time(), 0, repr(exc), None))
                if self.strict:
                    self.failure = repr(exc)
                    return
                continue
            if r.status_code == 202:
                self.accepted[device_id].append(r.json()["message_id"])
            else:
                self.refused.append(
                    (time.time(), r.status_code, r.text, r.headers.get("retry-after"))
                )
                if self.strict:
                    self.failure = f"{r.status_code} {r.text}"
                    return
            time.sleep(0.02)

    def route_to(self, *apis: httpx.Client) -> None:
        """Send through these nodes only from now on (the call under way has its answer)."""
        self.targets[:] = apis
        time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert self.failure is None, self.failure
