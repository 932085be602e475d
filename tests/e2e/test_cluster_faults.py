"""Faults of several nodes on one PostgreSQL database (CONTRACT §9, issue 20's "must be
shown"), with real server processes on loopback: a node cut off from the database by a
network partition (a TCP proxy that black-holes its connections) stops its sessions before
another node may take its devices, and comes back by itself once the network heals."""

from __future__ import annotations

import itertools
import json
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.test_device_flow import create_device, scan
from tests.support.cluster import (
    Traffic,
    all_online,
    devices_owned,
    node_id_of,
    outbound,
    wait_all_sent,
    wait_explained,
)
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from tests.support.private_postgres import PrivatePostgres
from tests.support.tcp_proxy import TcpProxy
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings

pytestmark = pytest.mark.e2e

LEASE = 3.0
DEVICES = 6


def _env(shared_media: dict[str, str]) -> dict[str, str]:
    return {
        **shared_media,
        "WAGW_SECRET_KEY": secrets.token_urlsafe(32),
        "WAGW_DEVICE_LEASE_SECONDS": str(LEASE),
        "WAGW_PACING_RATE_PER_SECOND": "0",
        "WAGW_SEND_POLL_INTERVAL": "0.2",
    }


def _linked_then_spread(
    first: GatewayServer,
    second: GatewayServer,
    receiver: WebhookReceiver,
    app_name: str,
    phone_prefix: str,
) -> tuple[dict[str, str], list[str]]:
    """`first` starts alone and links DEVICES devices (it holds them all); then `second`
    starts, takes half, and every device is online again. The app's credentials and the
    device ids."""
    first.start()
    creds = first.create_app(app_name, receiver.url)
    api = first.client(creds["app_token"])
    ids = []
    for n in range(DEVICES):
        created = create_device(api, f"desk {n}")
        scan(api, created["qr"], phone=f"{phone_prefix}{n:05d}")
        ids.append(created["device_id"])
    wait_until(lambda: all_online(api, ids), what="all linked")
    second.start()
    half = DEVICES // 2
    wait_until(
        lambda: [devices_owned(first), devices_owned(second)] == [half, half],
        timeout=30,
        what="spread",
    )
    wait_until(lambda: all_online(api, ids), timeout=30, what="moved devices online")
    return creds, ids


def _logged(node: GatewayServer, event: str) -> list[dict[str, Any]]:
    """The node's log lines (JSON) of `event`, oldest first."""
    found = []
    for line in node.logs().splitlines():
        if f'"{event}"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


