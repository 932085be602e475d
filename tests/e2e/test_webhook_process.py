"""Webhooks are delivered from a worker process of the gateway's own
(delivery/worker_process.py): it is supervised (killed, it comes back and delivery goes on),
reports into the gateway's /health and /metrics, and can be turned off."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_webhook_delivery import deliveries, lifecycle_events
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings

pytestmark = pytest.mark.e2e


def webhook_workers(server_pid: int) -> list[int]:
    """Live child processes of the server running the webhook worker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == server_pid and fields[0] != "Z" and b"worker_process" in cmdline:
            found.append(int(stat.parent.name))
    return found


def dispatcher_ok(gateway: GatewayServer) -> bool:
    health = httpx.get(gateway.base_url + "/health", timeout=5).json()
    return bool(health["checks"]["webhook_dispatcher"]["ok"])


def attempts_counted(gateway: GatewayServer) -> float:
    metrics = httpx.get(gateway.base_url + "/metrics", timeout=5).text
    match = re.search(
        r'^wagateway_webhook_attempts_total\{outcome="success"\} (\S+)$', metrics, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_a_killed_webhook_worker_is_restarted_and_delivery_goes_on(make_server) -> None:
    receiver = WebhookReceiver().start()
    gateway: GatewayServer = make_server()
    creds = gateway.create_app("worker", receiver.url)
    gateway.start()
    try:
        assert gateway.proc is not None
        (first_worker,) = webhook_workers(gateway.proc.pid)
        assert dispatcher_ok(gateway)
        with gateway.client(creds["app_token"]) as api:
            before = lifecycle_events(api, "before the kill")
            receiver.wait_for(before, "device_disconnected")
            # The worker's attempts reach the gateway's own /metrics.
            wait_until(lambda: attempts_counted(gateway) >= 3, what="attempts in /metrics")

            os.kill(first_worker, signal.SIGKILL)
            wait_until(
                lambda: webhook_workers(gateway.proc.pid) not in ([], [first_worker]),
                timeout=20,
                what="a new webhook worker",
            )
            wait_until(lambda: dispatcher_ok(gateway), timeout=20, what="dispatcher healthy")
            after = lifecycle_events(api, "after the kill")
            receiver.wait_for(after, "device_disconnected")
            wait_until(
                lambda: all(d["state"] == "delivered" for d in deliveries(api)),
                what="every event recorded as delivered",
            )
        assert "webhook_process_exited" in gateway.logs()
    finally:
        receiver.stop()


def test_the_worker_stops_with_the_gateway_even_after_kill9(make_server) -> None:
    gateway: GatewayServer = make_server()
    gateway.start()
    assert gateway.proc is not None
    (worker,) = webhook_workers(gateway.proc.pid)
    gateway.kill9()
    # It dies with its gateway (the kernel kills it on Linux; elsewhere it sees the gateway's
    # end of the socket close, and exits).
    wait_until(
        lambda: not Path(f"/proc/{worker}").exists() or _zombie(worker),
        timeout=20,
        what="the orphaned worker to exit",
    )


# A stand-in gateway: starts a worker, hands the gateway's end of the socket to a sleeping
# process as well (so the worker sees no end of stream when this one dies), and exits.
_STAND_IN_GATEWAY = r"""
import asyncio, json, socket, subprocess, sys
from wagateway.core.settings import Settings
from wagateway.engines.workers.protocol import read_frame, write_frame

async def main():
    parent, child = socket.socketpair()
    worker = subprocess.Popen(
        [sys.executable, "-m", "wagateway.delivery.worker_process", "--fd", str(child.fileno())],
        pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(sys.argv[1], "w"),
    )
    child.close()
    keeper = subprocess.Popen(
        ["sleep", "120"], pass_fds=(parent.fileno(),),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    reader, writer = await asyncio.open_connection(sock=parent)
    write_frame(writer, {"settings": Settings().model_dump(mode="json")})
    await writer.drain()
    while (frame := await read_frame(reader)) is not None and "ready" not in frame:
        pass
    print(json.dumps({"worker": worker.pid, "keeper": keeper.pid, "ready": frame is not None}))

asyncio.run(main())
"""


def test_an_orphaned_worker_exits_even_while_its_socket_stays_open(tmp_path: Path) -> None:
    env = {**os.environ, "WAGW_DATA_DIR": str(tmp_path), "WAGW_LOG_FORMAT": "json"}
    upgrade_to_head(Settings(data_dir=tmp_path).resolved_database_url)
    worker_log = tmp_path / "worker.log"
    started = subprocess.run(
        [sys.executable, "-c", _STAND_IN_GATEWAY, str(worker_log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pids = json.loads(started.stdout.strip().splitlines()[-1])
    try:
        assert pids["ready"], started.stderr
        # Its gateway is gone but the socket is open (the keeper holds it): the worker
        # exits all the same. On Linux the kernel kills it with its parent
        # (`die_with_parent`); elsewhere it notices it was orphaned and exits by itself
        # (`webhook_process_orphaned`).
        wait_until(
            lambda: not Path(f"/proc/{pids['worker']}").exists() or _zombie(pids["worker"]),
            timeout=15,
            what="the orphaned worker to exit",
        )
        if not sys.platform.startswith("linux"):
            assert "webhook_process_orphaned" in worker_log.read_text()
    finally:
        for pid in (pids["worker"], pids["keeper"]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_webhooks_can_be_delivered_in_the_gateways_own_process(make_server) -> None:
    receiver = WebhookReceiver().start()
    gateway: GatewayServer = make_server(WAGW_WEBHOOK_PROCESS="false")
    creds = gateway.create_app("in process", receiver.url)
    gateway.start()
    try:
        assert gateway.proc is not None
        assert webhook_workers(gateway.proc.pid) == []
        with gateway.client(creds["app_token"]) as api:
            device_id = lifecycle_events(api, "in process")
        receiver.wait_for(device_id, "device_disconnected")
        assert dispatcher_ok(gateway)
    finally:
        receiver.stop()
