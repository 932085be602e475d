"""The host's ops CLI (`wagateway devices show|disconnect|delete`, `wagateway messages send`)
against a real server: it resolves the device's app itself and calls the running gateway's
API with that app's token, which never shows in its output or the server's log."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.harness import WAGATEWAY, GatewayServer, WebhookReceiver, free_port, wait_until
from wagateway.audit.models import AuditEntry
from wagateway.core.db import Database
from wagateway.core.settings import Settings

# The commands resolve the device and its app with the same lookups the API runs on both
# databases (and test_cli_startup checks their schema handling on both): SQLite only.
pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
TO = "6281211112222"


class Ops:
    """Runs `wagateway` as an engineer on the host would: the server's environment (data dir,
    database, WAGW_PORT), no token anywhere; keeps every output to check for the token."""

    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self.outputs: list[str] = []

    def __call__(
        self, *args: str, stdin: str | None = None, code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        env = self.server.env | {"WAGW_PORT": str(self.server.port)}
        result = subprocess.run(
            [WAGATEWAY, *args], env=env, capture_output=True, text=True, timeout=60, input=stdin
        )
        self.outputs += [result.stdout, result.stderr]
        assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
        return result


@pytest.fixture
def ops(server: GatewayServer) -> Ops:
    return Ops(server)


@pytest.fixture
def device(api: httpx.Client) -> Iterator[dict]:
    yield create_device(api, "ops device")


def said(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's own last word on stderr (migrations log their check there before it)."""
    return result.stderr.strip().splitlines()[-1]


