"""Secrets are never logged (issue 6): a full run against a real server at DEBUG level, every
secret it made or was given collected, then looked for in everything the gateway wrote
down: the server's output (its webhook worker process writes to the same stream), the
CLI's error output, the audit table, and the webhook delivery log.

The master key comes from a key file on SQLite (a single host's default) and from
WAGW_SECRET_KEY on PostgreSQL (what a multi-node deployment sets): both sources are covered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import uuid
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from websockets.sync.client import connect as ws_connect

from tests.e2e.test_device_flow import create_device, scan
from tests.support.dashboard import DashboardClient
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.audit.models import AuditEntry
from wagateway.core.db import Database
from wagateway.core.secrets import KEY_FILE_NAME
from wagateway.core.settings import Settings

pytestmark = pytest.mark.e2e

_LOGIN_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ONE_TIME_SECRET = re.compile(r'value="(whsec_[^"]+)" data-secret-output')
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Secrets:
    """Every secret of the run, by what it is."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def add(self, what: str, value: str | None) -> str:
        assert value, f"{what} is empty: the run did not produce it"
        self.found[f"{what} #{len(self.found)}"] = value
        return value

    def variants(self) -> list[tuple[str, str]]:
        """Each secret as written, encoded, and by a fragment of its random part."""
        out = []
        for what, value in self.found.items():
            body = value.removeprefix("wag_").removeprefix("whsec_")
            forms = {value, body, quote(value, safe=""), quote_plus(value)}
            if len(body) >= 24:
                forms.add(body[4:20])  # a log line that cut the secret short
            out.extend((what, form) for form in forms if len(form) >= 8)
        return out

    def assert_absent(self, where: str, text: str) -> None:
        leaked = [what for what, form in self.variants() if form in text]
        assert not leaked, f"{where} holds {sorted(set(leaked))}"


