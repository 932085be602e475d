"""Text the gateway cannot store or send (issue 15, items 2 and 7), on a real server and both
databases: a lone surrogate (`"\\ud83d"`, half an emoji) in a client's text is 400 naming the
field; rows stored with one before that was refused are listed, exported and delivered; an
event whose request cannot be built fails with its error instead of holding back its device;
absurd nesting and out-of-range cursors are 400, not 500."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from typing import Any

import httpx
import pytest

from tests.e2e.test_api_contract import assert_envelope
from tests.e2e.test_device_flow import create_device, scan
from tests.support.dashboard import logged_in_admin
from tests.support.harness import WAGATEWAY, GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
TO = "6281211112222"


def raw_post(api: httpx.Client, path: str, raw: bytes, method: str = "POST") -> httpx.Response:
    # httpx cannot encode a lone surrogate itself: the bytes a JavaScript client would send.
    return api.request(method, path, content=raw, headers=JSON)


@pytest.fixture
def device(api: httpx.Client) -> dict[str, Any]:
    return scan(api, create_device(api, "text")["qr"])


def test_lone_surrogates_are_refused_with_the_field_named(
    api: httpx.Client, device: dict[str, Any], receiver: WebhookReceiver
) -> None:
    device_id = device["device_id"]
    send = f"/devices/{device_id}/messages"
    cases = [
        ("POST", send, b'{"to": "%s", "text": "trunc emoji \\ud83d"}' % TO.encode(), "text"),
        ("POST", send, b'{"to": "%s", "text": "low first \\uDE00"}' % TO.encode(), "text"),
        # Two halves in the wrong order are two lone surrogates, not an emoji.
        ("POST", send, b'{"to": "%s", "text": "\\ude00\\ud83d"}' % TO.encode(), "text"),
        # UTF-8-encoded surrogate bytes, which Python's JSON decoder lets through.
        ("POST", send, b'{"to": "%s", "text": "cesu \xed\xa0\xbd"}' % TO.encode(), "text"),
        (
            "POST",
            send,
            b'{"to": "%s", "type": "interactive", "text": "t", "buttons": [{"id": "a\\udfff"}]}'
            % TO.encode(),
            "buttons.0.id",
        ),
        ("POST", "/devices", b'{"device_name": "half \\ud83d"}', "device_name"),
        ("PATCH", "/app", b'{"name": "half \\ud83d"}', "name"),
        ("PATCH", "/app", b'{"webhook_url": "https://example.com/\\ud83d"}', "webhook_url"),
        (
            "POST",
            f"/sandbox/devices/{device_id}/inbound",
            b'{"from": "6285550001111", "text": "x\\ud83d"}',
            "text",
        ),
    ]
    for method, path, raw, field in cases:
        found = assert_envelope(raw_post(api, path, raw, method), 400, "validation_error")
        assert found["error"]["details"] == {"field": field}, (raw, found)
    assert api.get("/app").json()["name"] == "e2e app"  # nothing half-applied
    assert [d["device_name"] for d in api.get("/devices").json()["devices"]] == ["text"]

    # A pair, escaped as JSON escapes it, is the emoji: accepted, stored and delivered.
    sent = raw_post(
        api, send + "?wait=true", b'{"to": "%s", "text": "ok \\ud83d\\ude00"}' % TO.encode()
    )
    assert sent.status_code in (200, 202), sent.text
    message_id = sent.json()["message_id"]
    assert api.get(f"{send}/{message_id}").json()["content"]["text"] == "ok 😀"
    wait_until(
        lambda: any(
            d.json["payload"].get("message_id") == message_id
            and d.json["payload"].get("text") == "ok 😀"
            for d in receiver.events(device_id, "message")
        ),
        what="the emoji message's webhook",
    )


def seq(value: object) -> str:
    """A cursor as the API makes them, for any value."""
    return base64.urlsafe_b64encode(f"seq:{value}".encode()).decode().rstrip("=")


def test_nesting_and_cursors_out_of_range_are_400(
    server: GatewayServer, api: httpx.Client, device: dict[str, Any]
) -> None:
    device_id = device["device_id"]
    for raw in (
        b'{"device_name": ' + b"[" * 100_000 + b'"\\u0000"' + b"]" * 100_000 + b"}",
        b'{"device_name": ' + b"[" * 100_000 + b'"\\ud83d"' + b"]" * 100_000 + b"}",
        b'{"a": ' + b'{"a": ' * 50_000 + b'"\\u0000"' + b"}" * 50_001,
    ):
        found = assert_envelope(raw_post(api, "/devices", raw), 400, "validation_error")
        assert found["error"]["details"]["field"] in ("body", "device_name", "a"), found
    bad_cursors = [
        seq(2**63),
        seq(2**64 + 5),
        seq(-1),
        seq("x"),
        seq("9" * 5000),
        "%%%",
        "A" * 9000,
    ]
    for path in (f"/devices/{device_id}/messages", "/webhooks/deliveries"):
        for cursor in bad_cursors:
            found = assert_envelope(
                api.get(path, params={"cursor": cursor}), 400, "validation_error"
            )
            assert found["error"]["details"] == {"field": "cursor"}, (path, cursor, found)
        # The largest cursor that is a cursor still pages (nothing below it is missing).
        assert api.get(path, params={"cursor": seq(2**63 - 1)}).status_code == 200
    # `since` out of what a UTC timestamp can be (year 1 east of UTC, year 9999 west of it).
    messages = f"/devices/{device_id}/messages"
    for since in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9" * 20):
        found = assert_envelope(api.get(messages, params={"since": since}), 400, "validation_error")
        assert found["error"]["details"] == {"field": "since"}, (since, found)
    # A time without an offset is UTC, as every time the API gives out.
    for since in ("0001-01-01T00:00:00", "2020-01-01T00:00:00", "9999-12-31T23:59:59Z"):
        assert api.get(messages, params={"since": since}).status_code == 200, since
    logs = server.logs()
    assert "RecursionError" not in logs and "OverflowError" not in logs
    assert "unhandled_error" not in logs, logs[-3000:]


async def _store_old_rows(url: str, device_id: str, app_id: str) -> None:
    """What a database written before the fix may hold: a message and its events with a lone
    surrogate (inserted through the service layer, as the API once did), and an event whose
    name cannot be an HTTP header (a request that cannot be built)."""
    import wagateway.models  # noqa: F401 - every table, for the foreign keys
    from wagateway.core.db import Database, new_id, utcnow
    from wagateway.messages.models import Message
    from wagateway.webhooks.outbox import record_event

    db = Database(url)
    try:
        async with db.transaction() as session:
            message = Message(
                id=new_id(),
                app_id=app_id,
                device_id=device_id,
                direction="inbound",
                status="received",
                type="text",
                chat="6285550001111@s.whatsapp.net",
                sender="6285550001111",
                content={"text": "old \ud83d row"},
                mentions=[],
                wa_message_id="3EB0OLDSURROGATE",
                sent_at=utcnow(),
            )
            session.add(message)
            payload = {"message_id": message.id, "text": "old \ud83d row", "type": "text"}
            record_event(
                session, app_id=app_id, device_id=device_id, event="message", payload=payload
            )
            record_event(
                session,
                app_id=app_id,
                device_id=device_id,
                event="bad\r\nname",
                payload={"note": "cannot be a header"},
            )
    finally:
        await db.dispose()


def test_rows_stored_before_the_fix_neither_block_nor_break(
    server: GatewayServer,
    api: httpx.Client,
    device: dict[str, Any],
    receiver: WebhookReceiver,
    app_creds: dict[str, str],
) -> None:
    from wagateway.core.settings import Settings

    device_id, app_id = device["device_id"], app_creds["app_id"]
    receiver.wait_for(device_id, "device_connected")
    url = Settings(data_dir=server.data_dir, database_url=server.database_url).resolved_database_url
    asyncio.run(_store_old_rows(url, device_id, app_id))
    after = api.post(f"/devices/{device_id}/messages", json={"to": TO, "text": "after"}).json()

    # The device's later events are delivered, in order, after the old ones.
    wait_until(
        lambda: any(
            d.json["payload"].get("message_id") == after["message_id"]
            for d in receiver.events(device_id, "message")
        ),
        timeout=30,
        what="the message sent after the old rows",
    )
    messages = [d.json for d in receiver.events(device_id, "message")]
    old = [m for m in messages if str(m["payload"].get("text")).startswith("old")]
    assert [m["payload"]["text"] for m in old] == ["old \ufffd row"]
    assert messages.index(old[0]) < [m["payload"].get("message_id") for m in messages].index(
        after["message_id"]
    )

    # Its outcome is written in the dispatcher's next batch: the delivery after it may be first.
    def bad_event() -> Any:
        answer = api.get(
            "/webhooks/deliveries", params={"device_id": device_id, "event": "bad\r\nname"}
        )
        assert answer.status_code == 200, answer.text
        [event] = answer.json()["deliveries"]
        return event if event["state"] != "pending" else None

    failed = wait_until(bad_event, what="the undeliverable event's outcome")
    assert failed["state"] == "failed" and failed["last_error"], failed
    assert failed["attempt_log"] and failed["attempt_log"][-1]["error"] == failed["last_error"]

    # Listings, exports and the dashboard answer 200 with the row.
    listed = api.get(f"/devices/{device_id}/messages")
    assert listed.status_code == 200, listed.text
    assert "old \ufffd row" in [m["content"].get("text") for m in listed.json()["messages"]]
    deliveries = api.get("/webhooks/deliveries", params={"device_id": device_id})
    assert deliveries.status_code == 200, deliveries.text
    for path in ("messages.jsonl", "events.jsonl"):
        export = api.get(f"/archive/devices/{device_id}/{path}")
        assert export.status_code == 200 and "old \ufffd row" in export.text, export.text[-500:]
        assert all(json.loads(line) for line in export.text.splitlines())
    with logged_in_admin(server) as dashboard:
        page = dashboard.page(f"/dashboard/projects/{app_id}/devices/{device_id}")
        assert "old \ufffd row" in page.text or device_id in page.text
        dashboard.page(f"/dashboard/projects/{app_id}/webhooks")


def test_cli_refuses_text_that_is_not_utf8_with_a_clear_error(
    server: GatewayServer,
    api: httpx.Client,
    device: dict[str, Any],
    app_creds: dict[str, str],
) -> None:
    """A shell hands the CLI bytes: those that are not UTF-8 reach typer surrogate-escaped
    (`\\udcff` for 0xFF), and a --json-body may escape a lone surrogate. Exit 2 with the
    argument named, like the CLI's other errors; nothing is created or sent."""
    device_id, app_id = device["device_id"], app_creds["app_id"]
    not_utf8 = b"caf\xe9".decode("utf-8", "surrogateescape")  # Latin-1 "café" from a shell
    cases = [
        (["apps", "create", not_utf8], "argument 3"),
        (
            ["apps", "create", "ok", "--webhook-url", "https://example.com/" + not_utf8],
            "--webhook-url",
        ),
        (["apps", "set-webhook", app_id, f"https://example.com/{not_utf8}"], "argument 4"),
        (["messages", "send", device_id, "--to", TO, f"--text={not_utf8}"], "--text"),
        (
            ["messages", "send", device_id, "--to", TO, "--json-body", '{"text": "x \\ud83d"}'],
            "text",
        ),
    ]
    apps_before = server.cli("apps", "list", "--json").stdout
    for args, field in cases:
        result = server.cli(*args, check=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: validation_error: "), result.stderr
        assert f"field={field}" in result.stderr and "Traceback" not in result.stderr
    # --json-body - reads stdin: bytes there that are not UTF-8 are the same clear error.
    # So are they in what it reads from stdin: a --json-body of -, a new operator's password.
    for args, stdin in (
        (["messages", "send", device_id, "--to", TO, "--json-body", "-"], b'{"text": "caf\xe9"}'),
        (["users", "create", "latin1@example.com"], b"a long password, caf\xe9\n"),
    ):
        piped = subprocess.run(
            [WAGATEWAY, *args], input=stdin, env=server.env, capture_output=True, timeout=60
        )
        assert piped.returncode == 2 and b"Traceback" not in piped.stderr, piped.stderr
        assert piped.stderr.startswith(b"error: validation_error: "), piped.stderr
    # A device quota past the INTEGER column: a usage error, not the database's traceback.
    quota = server.cli("apps", "set-limits", app_id, "--max-devices", str(2**70), check=False)
    assert quota.returncode == 2 and "Traceback" not in quota.stderr, quota.stderr
    assert "--max-devices" in quota.stderr
    # So are a grace period past a week (a timedelta overflow far past it) and an infinite
    # rate (JSON has no Infinity: PostgreSQL refused it with a traceback).
    grace = server.cli("apps", "rotate-token", app_id, "--grace-seconds", str(2**70), check=False)
    assert grace.returncode == 2 and "--grace-seconds" in grace.stderr, grace.stderr
    infinite = server.cli(
        "apps", "set-limits", app_id, "--requests-per-second", "1e400", check=False
    )
    assert infinite.returncode == 2 and "Traceback" not in infinite.stderr, infinite.stderr
    assert "finite" in infinite.stderr
    assert server.cli("apps", "list", "--json").stdout == apps_before
    assert api.get(f"/devices/{device_id}/messages").json()["messages"] == []


def test_dashboard_forms_refuse_text_that_is_not_utf8(
    server: GatewayServer, api: httpx.Client, app_creds: dict[str, str]
) -> None:
    """A form's percent-escaped bytes that are not UTF-8 (a surrogate half's ED A0 BD, Latin-1)
    were made U+FFFD silently by the form parser; they are now refused, the field named."""
    devices_before = api.get("/devices").json()["devices"]
    with logged_in_admin(server) as dashboard:
        path = f"/dashboard/projects/{app_creds['app_id']}/devices"
        for name in (b"half%ED%A0%BD", b"caf%E9"):
            response = dashboard.http.post(
                path,
                content=b"device_name=" + name + b"&csrf_token=" + dashboard.csrf.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            found = assert_envelope(response, 400, "validation_error")
            assert found["error"]["details"] == {"field": "device_name"}, found
        # A name in UTF-8 is taken as typed.
        made = dashboard.post(path, {"device_name": "Kasir 😀"})
        assert made.status_code == 303, made.text
    names = [d["device_name"] for d in api.get("/devices").json()["devices"]]
    assert names == [d["device_name"] for d in devices_before] + ["Kasir 😀"]
