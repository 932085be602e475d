"""Any node answers any call (CONTRACT §9), with two real server processes on one PostgreSQL
database: sandbox controls, queries, sends with `wait=true`, pairing codes and disconnects
made on the node that does not hold the device are carried out by the one that does; an
owner that does not answer in time makes the call 408 `request_canceled`."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time

import asyncpg
import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.support.cluster import node_id_of
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.cluster.signals import listen_dsn

pytestmark = pytest.mark.e2e

LEASE = 10.0  # a node frozen for a whole call keeps its devices (its hold lasts 6.7 s)
CALL_TIMEOUT = 3.0
CONTACT = "6281277770000"


def _owner_node(url: str, device_id: str) -> str | None:
    """The node id holding the device, read from the database the nodes share."""

    async def read() -> str | None:
        dsn = listen_dsn(url)
        assert dsn is not None
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(
                "SELECT o.node_id FROM device_owners o JOIN cluster_nodes n"
                " ON n.instance = o.instance WHERE o.device_id = $1",
                device_id,
            )
        finally:
            await conn.close()

    return asyncio.run(read())


def test_calls_made_on_any_node_reach_the_node_that_holds_the_device(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("calls-db"))
    env = {
        **shared_media,
        "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
        "WAGW_DEVICE_LEASE_SECONDS": str(LEASE),
        "WAGW_NODE_CALL_TIMEOUT": str(CALL_TIMEOUT),
        "WAGW_PACING_RATE_PER_SECOND": "0",
        # The owner's queue hears of work accepted elsewhere only by its signal: a send
        # waiting on a poll this long would fail the `wait=true` below.
        "WAGW_SEND_POLL_INTERVAL": "60",
        "WAGW_SEND_WAIT_TIMEOUT": "20",
    }
    a, b = (
        GatewayServer(tmp_path_factory.mktemp(f"node-{name}"), url, extra_env=dict(env))
        for name in "ab"
    )
    receiver = WebhookReceiver().start()
    try:
        a.start()
        b.start()
        creds = a.create_app("calls", receiver.url)
        api_a, api_b = a.client(creds["app_token"]), b.client(creds["app_token"])
        node_a = node_id_of(a)

        # A pairing window belongs to the node that opened it; the simulated phone scans
        # its QR through the other node.
        created = create_device(api_a, "desk")
        device_id = created["device_id"]
        assert _owner_node(url, device_id) == node_a
        linked = scan(api_b, created["qr"], phone="6281200000001")
        assert linked["status"] == "connected"
        assert _owner_node(url, device_id) == node_a

        # Queries and actions through B are carried out by A's session.
        r = api_b.post(
            f"/devices/{device_id}/groups", json={"subject": "Team", "participants": [CONTACT]}
        )
        assert r.status_code == 201, r.text
        group = r.json()["jid"]
        listed = api_b.get(f"/devices/{device_id}/groups").json()["groups"]
        assert group in [g["jid"] for g in listed]
        assert api_b.get(f"/devices/{device_id}/groups/{group}").json()["subject"] == "Team"

        # A contact writes (a sandbox control through B): the message event arrives.
        r = api_b.post(
            f"/sandbox/devices/{device_id}/inbound",
            json={"from": CONTACT, "type": "text", "text": "halo dari B"},
        )
        assert r.status_code == 202, r.text
        wait_until(
            lambda: any(
                e.json["payload"].get("text") == "halo dari B"
                for e in receiver.events(device_id, "message")
            ),
            what="the inbound message's event",
        )

        # A send accepted by B, waited for on B, is sent by A (woken by B's signal).
        started = time.monotonic()
        r = api_b.post(
            f"/devices/{device_id}/messages",
            params={"wait": "true"},
            json={"to": CONTACT, "text": "dikirim lewat B"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("sent", "delivered", "read")
        print(f"send accepted on B, sent by A, answered on B: {time.monotonic() - started:.2f} s")
        received = api_b.get(f"/sandbox/devices/{device_id}/received").json()["received"]
        assert r.json()["wa_message_id"] in {m["wa_message_id"] for m in received}

        # A pairing code asked of B for a window A opened, typed on the phone through B.
        second = create_device(api_a, "desk 2")
        r = api_b.post(
            f"/devices/{second['device_id']}/pairing-code", json={"phone": "6281200000002"}
        )
        assert r.status_code == 200, r.text
        code = r.json()["pairing_code"]
        assert code
        r = api_b.post("/sandbox/pair", json={"pairing_code": code})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "connected"

        # Two linked devices on two nodes: one each (the first node gave one back). From now
        # on `owner` holds the first device, and calls reach it through `other`.
        nodes = {node_a: a, node_id_of(b): b}
        wait_until(
            lambda: {_owner_node(url, d) for d in (device_id, second["device_id"])} == set(nodes),
            timeout=20,
            what="a device on each node",
        )
        owner_id = _owner_node(url, device_id)
        assert owner_id is not None
        owner = nodes[owner_id]
        other = b if owner is a else a
        api_other = other.client(creds["app_token"])

        # An owner that does not answer: 408, nothing done; then it answers again.
        assert owner.proc is not None
        owner.proc.send_signal(signal.SIGSTOP)
        try:
            r = api_other.get(f"/devices/{device_id}/groups")
        finally:
            owner.proc.send_signal(signal.SIGCONT)
        assert r.status_code == 408, r.text
        assert r.json()["error"]["code"] == "request_canceled"
        assert r.json()["error"]["details"]["device_id"] == device_id
        wait_until(
            lambda: api_other.get(f"/devices/{device_id}/groups").status_code == 200,
            what="the owner answering again",
        )

        # Disconnect through the other node: the owner's session ends (logged out), as on
        # one node.
        r = api_other.post(f"/devices/{device_id}/disconnect")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "disconnected"

        def logged_out() -> bool:
            log = api_b.get(f"/sandbox/devices/{device_id}/network").json()["network"]
            return any(e["kind"] == "disconnect" and e.get("reason") == "logged_out" for e in log)

        wait_until(logged_out, what="the owner's session of the device logged out")
        sessions = api_b.get(f"/sandbox/devices/{device_id}/sessions").json()["sessions"]
        assert [(s["node_id"], s["close_reason"]) for s in sessions][-1] == (owner_id, "logged_out")
        assert all(s["close_reason"] != "replaced" for s in sessions)
        r = api_b.post(
            f"/sandbox/devices/{device_id}/inbound",
            json={"from": CONTACT, "type": "text", "text": "too late"},
        )
        assert r.status_code == 409, r.text
        assert "cluster_hold_lost" not in a.logs() + b.logs()
    finally:
        for node in (a, b):
            node.stop()
        receiver.stop()