def audit_rows(gateway: GatewayServer) -> list[dict]:
    settings = Settings(data_dir=gateway.data_dir, database_url=gateway.database_url)
    db = Database(settings.resolved_database_url)

    async def read() -> list[dict]:
        try:
            async with db.read() as session:
                rows = (await session.execute(select(AuditEntry))).scalars()
                return [
                    {c.name: getattr(row, c.key) for c in AuditEntry.__table__.columns}
                    for row in rows
                ]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_no_secret_reaches_a_log_the_audit_table_or_the_delivery_log(
    make_server, s3_endpoint: str
) -> None:
    found = Secrets()
    receiver = WebhookReceiver().start()
    internal_token = found.add("WAGW_INTERNAL_TOKEN", "int-" + secrets.token_urlsafe(24))
    env = {
        "WAGW_LOG_LEVEL": "debug",
        "WAGW_LOG_FORMAT": "json",
        "WAGW_INTERNAL_ALLOWLIST": "127.0.0.1/32",
        "WAGW_INTERNAL_TOKEN": internal_token,
        "WAGW_ADMIN_TOKEN": found.add("WAGW_ADMIN_TOKEN", "adm-" + secrets.token_urlsafe(32)),
        "WAGW_MEDIA_STORE": "s3",
        "WAGW_S3_BUCKET": "wagw-media",
        "WAGW_S3_PREFIX": f"secrets-{uuid.uuid4().hex[:8]}",
        "WAGW_S3_ENDPOINT_URL": s3_endpoint,
        "WAGW_S3_ACCESS_KEY_ID": "test",
        "WAGW_S3_SECRET_ACCESS_KEY": found.add("WAGW_S3_SECRET_ACCESS_KEY", secrets.token_hex(20)),
    }
    gateway: GatewayServer = make_server(**env)
    if gateway.database_url:
        gateway.extra_env["WAGW_SECRET_KEY"] = found.add(
            "WAGW_SECRET_KEY", secrets.token_urlsafe(32)
        )
    cli_errors: list[str] = []

    def cli(*args: str, check: bool = True, stdin: str | None = None) -> str:
        result = gateway.cli(*args, check=check, stdin=stdin)
        cli_errors.append(result.stderr)
        return result.stdout.strip()

    try:
        # --- apps, tokens, PINs, webhook secrets (CLI) ----------------------------------
        pin = found.add("rotation PIN", "pin-" + secrets.token_hex(8))
        created = json.loads(
            cli(
                "apps", "create", "secretive", "--webhook-url", receiver.url,
                "--rotation-pin", pin, "--json",
            ).splitlines()[-1]
        )  # fmt: skip
        app_id = created["app_id"]
        first_token = found.add("app token (created)", created["app_token"])
        first_secret = found.add("webhook secret (created)", created["webhook_secret"])
        other = gateway.create_app("bystander", receiver.url)
        found.add("app token (other app)", other["app_token"])
        found.add("webhook secret (other app)", other["webhook_secret"])
        if not gateway.database_url:
            found.add("key file", (gateway.data_dir / KEY_FILE_NAME).read_text().strip())

        wrong_pin = found.add("wrong rotation PIN", "pin-" + secrets.token_hex(8))
        refused = gateway.cli("apps", "rotate-token", app_id, "--pin", wrong_pin, check=False)
        cli_errors.append(refused.stderr)
        assert refused.returncode == 2 and "invalid_rotation_pin" in refused.stderr
        cli_token = found.add(
            "app token (CLI rotation)", cli("apps", "rotate-token", app_id, "--pin", pin)
        )

        gateway.start()

        # --- dashboard: an operator, a login, rotations and reveals ---------------------
        email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
        password = found.add("operator password", "pw-" + secrets.token_urlsafe(18))
        cli("users", "create", email, "--admin", stdin=password + "\n")
        dash = DashboardClient(gateway)
        try:
            wrong_password = found.add("wrong password", "pw-" + secrets.token_urlsafe(18))
            assert dash.login(email, wrong_password).status_code == 401
            form = dash.http.get("/dashboard/login")
            found.add("login CSRF (form)", _LOGIN_FORM_CSRF.search(form.text).group(1))  # type: ignore[union-attr]
            found.add("login CSRF (cookie)", dash.http.cookies.get("wagw_login_csrf"))
            login = dash.http.post(
                "/dashboard/login",
                data={
                    "email": email,
                    "password": password,
                    "csrf_token": _LOGIN_FORM_CSRF.search(form.text).group(1),  # type: ignore[union-attr]
                },
            )
            assert login.status_code == 303, login.text[:300]
            found.add("session cookie", dash.http.cookies.get("wagw_session"))
            dash.page(f"/dashboard/projects/{app_id}/settings")
            found.add("session CSRF", dash.csrf)

            new_pin = found.add("rotation PIN (dashboard)", "pin-" + secrets.token_hex(8))
            policy = dash.post(
                f"/dashboard/projects/{app_id}/rotation-policy",
                {"rotation_enabled": "1", "rotation_pin": new_pin, "password": password},
            )
            assert dash.flash_after(policy)[0] == "ok"
            base = f"/dashboard/projects/{app_id}"
            rotated = dash.fetch_json(
                f"{base}/api-key/rotate", {"password": password, "pin": new_pin}
            )
            assert rotated.status_code == 200, rotated.text
            token = found.add("app token (dashboard rotation)", rotated.json()["app_token"])
            assert dash.fetch_json(f"{base}/api-key/reveal", {"password": password}).json() == {
                "app_token": token
            }
            secret_answer = dash.fetch_json(
                f"{base}/webhook-secret/rotate", {"password": password, "grace_hours": "1"}
            )
            webhook_secret = found.add(
                "webhook secret (rotated)", secret_answer.json()["webhook_secret"]
            )
            revealed = dash.fetch_json(f"{base}/webhook-secret/reveal", {"password": password})
            assert revealed.json() == {"webhook_secret": webhook_secret}
            # A webhook endpoint's secret: shown once in the answer to its form, never logged
            # (disabled: the deliveries below are the default endpoint's alone).
            made = dash.post(f"{base}/webhook-endpoints", {"url": receiver.url + "/crm"})
            endpoint_id = re.search(r"webhook-endpoints/([0-9a-f-]{36})", made.text)
            assert made.status_code == 200 and endpoint_id, made.text[:300]
            found.add("endpoint secret (dashboard)", _ONE_TIME_SECRET.search(made.text).group(1))  # type: ignore[union-attr]
            turned = dash.post(
                f"{base}/webhook-endpoints/{endpoint_id.group(1)}/rotate-secret",
                {"grace_hours": "1"},
            )
            found.add(
                "endpoint secret (dashboard rotation)",
                _ONE_TIME_SECRET.search(turned.text).group(1),  # type: ignore[union-attr]
            )
            for page in ("", "/settings", "/webhooks", "/webhook-endpoints"):
                dash.page(base + page)
            dash.page("/dashboard/audit")
            assert cli("apps", "reveal-token", app_id) == token
            assert cli("apps", "reveal-webhook-secret", app_id) == webhook_secret

            # --- the API: devices, messages with media, webhooks, media downloads -------
            with gateway.client(token) as api, gateway.client(other["app_token"]) as bystander:
                device = create_device(api, "secret keeper")
                device_id = device["device_id"]
                scan(api, device["qr"])
                create_device(bystander, "bystander device")
                for body in (
                    {"text": "halo"},
                    {
                        "type": "image",
                        "data_base64": base64.b64encode(PNG).decode(),
                        "mime_type": "image/png",
                        "caption": "bukti",
                    },
                ):
                    sent = api.post(
                        f"/devices/{device_id}/messages",
                        params={"wait": "true"},
                        json={"to": "6281211112222", **body},
                    )
                    # ?wait=true answers once sent; the sandbox's receipts may be in already.
                    assert sent.json()["status"] in ("sent", "delivered", "read"), sent.text
                inbound = api.post(
                    f"/sandbox/devices/{device_id}/inbound",
                    json={"from": "6285550001111", "type": "image"},
                )
                assert inbound.status_code == 202, inbound.text
                event = wait_until(
                    lambda: [
                        d.json["payload"]
                        for d in receiver.events(device_id, "message")
                        if d.json["payload"]["direction"] == "inbound"
                    ],
                    what="the inbound image's event",
                )[0]
                assert api.get("/media", params={"path": event["media_path"]}).status_code == 200
                # A media link opens its file without a token for a day: it is in the event
                # (and the delivery log) by design, but the server's output never holds one.
                link_sig = parse_qs(urlsplit(event["media_url"]).query)["sig"][0]
                assert httpx.get(gateway.base_url + event["media_url"]).status_code == 200

                # Tokens that do not work: rotated out, made up, malformed.
                for stale in (first_token, cli_token):
                    assert (
                        api.get("/app", headers={"Authorization": f"Bearer {stale}"}).status_code
                        == 401
                    )
                made_up = found.add("unknown token", "wag_" + secrets.token_urlsafe(32))
                malformed = found.add("malformed token", "tok-" + secrets.token_urlsafe(24))
                for bad in (made_up, malformed):
                    refused_call = api.get(
                        f"/devices/{device_id}", headers={"Authorization": f"Bearer {bad}"}
                    )
                    assert refused_call.status_code == 401

            # Internal callers: with the second factor, and with a wrong one.
            with httpx.Client(base_url=gateway.base_url, timeout=20) as internal:
                ok = internal.get(
                    f"/devices/{device_id}", headers={"X-Internal-Token": internal_token}
                )
                assert ok.status_code == 200, ok.text
                wrong_internal = found.add(
                    "wrong internal token", "int-" + secrets.token_urlsafe(24)
                )
                no = internal.get(
                    f"/devices/{device_id}", headers={"X-Internal-Token": wrong_internal}
                )
                assert no.status_code == 401

            # Stream tickets in URLs (CONTRACT §10): an SSE and a WebSocket opened with one.
            with httpx.Client(base_url=gateway.base_url, timeout=20) as streams:
                bearer = {"Authorization": f"Bearer {token}"}
                sse_ticket = found.add(
                    "stream ticket (SSE)",
                    streams.post("/events/tickets", headers=bearer).json()["ticket"],
                )
                with streams.stream("GET", "/events/stream", params={"ticket": sse_ticket}) as sse:
                    assert sse.status_code == 200
                ws_ticket = found.add(
                    "stream ticket (WebSocket)",
                    streams.post("/events/tickets", headers=bearer).json()["ticket"],
                )
            ws_url = gateway.base_url.replace("http://", "ws://")
            with ws_connect(f"{ws_url}/events/ws?ticket={ws_ticket}"):
                pass

            # The admin API: its token, a wrong one, a PIN, and the keys it hands out.
            with httpx.Client(base_url=gateway.base_url, timeout=20) as admin:
                admin.headers["Authorization"] = f"Bearer {env['WAGW_ADMIN_TOKEN']}"
                admin_pin = found.add("rotation PIN (admin API)", "pin-" + secrets.token_hex(8))
                made = admin.post("/admin/apps", json={"name": "admin", "rotation_pin": admin_pin})
                assert made.status_code == 201, made.text
                found.add("app token (admin API)", made.json()["app_token"])
                found.add("webhook secret (admin API)", made.json()["webhook_secret"])
                made_id = made.json()["app_id"]
                wrong_admin_pin = found.add("wrong PIN (admin API)", "pin-" + secrets.token_hex(8))
                rotate = f"/admin/apps/{made_id}/token/rotate"
                assert admin.post(rotate, json={"pin": wrong_admin_pin}).status_code == 401
                rotated_by_admin = admin.post(rotate, json={"pin": admin_pin})
                found.add("app token (admin API rotation)", rotated_by_admin.json()["app_token"])
                again = admin.post(f"/admin/apps/{made_id}/webhook-secret/rotate")
                found.add("webhook secret (admin API rotation)", again.json()["webhook_secret"])
                wrong_admin = found.add("wrong admin token", "adm-" + secrets.token_urlsafe(32))
                refused_admin = admin.get(
                    "/admin/apps", headers={"Authorization": f"Bearer {wrong_admin}"}
                )
                assert refused_admin.status_code == 401

            # Every delivery verifies with the rotated secret (the first signs beside it).
            deliveries = wait_until(
                lambda: len(receiver.events(device_id)) >= 6 and receiver.events(device_id)
            )
            for delivery in deliveries:
                Webhook(webhook_secret).verify(delivery.body, delivery.headers)
                Webhook(first_secret).verify(delivery.body, delivery.headers)
            attempt_log = httpx.get(
                f"{gateway.base_url}/webhooks/deliveries",
                params={"limit": "200"},
                headers={"Authorization": f"Bearer {token}"},
            ).json()["deliveries"]
            assert attempt_log
            assert dash.post("/dashboard/logout").status_code == 303
        finally:
            dash.close()
    finally:
        gateway.stop()
        receiver.stop()

    logs = gateway.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    # It really ran at DEBUG, and the webhook worker process wrote to the same output.
    assert any(line.get("level") == "debug" for line in lines), logs[-2000:]
    assert any(line.get("event") == "webhook_process_started" for line in lines)
    assert len(found.found) >= 20
    found.assert_absent("the server's output", logs)
    assert link_sig not in logs, "the server's output holds a media link's signature"
    for index, stderr in enumerate(cli_errors):
        found.assert_absent(f"CLI stderr #{index}", stderr)
    entries = audit_rows(gateway)
    assert {"login", "api_key.rotate", "webhook_secret.rotate", "internal_request"} <= {
        e["action"] for e in entries
    }
    found.assert_absent("the audit table", json.dumps(entries, default=str))
    found.assert_absent("the webhook delivery log", json.dumps(attempt_log))
    urls = [v for line in lines for v in line.values() if isinstance(v, str) and "://" in v]
    found.assert_absent("URLs the gateway logged", "\n".join(urls))
    # Deliveries carry signatures, never a secret or a token.
    received = "\n".join(json.dumps(d.headers) + d.body.decode() for d in receiver.seen)
    found.assert_absent("what webhook receivers got", received)
