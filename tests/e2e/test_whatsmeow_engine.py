"""The real whatsmeow engine behind a real server, on a machine that cannot reach WhatsApp:
a device of a whatsmeow app fails to connect cleanly, the webhook says why, the engine's
worker process shows in /health and goes away with the server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.engines.whatsmeow import neonize_loader

pytestmark = [
    pytest.mark.storage_agnostic,
    pytest.mark.e2e,
    pytest.mark.skipif(not neonize_loader.available(), reason=neonize_loader.missing() or ""),
]


def test_offline_whatsmeow_device_ends_disconnected_with_the_reason(
    make_server, receiver: WebhookReceiver
) -> None:
    server: GatewayServer = make_server().start()
    creds = server.create_app("real phone", receiver.url, "--engine", "whatsmeow")
    with server.client(creds["app_token"]) as api:
        created = api.post("/devices", json={"device_name": "Front desk"})
        assert created.status_code == 201, created.text
        device = created.json()
        assert device["engine"] == "whatsmeow"
        assert device["status"] == "disconnected" and device["qr"] is None
        assert "could not connect to WhatsApp" in device["last_error"]
        assert "dial" in device["last_error"]

        [event] = receiver.wait_for(device["device_id"], "device_disconnected")
        assert event.json["payload"]["reason"] == "engine_error"

        health = server.client().get("/health").json()
        whatsmeow = health["checks"]["engine:whatsmeow"]
        assert whatsmeow["ok"] is True
        [worker] = whatsmeow["workers"]
        assert worker["alive"] and worker["restarts"] == 0 and worker["devices"] == 0
        worker_pid = worker["pid"]
        assert Path(f"/proc/{worker_pid}").exists()

        # A stored session for this device never existed: nothing was left in the store dir
        stores = server.data_dir / "whatsmeow"
        assert not any(p.name.endswith(".linked") for p in stores.iterdir())

    server.stop()
    wait_until(
        lambda: not _running(worker_pid), timeout=10, what="the worker to end with the server"
    )


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_fifty_offline_whatsmeow_devices_at_once_leave_the_gateway_healthy(
    make_server, receiver: WebhookReceiver
) -> None:
    """Real neonize, no network: 50 devices created at the same moment. None crashes a
    process; every one ends `disconnected` with the dial error; /health stays ok."""
    # 50 connects are serialised in the worker (connect/stop are exclusive): on a loaded
    # 2-core machine the last ones can take longer than the default 5 s test QR wait.
    server: GatewayServer = make_server(WAGW_QR_WAIT_TIMEOUT="60").start()
    creds = server.create_app("fifty phones", receiver.url, "--engine", "whatsmeow")

    def create(index: int) -> dict:
        with server.client(creds["app_token"]) as api:
            response = api.post("/devices", json={"device_name": f"desk {index}"})
            assert response.status_code == 201, response.text
            return response.json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        devices = list(pool.map(create, range(50)))
    died = [line for line in server.logs().splitlines() if "engine_worker_died" in line]
    assert not died, died
    assert all(d["status"] == "disconnected" for d in devices), {d["status"] for d in devices}
    assert all("dial" in (d["last_error"] or "") for d in devices), {
        d["last_error"] for d in devices
    }
    with server.client(creds["app_token"]) as api:
        listed = api.get("/devices").json()["devices"]
    assert len(listed) == 50 and {d["status"] for d in listed} == {"disconnected"}
    health = server.client().get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    workers = health.json()["checks"]["engine:whatsmeow"]["workers"]
    assert all(w["alive"] and w["restarts"] == 0 for w in workers)
    assert sum(w["backend"]["connects"] for w in workers) == 50
    server.stop()
