"""The outbound queue's promises: nothing lost or doubled by a crash, pacing per device
without one device slowing another, TTL, WhatsApp's throttling, the daily cap."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

TO = "6281211112222"


def linked_devices(api: httpx.Client, count: int, prefix: str) -> list[str]:
    ids = []
    for i in range(count):
        created = create_device(api, f"{prefix} {i}")
        scan(api, created["qr"], phone=f"62812000{i:05d}")
        ids.append(created["device_id"])
    return ids


def all_messages(api: httpx.Client, device_id: str) -> list[dict]:
    found, cursor = [], None
    while True:
        params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/devices/{device_id}/messages", params=params).json()
        found += page["messages"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sent_times(messages: list[dict]) -> list[datetime]:
    return sorted(parse_time(m["sent_at"]) for m in messages)


def test_kill9_with_500_queued_messages_loses_and_doubles_nothing(make_server) -> None:
    gateway: GatewayServer = make_server()
    creds = gateway.create_app("crash queue")
    gateway.start()
    per_device, devices = 50, 10
    with gateway.client(creds["app_token"]) as api:
        ids = linked_devices(api, devices, "bulk")
        for device_id in ids:  # slow enough that most of the queue is still there at the kill
            api.patch(f"/devices/{device_id}", json={"pacing": {"rate_per_second": 5, "jitter": 0}})

    def enqueue(device_id: str) -> list[str]:
        with gateway.client(creds["app_token"]) as client:
            return [
                client.post(f"/devices/{device_id}/messages", json={"to": TO, "text": f"n{i}"})
                .raise_for_status()
                .json()["message_id"]
                for i in range(per_device)
            ]

    t0 = time.time()
    with ThreadPoolExecutor(devices) as pool:
        accepted = dict(zip(ids, pool.map(enqueue, ids), strict=True))
    print(f"enqueued {per_device * devices} in {time.time() - t0:.1f}s")
    assert sum(len(v) for v in accepted.values()) == per_device * devices
    gateway.kill9()
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        before = sum(len(api.get(f"/sandbox/devices/{d}/received").json()["received"]) for d in ids)
        assert before < per_device * devices, "the crash must come while messages are still queued"

        def all_sent() -> bool:
            return all(
                len(api.get(f"/sandbox/devices/{d}/received").json()["received"]) == per_device
                for d in ids
            )

        t1 = time.time()
        try:
            wait_until(all_sent, timeout=60, interval=0.5, what="every message received")
        except AssertionError as exc:  # say where it stopped: which devices, in which state
            stuck = {}
            for device_id in ids:
                received = api.get(f"/sandbox/devices/{device_id}/received").json()["received"]
                if len(received) != per_device:
                    statuses = Counter(m["status"] for m in all_messages(api, device_id))
                    stuck[device_id] = (len(received), dict(statuses))
            raise AssertionError(f"{exc}; devices short of {per_device}: {stuck}") from exc
        print(f"before={before} drained in {time.time() - t1:.1f}s")
        resent = 0
        for device_id in ids:
            messages = all_messages(api, device_id)
            assert {m["message_id"] for m in messages} == set(accepted[device_id])
            assert all(m["status"] in ("sent", "delivered", "read") for m in messages)
            received = api.get(f"/sandbox/devices/{device_id}/received").json()["received"]
            # exactly once in the network's own record: one entry per WhatsApp id, and
            # the ids are exactly those of the accepted messages
            assert sorted(r["wa_message_id"] for r in received) == sorted(
                m["wa_message_id"] for m in messages
            )
            resent += sum(r["times_received"] - 1 for r in received)
        assert resent <= devices, "only a message in flight at the crash may be sent twice"


def test_pacing_is_per_device_and_never_faster_than_the_rate(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    paced, unpaced = linked_devices(api, 2, "pace")
    api.patch(f"/devices/{paced}", json={"pacing": {"rate_per_second": 2, "jitter": 0.3}})
    api.patch(f"/devices/{unpaced}", json={"pacing": {"rate_per_second": 0}})
    for i in range(20):
        for device_id in (paced, unpaced):
            api.post(f"/devices/{device_id}/messages", json={"to": TO, "text": f"p{i}"})
    unpaced_messages = wait_until(
        lambda: (
            (found := all_messages(api, unpaced)) and all(m["sent_at"] for m in found) and found
        ),
        what="unpaced device done",
    )
    assert not all(m["sent_at"] for m in all_messages(api, paced)), "the paced one is still going"
    # Fairness on the server's own clock, so a slow machine posting slowly cannot blur it:
    # the unpaced device sent its last message right after accepting it, not at the
    # paced device's 2 msg/s.
    last_accepted = max(parse_time(m["created_at"]) for m in unpaced_messages)
    lag = (sent_times(unpaced_messages)[-1] - last_accepted).total_seconds()
    assert lag < 2.0, f"a paced device must not hold another device back ({lag:.2f} s)"
    messages = wait_until(
        lambda: (found := all_messages(api, paced)) and all(m["sent_at"] for m in found) and found,
        timeout=30,
        what="paced device done",
    )
    times = sent_times(messages)
    gaps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
    assert (times[-1] - times[0]).total_seconds() >= 9.0  # 19 gaps of at least 0.5 s
    assert gaps[0] >= 0.49, "jitter only ever adds delay"
    # Jitter adds at most 30 %; a loaded machine may add a late wake-up to a few gaps, so
    # the bound is held by the typical gap (the median), not by the single worst one.
    assert gaps[len(gaps) // 2] <= 0.5 * 1.3 + 0.1, gaps


def test_daily_cap_holds_the_rest_with_a_warning(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    [device_id] = linked_devices(api, 1, "capped")
    api.patch(f"/devices/{device_id}", json={"pacing": {"daily_cap": 2}})
    for i in range(4):
        api.post(f"/devices/{device_id}/messages", json={"to": TO, "text": f"c{i}"})
    warning = receiver.wait_for(device_id, "device_warning")[0].json["payload"]
    assert warning["code"] == "daily_cap_reached"
    time.sleep(1.0)
    statuses = sorted(m["status"] for m in all_messages(api, device_id))
    assert statuses.count("queued") == 2 and len(statuses) == 4


def test_provider_rate_limit_backs_off_and_sends_later(
    make_server, receiver: WebhookReceiver
) -> None:
    gateway: GatewayServer = make_server(WAGW_SANDBOX_RATE_LIMIT_PER_MINUTE="3")
    creds = gateway.create_app("throttled", receiver.url)
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        [device_id] = linked_devices(api, 1, "throttled")
        ids = [
            api.post(f"/devices/{device_id}/messages", json={"to": TO, "text": f"t{i}"}).json()[
                "message_id"
            ]
            for i in range(6)
        ]
        messages = wait_until(
            lambda: (
                (found := all_messages(api, device_id))
                and all(m["status"] in ("sent", "delivered", "read") for m in found)
                and found
            ),
            timeout=20,
            what="all sent despite throttling",
        )
        assert {m["message_id"] for m in messages} == set(ids)
        assert max(m["attempts"] for m in messages) >= 2
        warning = receiver.wait_for(device_id, "device_warning")[0].json["payload"]
        assert warning["code"] == "provider_rate_limit"
        times = sent_times(messages)
        assert (times[3] - times[2]).total_seconds() >= 1.0, "the 4th waited for the window"


def test_queued_messages_expire_while_the_device_is_away(
    make_server, receiver: WebhookReceiver
) -> None:
    gateway: GatewayServer = make_server(
        WAGW_MESSAGE_TTL_SECONDS="1", WAGW_SANDBOX_RECONNECT_DELAY="300"
    )
    creds = gateway.create_app("ttl", receiver.url)
    gateway.start()
    with gateway.client(creds["app_token"]) as api:
        [device_id] = linked_devices(api, 1, "away")
        dropped = api.post(f"/sandbox/devices/{device_id}/drop").json()
        assert dropped["connection"] == "reconnecting"
        accepted = api.post(f"/devices/{device_id}/messages", json={"to": TO, "text": "later"})
        assert accepted.status_code == 202
        message_id = accepted.json()["message_id"]
        failed = wait_until(
            lambda: (
                (m := api.get(f"/devices/{device_id}/messages/{message_id}").json())["status"]
                == "failed"
                and m
            ),
            what="expiry",
        )
        assert failed["error"]["code"] == "expired" and failed["sent_at"] is None
        receipt = wait_until(
            lambda: [d for d in receiver.events(device_id, "receipt")],
            what="failed receipt",
        )[0].json["payload"]
        assert receipt["status"] == "failed" and receipt["error"]["code"] == "expired"
        assert api.get(f"/sandbox/devices/{device_id}/received").json()["received"] == []
