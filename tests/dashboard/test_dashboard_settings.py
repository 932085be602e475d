"""Project settings from the dashboard, through the same rules as the API and the CLI:
the rotation policy (PIN, disabled rotation), the webhook secret's grace period, members,
pacing and engine changes, and the overview's figures."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.dashboard import PASSWORD, DashboardClient, create_operator, logged_in_admin
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin(server: GatewayServer) -> Iterator[DashboardClient]:
    with logged_in_admin(server) as client:
        yield client


def _project(client: DashboardClient, name: str) -> str:
    created = client.post("/dashboard/projects", {"name": name, "engine": "sandbox"})
    return created.headers["location"].rsplit("/", 1)[1]


def test_rotation_policy_pin_and_disabling_hold_for_the_dashboard(admin: DashboardClient) -> None:
    app_id = _project(admin, "Policy")
    settings = f"/dashboard/projects/{app_id}"
    kind, text = admin.flash_after(
        admin.post(
            f"{settings}/rotation-policy",
            {"rotation_enabled": "1", "rotation_pin": "4321", "password": PASSWORD},
        )
    )
    assert (kind, text) == ("ok", "Key rotation policy saved.")
    no_pin = admin.fetch_json(f"{settings}/api-key/rotate", {"password": PASSWORD})
    assert no_pin.status_code == 401 and no_pin.json()["error"]["code"] == "invalid_rotation_pin"
    rotated = admin.fetch_json(f"{settings}/api-key/rotate", {"password": PASSWORD, "pin": "4321"})
    assert rotated.status_code == 200 and rotated.json()["app_token"].startswith("wag_")
    # The policy itself is behind the password.
    kind, text = admin.flash_after(
        admin.post(f"{settings}/rotation-policy", {"rotation_enabled": "", "password": "wrong"})
    )
    assert kind == "error" and "password is wrong" in text
    admin.flash_after(admin.post(f"{settings}/rotation-policy", {"password": PASSWORD}))
    disabled = admin.fetch_json(f"{settings}/api-key/rotate", {"password": PASSWORD, "pin": "4321"})
    assert disabled.status_code == 403
    assert disabled.json()["error"]["code"] == "app_token_rotation_disabled"
    page = admin.page(f"{settings}/settings").text
    assert 'title="rotation is disabled for this project"' in page


def test_a_rotated_webhook_secret_signs_beside_the_old_one_during_the_grace(
    server: GatewayServer, admin: DashboardClient, receiver: WebhookReceiver
) -> None:
    from standardwebhooks import Webhook

    app_id = _project(admin, "Grace")
    base = f"/dashboard/projects/{app_id}"
    admin.flash_after(
        admin.post(
            f"{base}/settings", {"name": "Grace", "engine": "sandbox", "webhook_url": receiver.url}
        )
    )
    old = admin.fetch_json(f"{base}/webhook-secret/reveal", {"password": PASSWORD}).json()
    new = admin.fetch_json(
        f"{base}/webhook-secret/rotate", {"password": PASSWORD, "grace_hours": "1"}
    ).json()
    assert old["webhook_secret"] != new["webhook_secret"]
    admin.post(f"{base}/webhooks-test")
    delivery = wait_until(
        lambda: [d for d in receiver.deliveries if d.json["app_id"] == app_id], what="test event"
    )[0]
    assert delivery.json["event"] == "webhook_test" and delivery.json["device_id"] is None
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    for secret in (old["webhook_secret"], new["webhook_secret"]):
        Webhook(secret).verify(delivery.body, delivery.headers)  # both sign during the grace


def test_settings_validate_and_apply_like_the_api(
    server: GatewayServer, admin: DashboardClient
) -> None:
    app_id = _project(admin, "Tuned")
    base = f"/dashboard/projects/{app_id}"
    kind, text = admin.flash_after(
        admin.post(
            f"{base}/settings",
            {"name": "Tuned", "engine": "sandbox", "webhook_url": "/https://evil"},
        )
    )
    assert kind == "error" and "webhook" in text.lower()
    kind, text = admin.flash_after(
        admin.post(
            f"{base}/settings", {"name": "Tuned", "engine": "sandbox", "rate_per_second": "-1"}
        )
    )
    assert kind == "error" and "rate_per_second" in text
    admin.flash_after(
        admin.post(
            f"{base}/settings",
            {"name": "Tuned 2", "engine": "sandbox", "rate_per_second": "2", "daily_cap": "500"},
        )
    )
    token = admin.fetch_json(f"{base}/api-key/reveal", {"password": PASSWORD}).json()["app_token"]
    with server.client(token) as api:
        app = api.get("/app").json()
    assert app["name"] == "Tuned 2" and app["pacing"] == {"rate_per_second": 2.0, "daily_cap": 500}
    # Blank fields go back to the server's defaults.
    admin.flash_after(admin.post(f"{base}/settings", {"name": "Tuned 2", "engine": "sandbox"}))
    with server.client(token) as api:
        assert api.get("/app").json()["pacing"] is None
        # With a device, the engine is fixed.
        api.post("/devices", json={"device_name": "desk"})
    kind, text = admin.flash_after(
        admin.post(f"{base}/settings", {"name": "Tuned 2", "engine": "whatsmeow"})
    )
    assert kind == "error" and "no devices" in text


def test_members_are_added_by_admins_only(server: GatewayServer, admin: DashboardClient) -> None:
    app_id = _project(admin, "Team")
    email = create_operator(server, f"team-{app_id[:8]}@example.com")
    kind, _ = admin.flash_after(
        admin.post(f"/dashboard/projects/{app_id}/members", {"email": email})
    )
    assert kind == "ok"
    assert email in admin.page(f"/dashboard/projects/{app_id}/settings").text
    member = DashboardClient(server)
    try:
        member.login(email)
        member.page(f"/dashboard/projects/{app_id}/settings")
        stranger = create_operator(server, f"stranger-{app_id[:8]}@example.com")
        kind, text = member.flash_after(
            member.post(f"/dashboard/projects/{app_id}/members", {"email": stranger})
        )
        assert kind == "error" and "only admins" in text
    finally:
        member.close()


def _linked_device(admin: DashboardClient, app_id: str, name: str) -> str:
    created = admin.post(f"/dashboard/projects/{app_id}/devices", {"device_name": name})
    device = created.headers["location"]
    admin.page(device)
    scanned = admin.http.post(
        f"{device}/sandbox/scan",
        data={"phone": "6281234567890"},
        headers={"X-CSRF-Token": admin.csrf, "Accept": "application/json"},
    )
    assert scanned.status_code == 200, scanned.text
    assert "linked as 6281234567890" in scanned.json()["message"]
    return device


def test_the_overview_counts_what_happened(server: GatewayServer, admin: DashboardClient) -> None:
    app_id = _project(admin, "Counted")
    device = _linked_device(admin, app_id, "desk")
    for to in ("6285550001", "9995550002"):  # the second is "not on WhatsApp": fails
        admin.flash_after(admin.post(f"{device}/messages", {"to": to, "text": "hi"}))

    def figures() -> dict[str, str] | None:
        html = admin.page("/dashboard/").text
        card = html[html.index(f'data-project-id="{app_id}"') :]
        sent = re.search(r'data-figure="sent">(\d+)<', card)
        failed = re.search(r'data-figure="failed">(\d+)<', card)
        got = {"sent": sent.group(1) if sent else "", "failed": failed.group(1) if failed else ""}
        return got if got == {"sent": "1", "failed": "1"} else None

    wait_until(figures, timeout=20, what="overview figures")
    html = admin.page("/dashboard/").text
    card = html[html.index(f'data-project-id="{app_id}"') :]
    assert "1 connected" in card[:2000]


def test_pairing_code_inbound_and_drop_from_the_device_page(admin: DashboardClient) -> None:
    app_id = _project(admin, "Phone play")
    created = admin.post(f"/dashboard/projects/{app_id}/devices", {"device_name": "by code"})
    by_code = created.headers["location"]
    admin.page(by_code)
    kind, text = admin.flash_after(admin.post(f"{by_code}/pairing-code", {"phone": "6281112223"}))
    assert kind == "ok" and re.search(r"Pairing code [A-Z0-9-]{8,9}: enter it on the phone", text)
    assert 'data-field="pairing_code">' in admin.page(by_code).text

    device = _linked_device(admin, app_id, "desk")
    as_script = {"X-CSRF-Token": admin.csrf, "Accept": "application/json"}
    inbound = admin.http.post(
        f"{device}/sandbox/inbound",
        data={"sender": "6289876543210", "text": "Halo dari pelanggan"},
        headers=as_script,
    )
    assert inbound.status_code == 200 and "wrote to the device" in inbound.json()["message"]
    wait_until(lambda: "Halo dari pelanggan" in admin.page(device).text, what="inbound message")
    dropped = admin.http.post(f"{device}/sandbox/drop", headers=as_script)
    assert dropped.status_code == 200 and "reconnects by itself" in dropped.json()["message"]
    wait_until(lambda: 'data-field="connection">online<' in admin.page(device).text, what="back")
    # Refused actions answer the script in the contract's envelope, in plain words.
    again = admin.http.post(f"{device}/qr", headers=as_script)
    assert again.status_code == 409
    assert "A new QR can be made only when" in again.json()["error"]["message"]


def test_delivery_log_filters_and_redelivery(
    server: GatewayServer, admin: DashboardClient, receiver: WebhookReceiver
) -> None:
    app_id = _project(admin, "Flaky receiver")
    base = f"/dashboard/projects/{app_id}"
    admin.flash_after(
        admin.post(
            f"{base}/settings",
            {"name": "Flaky receiver", "engine": "sandbox", "webhook_url": receiver.url},
        )
    )
    receiver.status = 500  # every attempt fails until the schedule (0.5, 1, 1.5 s) is spent
    admin.post(f"{base}/webhooks-test")
    admin.post(f"{base}/webhooks-test")

    def failed_rows() -> list[str]:
        html = admin.page(f"{base}/webhooks?state=failed").text
        return re.findall(r'data-request-id="([^"]+)"', html)

    failed = wait_until(lambda: len(failed_rows()) == 2 and failed_rows(), timeout=30)
    assert admin.page(f"{base}/webhooks?state=delivered").text.count("data-request-id=") == 0
    assert len(re.findall("data-request-id=", admin.page(f"{base}/webhooks?event=nope").text)) == 0
    detail = admin.page(f"{base}/webhooks/{failed[0]}").text
    assert detail.count("<td>500</td>") == 4 and "HTTP 500" in detail  # 1 try + 3 retries

    receiver.status = 200
    kind, text = admin.flash_after(admin.post(f"{base}/webhooks/{failed[0]}/redeliver"))
    assert kind == "ok" and failed[0] in text
    wait_until(lambda: failed_rows() == [failed[1]], timeout=20, what="one redelivered")
    kind, text = admin.flash_after(admin.post(f"{base}/webhooks-redeliver-failed"))
    assert (kind, text) == ("ok", "1 failed event(s) queued for delivery again.")
    wait_until(lambda: failed_rows() == [], timeout=20, what="all redelivered")
    delivered = [d for d in receiver.deliveries if d.json["app_id"] == app_id]
    assert sorted(d.json["request_id"] for d in delivered) == sorted(failed)


def test_call_policy_and_presence_mode_from_the_project_and_device_pages(
    server: GatewayServer, admin: DashboardClient
) -> None:
    app_id = _project(admin, "Calls")
    base = f"/dashboard/projects/{app_id}"
    form = {"name": "Calls", "engine": "sandbox", "calls_form": "1"}
    kind, text = admin.flash_after(
        admin.post(f"{base}/settings", {**form, "call_reply_text": "Maaf"})
    )
    assert kind == "error" and "reject: true" in text
    kind, _ = admin.flash_after(
        admin.post(
            f"{base}/settings",
            {
                **form,
                "call_reject": "1",
                "call_reply_text": "Maaf, tidak menerima telepon.",
                "presence_mode": "always_online",
            },
        )
    )
    assert kind == "ok"
    token = admin.fetch_json(f"{base}/api-key/reveal", {"password": PASSWORD}).json()["app_token"]
    with server.client(token) as api:
        app = api.get("/app").json()
    assert (app["call_policy"], app["presence_mode"]) == (
        {"reject": True, "reply_text": "Maaf, tidak menerima telepon."},
        "always_online",
    )
    page = admin.page(f"{base}/settings").text
    assert 'name="call_reject" value="1" checked' in page
    assert '<option value="always_online" selected>' in page

    device = _linked_device(admin, app_id, "desk")
    device_id = device.rsplit("/", 1)[1]
    assert "As the project (reject)" in admin.page(device).text
    kind, _ = admin.flash_after(
        admin.post(f"{device}/settings", {"calls": "report", "presence_mode": "on_demand"})
    )
    assert kind == "ok"
    with server.client(token) as api:
        own = api.get(f"/devices/{device_id}").json()
    assert (own["call_policy"], own["presence_mode"]) == (
        {"reject": False, "reply_text": None},
        "on_demand",
    )
    kind, text = admin.flash_after(
        admin.post(f"{device}/settings", {"calls": "reject", "call_reply_text": "x" * 65537})
    )
    assert kind == "error" and "longer than" in text
    admin.flash_after(admin.post(f"{device}/settings", {"calls": "project", "presence_mode": ""}))
    with server.client(token) as api:
        own = api.get(f"/devices/{device_id}").json()
    assert (own["call_policy"], own["presence_mode"]) == (None, None)
    # Without the call fields (an older form), the project's policy is kept.
    admin.flash_after(admin.post(f"{base}/settings", {"name": "Calls", "engine": "sandbox"}))
    with server.client(token) as api:
        assert api.get("/app").json()["call_policy"]["reject"] is True
    audit = admin.page("/dashboard/audit").text
    assert "device.settings" in audit and "project.settings" in audit