def audit_of(server: GatewayServer, device_id: str) -> list[tuple[str, str, str, dict]]:
    """(actor kind, actor, action, detail) of the device's audit entries, oldest first."""
    db = Database(
        Settings(data_dir=server.data_dir, database_url=server.database_url).resolved_database_url
    )

    async def read() -> list[tuple[str, str, str, dict]]:
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.device_id == device_id)
                    .order_by(AuditEntry.seq)
                )
                return [(e.actor_kind, e.actor, e.action, e.detail or {}) for e in rows.scalars()]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_show_send_disconnect_delete(
    server: GatewayServer,
    api: httpx.Client,
    app_creds: dict,
    receiver: WebhookReceiver,
    device: dict,
    ops: Ops,
) -> None:
    device_id = device["device_id"]

    # show --json: the API's device object (a CLI call takes seconds: the window may be over)
    shown = json.loads(ops("devices", "show", device_id, "--json").stdout)
    assert shown.keys() == device.keys()
    assert shown["device_id"] == device_id and shown["status"] in ("qr_generated", "expired")

    scan_current_qr(api, device_id)
    wait_until(lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected")
    human = ops("devices", "show", device_id).stdout
    assert f"device_id: {device_id}\ndevice_name: ops device\n" in human
    assert "status: connected\nconnection: online\n" in human
    assert "wa_number: 6281234567890\n" in human and "qr_image" not in human

    # send a text: queued, then delivered (message status and the receipt webhook)
    sent = ops("messages", "send", device_id, "--to", TO, "--text", "from the host").stdout
    lines = dict(line.split(": ", 1) for line in sent.splitlines())
    assert lines["status"] == "queued" and lines["to"] == f"{TO}@s.whatsapp.net"
    message_id = lines["message_id"]
    wait_until(
        lambda: (
            api.get(f"/devices/{device_id}/messages/{message_id}").json()["status"]
            in ("delivered", "read")
        ),
        what="the CLI's text delivered",
    )
    message = api.get(f"/devices/{device_id}/messages/{message_id}").json()
    assert message["content"]["text"] == "from the host" and message["direction"] == "outbound"
    wait_until(
        lambda: any(
            d.json["payload"].get("message_id") == message_id
            and d.json["payload"].get("status") == "delivered"
            for d in receiver.events(device_id, "receipt")
        ),
        what="a delivered receipt webhook",
    )

    # any other type through --json-body; --wait answers once sent; an idempotency key
    image = json.dumps({"data_base64": PNG, "mime_type": "image/png", "caption": "invoice"})
    args = ("messages", "send", device_id, "--to", TO, "--type", "image", "--json-body", image)
    first = json.loads(ops(*args, "--wait", "--json", "--idempotency-key", "inv-1").stdout)
    assert first["type"] == "image" and first["status"] in ("sent", "delivered", "read")
    assert first["wa_message_id"]
    again = json.loads(ops(*args, "--json", "--idempotency-key", "inv-1").stdout)
    assert again["message_id"] == first["message_id"]
    from_stdin = ops(
        "messages",
        "send",
        device_id,
        "--json-body",
        "-",
        stdin=json.dumps({"to": TO, "type": "location", "latitude": -6.2, "longitude": 106.8}),
    )
    assert "status: queued" in from_stdin.stdout

    # the API's validation, its envelope as `error: code: message`, exit 2
    refused = ops("messages", "send", device_id, "--text", "no recipient", code=2)
    assert said(refused).startswith("error: validation_error: ") and "field=to" in refused.stderr
    bad_json = ops("messages", "send", device_id, "--json-body", "{nope", code=2)
    assert said(bad_json).startswith("error: validation_error: --json-body is not valid JSON")

    # disconnect → disconnected, with its webhook
    assert ops("devices", "disconnect", device_id).stdout.strip() == (
        f"device {device_id}: disconnected"
    )
    assert api.get(f"/devices/{device_id}").json()["status"] == "disconnected"
    receiver.wait_for(device_id, "device_disconnected")
    not_connected = ops("messages", "send", device_id, "--to", TO, "--text", "x", code=2)
    assert said(not_connected).startswith("error: device_not_connected: ")

    # delete asks first; "no" (or no terminal answer) leaves the device alone
    declined = ops("devices", "delete", device_id, stdin="n\n", code=1)
    assert "cannot be undone" in declined.stdout and "ops device" in declined.stdout
    assert api.get(f"/devices/{device_id}").json()["status"] == "disconnected"
    deleted = ops("devices", "delete", device_id, "--yes").stdout
    assert deleted.startswith(f"device {device_id}: destroyed")
    gone = api.get(f"/devices/{device_id}")
    assert gone.status_code == 410 and error_code(gone) == "device_destroyed"
    receiver.wait_for(device_id, "device_destroyed")
    after = ops("devices", "show", device_id, code=2)
    assert said(after).startswith("error: device_destroyed: ") and after.stdout == ""
    assert said(ops("devices", "delete", device_id, "--yes", code=2)).startswith(
        "error: device_destroyed: "
    )

    # each change the CLI made is in the audit log, as the CLI's
    cli_entries = [(e[2], e[3]) for e in audit_of(server, device_id) if e[0] == "cli"]
    assert [action for action, _ in cli_entries] == [
        "message.send",
        "message.send",
        "message.send",
        "message.send",
        "device.disconnect",
        "device.delete",
    ]
    assert cli_entries[0][1] == {"message_id": message_id}
    assert cli_entries[-1][1] == {"name": "ops device"}

    # the app token: nowhere in what the CLI printed, nor in the server's log (flushed per
    # record: its start-up lines are there)
    assert all(app_creds["app_token"] not in output for output in ops.outputs)
    logs = server.logs()
    assert "gateway_started" in logs and app_creds["app_token"] not in logs


def test_unknown_device_is_not_found(ops: Ops) -> None:
    for args in (
        ("devices", "show", "no-such-device"),
        ("devices", "disconnect", "no-such-device"),
        ("devices", "delete", "no-such-device", "--yes"),
        ("messages", "send", "no-such-device", "--to", TO, "--text", "hi"),
    ):
        result = ops(*args, code=2)
        assert said(result) == "error: not_found: device not found", args
        assert result.stdout == ""


def test_a_gateway_that_is_not_running(device: dict, ops: Ops, app_creds: dict) -> None:
    device_id = device["device_id"]
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for args in (
        ("devices", "disconnect", device_id),
        ("devices", "delete", device_id, "--yes"),
        ("messages", "send", device_id, "--to", TO, "--text", "hi"),
    ):
        result = ops(*args, "--url", url, code=2)
        assert said(result).startswith(f"error: server_unreachable: no gateway answers at {url}")
        assert "`wagateway serve` must be running" in result.stderr
        assert result.stdout == ""

    # show falls back to the database, and says so on stderr
    shown = ops("devices", "show", device_id, "--json", "--url", url)
    assert json.loads(shown.stdout)["device_id"] == device_id
    assert said(shown).startswith(f"note: no gateway answers at {url}")
    assert "as stored in the database" in said(shown)
    human = ops("devices", "show", device_id, "--url", url)
    assert "status: " in human.stdout and "data:image" not in human.stdout

    assert all(app_creds["app_token"] not in output for output in ops.outputs)


def test_sigusr1_logs_what_each_task_of_the_node_waits_for(server: GatewayServer) -> None:
    """A node that seems stuck shows an operator where each of its tasks waits, and serves
    on."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGUSR1)
    dump = wait_until(
        lambda: next((line for line in server.logs().splitlines() if "tasks_dumped" in line), ""),
        what="the tasks dumped",
    )
    assert "cluster-heartbeat" in dump and "membership.py" in dump
    with server.client() as api:
        assert api.get("/health").status_code == 200
