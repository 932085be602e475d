"""History import must not stall other devices (issue 18): another device's send latency
while one device imports a large history, against the same device's latency just before,
in the same run, on a real `wagateway serve` (sandbox engine, time scale 0).

Method:
- One server (SQLite, or `--database-url`), a webhook receiver (tests/support/harness.py),
  one app, two linked sandbox devices: `importer` with `history_sync`, `sender` without;
  WAGW_HISTORY_MAX_MESSAGES is raised to the history's size so all of it is imported.
- Send latency of one message: from just before its `POST /devices/{id}/messages` to the
  arrival of its `read` receipt webhook (time scale 0: the sandbox reads at once; API,
  queue, engine, database and webhook dispatcher included) at messaging.py's receiver, an
  aiohttp server in a process of its own (so the receiver's work does not slow the client's).
  Messages go to `sender` open loop at `--rate` per second.
- Before and after: `--messages` sends each on a quiet gateway (their p99 together is the
  baseline, so one hiccup of a busy machine in either does not decide it). During: the same
  rate while
  `POST /sandbox/devices/{importer}/history` makes the network send `--chats` x
  `--per-chat` messages and the gateway imports them (the call answers once all is written);
  sending goes on until that call answered and at least `--messages` were sent.
- Printed: p50 / p99 / max of each phase, the ratio of the p99 during the import to the
  quiet p99 (the target: at most 1.5), and the import's own rate.

    .venv/bin/python benchmarks/history_fairness.py                  # 100 x 200 = 20,000
    .venv/bin/python benchmarks/history_fairness.py --database-url postgresql+asyncpg://…
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from messaging import Receiver  # noqa: E402

from tests.e2e.test_device_flow import scan_current_qr  # noqa: E402
from tests.support.harness import GatewayServer, wait_until  # noqa: E402

RECIPIENT = "6281299990001"  # the sandbox: numbers ending in 00 never read


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def send_for(
    api: httpx.Client, device_id: str, rate: float, until: threading.Event, at_least: int
) -> dict[str, float]:
    """Open-loop sends to `device_id`: {message_id: the time just before its POST}."""
    started: dict[str, float] = {}
    start = time.monotonic()
    n = 0
    while n < at_least or not until.is_set():
        due = start + n / rate
        time.sleep(max(0.0, due - time.monotonic()))
        posted = time.time()
        response = api.post(
            f"/devices/{device_id}/messages", json={"to": RECIPIENT, "text": f"m{n}"}
        )
        assert response.status_code == 202, response.text
        started[response.json()["message_id"]] = posted
        n += 1
    return started


def latencies(receiver: Receiver, started: dict[str, float]) -> list[float]:
    def read_receipts() -> dict[str, float]:
        reads = httpx.get(f"{receiver.base_url}/reads").json()["read"]
        return {m: float(reads[m]) for m in started if m in reads}

    arrived = wait_until(
        lambda: (found := read_receipts()) and len(found) == len(started) and found,
        timeout=120,
        what="every message's read receipt",
    )
    return [arrived[m] - started[m] for m in started]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name}: n={len(values)} p50 {statistics.median(values) * 1000:.1f} ms, "
        f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--per-chat", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="sends per second")
    parser.add_argument("--messages", type=int, default=300, help="sends in each phase")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    total = args.chats * args.per_chat

    receiver = Receiver().__enter__()
    data_dir = Path(tempfile.mkdtemp(prefix="wagw-history-"))
    env = {"WAGW_HISTORY_MAX_MESSAGES": str(total), "WAGW_SANDBOX_TIME_SCALE": "0"}
    server = GatewayServer(data_dir, args.database_url, extra_env=env).start()
    try:
        creds = server.create_app("history bench", receiver.url)
        with server.client(creds["app_token"]) as api:
            importer = api.post("/devices", json={"device_name": "importer", "history_sync": True})
            sender = api.post("/devices", json={"device_name": "sender"})
            importer_id, sender_id = importer.json()["device_id"], sender.json()["device_id"]
            for device_id in (importer_id, sender_id):
                scan_current_qr(api, device_id)
            warm = threading.Event()
            warm.set()
            latencies(receiver, send_for(api, sender_id, args.rate, warm, 20))

            quiet = threading.Event()
            quiet.set()
            before = latencies(receiver, send_for(api, sender_id, args.rate, quiet, args.messages))

            imported = threading.Event()
            took: list[float] = []

            failed: list[str] = []

            def import_history() -> None:
                try:
                    with server.client(creds["app_token"]) as own:
                        begun = time.monotonic()
                        response = own.post(
                            f"/sandbox/devices/{importer_id}/history",
                            json={"chats": args.chats, "messages_per_chat": args.per_chat},
                            timeout=600,
                        )
                        took.append(time.monotonic() - begun)
                        if response.status_code != 202:
                            failed.append(response.text)
                finally:
                    imported.set()

            worker = threading.Thread(target=import_history)
            worker.start()
            during = latencies(
                receiver, send_for(api, sender_id, args.rate, imported, args.messages)
            )
            worker.join()
            if failed:
                raise SystemExit(f"the import failed: {failed[0]}")
            after = latencies(receiver, send_for(api, sender_id, args.rate, quiet, args.messages))
            stored = api.get(f"/devices/{importer_id}/chats", params={"limit": 200}).json()
    finally:
        server.stop()
        receiver.__exit__()

    print(f"history: {total} messages in {args.chats} chats; sends at {args.rate:g}/s")
    quiet_samples = before + after
    print(summary("before (quiet)", before))
    print(summary("during the import", during))
    print(summary("after (quiet)", after))
    print(
        f"import: {took[0]:.2f} s ({total / took[0]:.0f} messages/s), chats listed {len(stored['chats'])}"
    )
    ratio = percentile(during, 0.99) / percentile(quiet_samples, 0.99)
    print(f"p99 during / quiet (before and after): {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