def _ts(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("inf")


def _at(entry: dict[str, Any]) -> float:
    return _ts(entry["timestamp"])


class SessionWatch:
    """Reads every device's session record through one node, over and over: each read
    settles which open sessions are still live (their node's witness connection holds
    them), so a session whose node lost its connection is closed within one round of it.
    Any round that shows two live sessions of one device is kept."""

    def __init__(self, api: httpx.Client, ids: list[str]) -> None:
        self._api = api
        self._ids = ids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self.rounds = 0
        self.overlaps: list[tuple[str, list[dict[str, Any]]]] = []

    def start(self) -> SessionWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for device_id in self._ids:
                sessions = self._api.get(f"/sandbox/devices/{device_id}/sessions").json()
                live = [s for s in sessions["sessions"] if s["closed_at"] is None]
                if len(live) > 1:
                    self.overlaps.append((device_id, live))
            self.rounds += 1
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def _check_delivered(api: httpx.Client, accepted: dict[str, list[str]]) -> dict[str, int]:
    """Every accepted message is sent, and the simulated network received each WhatsApp id
    exactly the accepted ones; how many times each id was received."""

    wait_all_sent(api, accepted)
    times: dict[str, int] = {}
    for device_id, messages in accepted.items():
        listed = outbound(api, device_id)
        wa_ids = sorted(listed[m]["wa_message_id"] for m in messages)
        received = api.get(f"/sandbox/devices/{device_id}/received").json()["received"]
        assert sorted(r["wa_message_id"] for r in received) == wa_ids, device_id
        times.update({r["wa_message_id"]: r["times_received"] for r in received})
    return times


def test_a_node_cut_off_from_the_database_stops_its_sessions_before_its_devices_move(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("partition-db"))
    direct = make_url(url)
    proxy = TcpProxy(direct.port or 5432, direct.host or "127.0.0.1").start()
    through_proxy = direct.set(port=proxy.port).render_as_string(hide_password=False)
    env = _env(shared_media)
    a = GatewayServer(tmp_path_factory.mktemp("node-a"), url, extra_env=dict(env))
    b = GatewayServer(tmp_path_factory.mktemp("node-b"), through_proxy, extra_env=dict(env))
    receiver = WebhookReceiver().start()
    try:
        creds, ids = _linked_then_spread(a, b, receiver, "partition", "62812200")
        api_a = a.client(creds["app_token"])
        half = DEVICES // 2
        api_b = b.client(creds["app_token"])
        b_node = node_id_of(b)
        traffic = Traffic(ids, [api_a, api_b]).start()
        watch = SessionWatch(a.client(creds["app_token"]), ids).start()
        time.sleep(1.5)

        # The partition: b's every database connection (its pool, its signals, its session
        # witness) goes silent. Calls go to a only: one b accepted just before the cut could
        # not answer.
        traffic.route_to(api_a)
        proxy.blackhole()
        cut = time.time()
        wait_until(
            lambda: _logged(b, "cluster_sessions_stopped"), timeout=3 * LEASE, what="b fenced"
        )
        wait_explained(
            url,
            [a],
            lambda: devices_owned(a) == DEVICES and all_online(api_a, ids),
            timeout=6 * LEASE,
            interval=0.1,
            what="b's devices owned and online on a",
        )
        took = time.time() - cut
        # Cut off, b stops acting for its devices and closes their sessions two thirds of a
        # lease after its last beat began (the watchdog, without the database); a takes
        # them only once that beat is a whole lease old by the database's clock.
        [hold_lost] = _logged(b, "cluster_hold_lost")
        [stopped] = _logged(b, "cluster_sessions_stopped")
        taken = [e for e in _logged(a, "devices_taken") if _at(e) > cut]
        assert stopped["devices"] == hold_lost["devices"] == DEVICES - half
        assert taken and sum(e["count"] for e in taken) == DEVICES - half
        print(
            f"after the cut: b's hold lost {_at(hold_lost) - cut:.2f} s, its sessions closed "
            f"{_at(stopped) - cut:.2f} s, a took them {_at(taken[0]) - cut:.2f} s, all online "
            f"on a {took:.2f} s (lease {LEASE:g} s)"
        )
        assert _at(stopped) < _at(taken[0]), "b's sessions outlived its hold"
        assert _at(stopped) - cut < LEASE
        # The lease, up to a beat for a to notice, and the restore: within two leases.
        assert took < 2 * LEASE + 2, took
        time.sleep(1)

        # Healed, b finds itself expelled, drops what it held, joins as a new instance and
        # takes its share again.
        proxy.heal()
        healed = time.time()
        wait_until(
            lambda: _logged(b, "cluster_node_expelled"), timeout=4 * LEASE, what="b expelled"
        )
        wait_until(
            lambda: devices_owned(b) == half and devices_owned(a) == half,
            timeout=30,
            what="b's share back",
        )
        wait_until(lambda: all_online(api_a, ids), timeout=30, what="all online after the heal")
        print(f"b back with its share {time.time() - healed:.1f} s after the heal")
        assert len(_logged(b, "cluster_joined")) == 2
        sent_before_heal = {d: len(m) for d, m in traffic.accepted.items()}
        traffic.route_to(api_a, api_b)
        time.sleep(1.5)
        traffic.stop()
        watch.stop()

        times = _check_delivered(api_a, traffic.accepted)
        # What was accepted after the heal went out once (b sends nothing a sent already).
        for device_id, messages in traffic.accepted.items():
            for message_id in messages[sent_before_heal[device_id] :]:
                wa_id = api_a.get(f"/devices/{device_id}/messages/{message_id}").json()[
                    "wa_message_id"
                ]
                assert times[wa_id] == 1, (device_id, message_id)
        print("received more than once:", {k: v for k, v in times.items() if v > 1})
        assert traffic.total_accepted() > 20 * DEVICES // 2

        # The simulated WhatsApp never saw two live sessions of a device: not at any of the
        # watch's reads (each settles which sessions are still live), not in the record.
        assert watch.rounds > 10
        assert watch.overlaps == []
        for device_id in ids:
            sessions = api_a.get(f"/sandbox/devices/{device_id}/sessions").json()["sessions"]
            assert [s for s in sessions if s["close_reason"] == "replaced"] == []
            assert [s for s in sessions if s["closed_at"] is None] == sessions[-1:]
            for before, after in itertools.pairwise(sessions):
                assert _ts(before["closed_at"]) <= _ts(after["opened_at"]), (device_id, sessions)
            # b's sessions open at the cut ended as its connection did.
            cut_off = [
                s
                for s in sessions
                if s["node_id"] == b_node and _ts(s["opened_at"]) < cut < _ts(s["closed_at"])
            ]
            assert all(s["close_reason"] == "connection_lost" for s in cut_off), sessions
    finally:
        proxy.heal()
        for node in (a, b):
            node.stop()
        proxy.stop()
        receiver.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    server = PrivatePostgres()
    try:
        yield server.start()
    finally:
        server.remove()


def _healthy(node: GatewayServer) -> bool:
    try:
        answer = httpx.get(node.base_url + "/health", timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json()["status"] == "ok"


def test_postgresql_restarted_under_load_loses_nothing_and_every_node_recovers(
    private_postgres: PrivatePostgres,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = private_postgres.url()
    upgrade_to_head(Settings(database_url=url).resolved_database_url, quiet=True)  # type: ignore[call-arg]
    env = _env(shared_media)
    a = GatewayServer(tmp_path_factory.mktemp("node-a"), url, extra_env=dict(env))
    b = GatewayServer(tmp_path_factory.mktemp("node-b"), url, extra_env=dict(env))
    receiver = WebhookReceiver().start()
    try:
        creds, ids = _linked_then_spread(a, b, receiver, "restart", "62812300")
        api_a = a.client(creds["app_token"])
        api_b = b.client(creds["app_token"])
        traffic = Traffic(ids, [api_a, api_b], strict=False).start()
        time.sleep(1.5)

        # The database goes away under load (every connection closed), stays down a few
        # seconds, and comes back.
        down = time.time()
        private_postgres.restart(down_for=3)
        up = time.time()
        print(f"PostgreSQL down {up - down:.1f} s")
        wait_until(
            lambda: _healthy(a) and _healthy(b), timeout=30, interval=0.2, what="nodes healthy"
        )
        wait_until(
            lambda: devices_owned(a) + devices_owned(b) == DEVICES and all_online(api_a, ids),
            timeout=30,
            interval=0.2,
            what="every device owned and online again",
        )
        recovered = time.time()
        print(f"recovered {recovered - up:.1f} s after PostgreSQL came back")
        at_recovery = {d: len(m) for d, m in traffic.accepted.items()}
        time.sleep(1.5)  # sends work again, through both nodes
        traffic.stop()
        # A call the database's absence failed is answered 503 in the envelope, with
        # Retry-After: never a 500, never a dropped connection.
        answers = {
            (status, body and json.loads(body)["error"]["code"], after)
            for _, status, body, after in traffic.refused
        }
        print(f"{len(traffic.refused)} calls refused during the outage: {answers}")
        assert answers <= {(503, "internal_error", "1")}, traffic.refused[:3]
        for at, _, body, _ in traffic.refused:
            assert json.loads(body)["error"]["details"] == {"reason": "database_unavailable"}
            assert down - 1 < at < recovered, (at - down, body)

        # Nothing accepted is lost, and each goes out once.
        times = _check_delivered(api_a, traffic.accepted)
        assert set(times.values()) == {1}, {k: v for k, v in times.items() if v > 1}
        # New sends work once it is back: every device had messages accepted (and sent).
        assert all(len(traffic.accepted[d]) > at_recovery[d] for d in ids)
    finally:
        for node in (a, b):
            node.stop()
        receiver.stop()


def _messages_on_the_network(api: httpx.Client, ids: list[str]) -> dict[str, list[tuple]]:
    """Every send attempt the simulated network logged, per device: (WhatsApp id, when)."""
    return {
        device_id: [
            (entry["wa_message_id"], entry["at"])
            for entry in api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
            if entry["kind"] == "message"
        ]
        for device_id in ids
    }


def test_a_frozen_node_sends_nothing_for_the_devices_it_lost_and_stops_their_sessions_at_once(
    postgresql: DatabaseProvider,
    tmp_path_factory: pytest.TempPathFactory,
    shared_media: dict[str, str],
) -> None:
    url = postgresql.migrated_url(tmp_path_factory.mktemp("freeze-db"))
    env = _env(shared_media)
    a = GatewayServer(tmp_path_factory.mktemp("node-a"), url, extra_env=dict(env))
    c = GatewayServer(tmp_path_factory.mktemp("node-c"), url, extra_env=dict(env))
    receiver = WebhookReceiver().start()
    try:
        creds, ids = _linked_then_spread(a, c, receiver, "freeze", "62812400")
        api_a = a.client(creds["app_token"])
        half = DEVICES // 2
        c_node = node_id_of(c)
        api_c = c.client(creds["app_token"])
        traffic = Traffic(ids, [api_a, api_c]).start()
        time.sleep(1.5)

        # c freezes with its devices' sends under way; a takes them over.
        traffic.route_to(api_a)
        assert c.proc is not None
        c.proc.send_signal(signal.SIGSTOP)
        frozen = time.time()
        try:
            wait_explained(
                url,
                [a],
                lambda: devices_owned(a) == DEVICES and all_online(api_a, ids),
                timeout=6 * LEASE,
                interval=0.1,
                what="a frozen node's devices owned and online elsewhere",
            )
            print(f"takeover after SIGSTOP: {time.time() - frozen:.1f} s")
            # Quiet: everything accepted so far is sent (by a), so any send from now on
            # would be c acting for devices it lost.
            traffic.route_to()
            _check_delivered(api_a, traffic.accepted)
            before = _messages_on_the_network(api_a, ids)
        finally:
            c.proc.send_signal(signal.SIGCONT)
        thawed = time.time()
        wait_until(lambda: _logged(c, "cluster_sessions_stopped"), timeout=10, what="c fenced")
        wait_until(lambda: _logged(c, "cluster_node_expelled"), timeout=10, what="c expelled")
        [hold_lost] = _logged(c, "cluster_hold_lost")
        [stopped] = _logged(c, "cluster_sessions_stopped")
        print(
            f"after SIGCONT: c's hold lost {_at(hold_lost) - thawed:.2f} s, its sessions "
            f"closed {_at(stopped) - thawed:.2f} s"
        )
        # At once: the watchdog runs as soon as the process does, before anything else of
        # it could act (each send checks the hold itself).
        assert stopped["devices"] == half
        assert frozen < _at(stopped) < thawed + 1.5
        wait_until(lambda: devices_owned(c) == half, timeout=30, what="c's share back")
        wait_until(lambda: all_online(api_a, ids), timeout=30, what="all online again")
        time.sleep(1)
        # Nothing more went out for the devices c lost. The network's log may still gain
        # a send c had handed over before it froze (its record, written by c's group
        # commit, lands when c runs again: the id a sent again, which recipients dedupe),
        # but no send made after the freeze: not one of c's queue, not a retry.
        after = _messages_on_the_network(api_a, ids)
        new = {d: after[d][len(before[d]) :] for d in ids if after[d] != before[d]}
        assert after == {d: before[d] + new.get(d, []) for d in ids}
        late = [(d, wa_id, _ts(at) - frozen) for d, entries in new.items() for wa_id, at in entries]
        print("handed over before the freeze, logged after the thaw:", late)
        # (0.1 s: the signal stops c a moment after `frozen` is read; a send after the thaw
        # would be seconds later.)
        assert all(seconds < 0.1 for _, _, seconds in late), late
        assert len(late) <= half  # one in flight per device at most
        # c's sessions from before the freeze are all closed: by its connection's end
        # while it was frozen, or by itself as soon as it ran.
        for device_id in ids:
            sessions = api_a.get(f"/sandbox/devices/{device_id}/sessions").json()["sessions"]
            assert [s for s in sessions if s["close_reason"] == "replaced"] == []
            old = [s for s in sessions if s["node_id"] == c_node and _ts(s["opened_at"]) < frozen]
            assert all(_ts(s["closed_at"]) < thawed + 1.5 for s in old), sessions

        traffic.route_to(api_a, api_c)
        time.sleep(1)
        traffic.stop()
        times = _check_delivered(api_a, traffic.accepted)
        print("received more than once:", {k: v for k, v in times.items() if v > 1})
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.proc.send_signal(signal.SIGCONT)
        for node in (a, c):
            node.stop()
        receiver.stop()
