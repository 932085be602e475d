"""whatsmeow devices on two nodes of one PostgreSQL database (CONTRACT §9), real server
processes, the engine's workers on the neonize stand-in (tests/support/fake_neonize.py, on
whatsmeow's shared PostgreSQL store): devices linked on one node spread to the other when it
joins; a frozen node's workers close their sessions by themselves before the other node
opens them (fencing at the engine's edge); a node killed with SIGKILL has its devices
resumed elsewhere from the shared store, without a new link. Every accepted message is sent;
on whatsmeow the one message in flight on a node that died may go twice (neonize cannot
send with a chosen id, CONTRACT §9), and the test allows that and nothing more."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Traffic, devices_owned, outbound, wait_explained
from tests.support.databases import DatabaseProvider
from tests.support.fake_neonize import read_jsonl
from tests.support.harness import GatewayServer, wait_until
from wagateway.engines.whatsmeow import neonize_loader

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not neonize_loader.available(), reason=neonize_loader.missing() or ""),
]

LEASE = 3.0
DEVICES = 4
TO = "6285550001111"


def _devices(api: httpx.Client) -> dict[str, dict]:
    return {d["device_id"]: d for d in api.get("/devices").json()["devices"]}


def _all_online(api: httpx.Client) -> bool:
    listed = _devices(api)
    return len(listed) == DEVICES and all(d["connection"] == "online" for d in listed.values())


def _overlaps(records: list[dict], dead_at: dict[int, float]) -> list[str]:
    """Times when one device had live sessions in two processes at once, as WhatsApp's
    servers saw them. A process killed holding a session held it until it died."""
    problems = []
    for device in {r["device"] for r in records}:
        live: dict[int, float] = {}  # pid -> opened at
        for record in sorted((r for r in records if r["device"] == device), key=lambda r: r["at"]):
            for pid in [p for p in live if dead_at.get(p, float("inf")) <= record["at"]]:
                del live[pid]  # its process was gone by then
            if record["change"] == "open":
                others = [p for p in live if p != record["pid"]]
                if others:
                    problems.append(f"{device}: opened by {record['pid']} while {others} held it")
                live[record["pid"]] = record["at"]
            else:
                live.pop(record["pid"], None)
    return problems


def test_whatsmeow_devices_move_by_their_shared_sessions_and_are_fenced_at_the_engine(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("whatsmeow-cluster-db"))
    network = tmp_path_factory.mktemp("fake-network")
    env = {
        **shared_media,
        "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
        "WAGW_DEVICE_LEASE_SECONDS": str(LEASE),
        "WAGW_PACING_RATE_PER_SECOND": "0",
        "WAGW_SEND_POLL_INTERVAL": "0.2",
        "WAGW_WHATSMEOW_CLIENT_FACTORY": "tests.support.fake_neonize:auto_linking_client",
        "WAGW_QR_WAIT_TIMEOUT": "60",
        "FAKE_NEONIZE_DIR": str(network),
    }
    a, b = (
        GatewayServer(tmp_path_factory.mktemp(f"node-{name}"), url, extra_env=dict(env))
        for name in "ab"
    )
    dead_at: dict[int, float] = {}  # worker pid -> when its node was killed
    try:
        a.start()
        creds = a.create_app("moving phones", "", "--engine", "whatsmeow")
        api_a, api_b = a.client(creds["app_token"]), b.client(creds["app_token"])
        for n in range(DEVICES):  # linked while node A is alone: it holds them all
            assert api_a.post("/devices", json={"device_name": f"desk {n}"}).status_code == 201
        wait_until(lambda: _all_online(api_a), timeout=60, what="all linked by the fake phones")
        accounts = {i: d["wa_device_jid"] for i, d in _devices(api_a).items()}
        assert all(accounts.values()) and devices_owned(a) == DEVICES

        b.start()
        wait_until(
            lambda: [devices_owned(a), devices_owned(b)] == [2, 2],
            timeout=30,
            what="devices spread",
        )
        wait_until(lambda: _all_online(api_a), timeout=30, what="moved devices online")

        traffic = Traffic(sorted(accounts), [api_a, api_b], to=TO).start()
        try:
            time.sleep(1.5)
            # B frozen: its workers run on, and close B's sessions when B's hold lapses, before
            # A may open them.
            traffic.route_to(api_a)
            assert b.proc is not None
            b.proc.send_signal(signal.SIGSTOP)
            try:
                wait_explained(
                    url,
                    [a],
                    lambda: devices_owned(a) == DEVICES,
                    timeout=30,
                    what="a frozen node's devices",
                )
                wait_explained(
                    url, [a], lambda: _all_online(api_a), timeout=30, what="taken devices online"
                )
            finally:
                b.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: "cluster_node_expelled" in b.logs(), timeout=30, what="b expelled")
            wait_until(lambda: devices_owned(b) > 0, timeout=30, what="b has a share again")
            wait_until(lambda: _all_online(api_a), timeout=30, what="devices online again")

            # A killed: B resumes A's devices from the shared store.
            traffic.route_to(api_b)
            workers_of_a = [w["pid"] for w in _workers(a)]
            a.kill9()
            died = time.monotonic()
            for pid in workers_of_a:
                dead_at[pid] = time.time()
            wait_until(
                lambda: devices_owned(b) == DEVICES and _all_online(api_b),
                timeout=30,
                interval=0.2,
                what="the dead node's devices resumed on b",
            )
            took = time.monotonic() - died
            print(f"whatsmeow takeover after SIGKILL: {took:.1f} s (lease {LEASE:g} s)")
            assert took < 2 * LEASE + 3, took
            time.sleep(1)
        finally:
            traffic.stop()
        # What was accepted, by its text (the fake phones' record of what they were sent).
        accepted = [
            outbound(api_b, device_id)[message_id]["content"]["text"]
            for device_id, message_ids in traffic.accepted.items()
            for message_id in message_ids
        ]

        # No new link anywhere: each device is the account it was linked as.
        assert {i: d["wa_device_jid"] for i, d in _devices(api_b).items()} == accounts
        sessions = read_jsonl(network / "sessions.jsonl")
        assert sum(1 for s in sessions if s["linked"]) == DEVICES, "a device was linked again"
        assert {s["device"] for s in sessions if s["change"] == "open"} == set(accounts)
        # Never two live sessions of a device: the frozen node's workers closed theirs first.
        assert _overlaps(sessions, dead_at) == []
        assert any(s["change"] == "close" for s in sessions), "nothing was fenced"

        def every_text_sent() -> bool:
            return set(accepted) <= {r["text"] for r in read_jsonl(network / "sent.jsonl")}

        assert len(accepted) > DEVICES * 5
        wait_until(every_text_sent, timeout=60, what="every accepted message sent")
        counts = Counter(r["text"] for r in read_jsonl(network / "sent.jsonl"))
        twice = [text for text, count in counts.items() if count > 1]
        # At most the message in flight of each device on the killed node.
        assert all(counts[text] == 2 for text in twice), counts.most_common(3)
        assert len(twice) <= DEVICES, twice
    finally:
        for node in (a, b):
            node.stop()
        for pid in dead_at:  # the killed node's workers died with it
            assert not _alive(pid), f"worker {pid} outlived its node"


def _workers(node: GatewayServer) -> list[dict]:
    health = httpx.get(node.base_url + "/health").json()
    return list(health["checks"]["engine:whatsmeow"]["workers"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
