"""A real server whose whatsmeow engine runs on the neonize stand-in's auto-linking network
(tests/support/fake_neonize.py, loaded inside the worker processes): every pairing links by
itself, and what reaches the simulated servers is recorded under the network directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.harness import GatewayServer, wait_until


def gateway_on_fake_phones(
    make_server: Callable[..., GatewayServer], tmp_path: Path, app_name: str, **env: str
) -> tuple[GatewayServer, httpx.Client, Path]:
    """The started server, a client of a whatsmeow app on it, and the network's directory."""
    network = tmp_path / "fake-network"
    network.mkdir()
    server = make_server(
        WAGW_WHATSMEOW_CLIENT_FACTORY="tests.support.fake_neonize:auto_linking_client",
        WAGW_QR_WAIT_TIMEOUT="60",
        FAKE_NEONIZE_DIR=str(network),
        **env,
    ).start()
    creds = server.create_app(app_name, "", "--engine", "whatsmeow")
    return server, server.client(creds["app_token"]), network


def linked_device(api: httpx.Client, name: str = "Front desk") -> str:
    """A new device of the app, once the fake phone linked it (online); its id."""
    created = api.post("/devices", json={"device_name": name})
    assert created.status_code == 201, created.text
    device_id = str(created.json()["device_id"])
    wait_until(
        lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
        timeout=60,
        what="linked by the fake phone",
    )
    return device_id
