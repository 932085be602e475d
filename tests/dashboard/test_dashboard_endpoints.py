"""A project's webhook endpoints in the dashboard (CONTRACT §10): in a real headless
Chromium against the shared `wagateway serve` with a real receiver, an operator creates an
endpoint with an event filter and sees its secret once, edits the filter, sends it a test
event (signed with that secret) and sees it delivered in the endpoint's own log, rotates the
secret, disables and deletes it. Without a browser: a refused filter saves nothing."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.test_device_flow import create_device
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, require_browser
from tests.support.dashboard import PASSWORD, create_operator, logged_in_admin
from tests.support.harness import Delivery, GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 15_000


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"endpoints-{name}.png"), full_page=True)


def _test_events(receiver: WebhookReceiver) -> list[Delivery]:
    return [d for d in receiver.events(event="webhook_test")]


@pytest.mark.storage_agnostic  # the dashboard's pages; the services' storage has its own tests
def test_an_operator_manages_a_webhook_endpoint_in_the_browser(
    server: GatewayServer, receiver: WebhookReceiver
) -> None:
    # Made before the browser starts: Playwright's sync API runs an event loop in this
    # thread, and these run the services in process on one of their own.
    creds = server.create_app("Endpoints shop")  # no webhook_url: no `default`
    app_id = creds["app_id"]
    with server.client(creds["app_token"]) as api:
        create_device(api, "Front desk")
    email = create_operator(server, f"ep-{uuid.uuid4().hex[:8]}@example.com", admin=True)
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            _journey(browser, server, receiver, app_id, email)
        finally:
            browser.close()


def _journey(
    browser: Any, server: GatewayServer, receiver: WebhookReceiver, app_id: str, email: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    base = server.base_url
    project = f"{base}/dashboard/projects/{app_id}"
    try:
        page.goto(f"{base}/dashboard/login")
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(base + "/dashboard/")

        # The project's webhooks page links to its endpoints.
        page.goto(f"{project}/webhooks")
        page.click("[data-endpoints-link]")
        page.wait_for_url(f"{project}/webhook-endpoints")
        assert page.locator("table.endpoints tr[data-endpoint-id]").count() == 0

        # Create one that gets `message` events only: its secret is shown on the next page.
        create = page.locator("form[data-create-endpoint]")
        create.locator('input[name="url"]').fill(receiver.url)
        create.locator('input[name="description"]').fill("CRM sync")
        create.locator('input[name="events"][value="message"]').check()
        create.get_by_role("button", name="Create endpoint").click()
        output = page.locator("[data-one-time-secret] [data-secret-output]")
        secret = str(output.input_value())
        assert secret.startswith("whsec_"), secret
        assert secret not in page.url
        page.click("text=Done: to the endpoint")
        page.wait_for_url(re.compile(rf"{project}/webhook-endpoints/[0-9a-f-]{{36}}$"))
        endpoint_id = page.url.rsplit("/", 1)[1]
        assert page.locator('[data-field="events"]').inner_text() == "message"
        assert secret not in page.content()
        page.reload()  # nor after a reload
        assert secret not in page.content()
        page.goto(f"{project}/webhook-endpoints")
        row = page.locator(f'tr[data-endpoint-id="{endpoint_id}"]')
        assert row.locator('[data-field="events"]').inner_text() == "message"
        assert "CRM sync" in row.inner_text() and secret not in page.content()
        _shot(page, "01-list")

        # Edit the filter: `message` and `receipt`.
        row.locator("a").click()
        edit = page.locator("form[data-edit-endpoint]")
        expect(edit.locator('input[name="events"][value="message"]')).to_be_checked()
        edit.locator('input[name="events"][value="receipt"]').check()
        edit.get_by_label("Front desk").check()
        edit.get_by_role("button", name="Save endpoint").click()
        expect(page.locator("main > .flash")).to_have_text("Endpoint saved.")
        assert page.locator('[data-field="events"]').inner_text() == "message, receipt"
        assert page.locator('[data-field="devices"]').inner_text() == "Front desk"
        _shot(page, "02-endpoint")

        # A test event to it: signed with its secret, delivered, in its own log.
        page.get_by_role("button", name="Send test event").click()
        page.wait_for_url(f"{project}/webhooks?endpoint_id={endpoint_id}")
        flash = page.locator("main > .flash").inner_text()
        found = re.search(r"Test event (\S+) queued to endpoint", flash)
        assert found, flash
        request_id = found.group(1)
        [delivered] = wait_until(lambda: _test_events(receiver), what="the test event")
        assert Webhook(secret).verify(delivered.body, delivered.headers)["request_id"] == (
            request_id
        )
        # The log refreshes itself: the row turns delivered on this page.
        log_row = page.locator(f'[data-endpoint-log] tr[data-request-id="{request_id}"]')
        expect(log_row.locator(".state-delivered")).to_be_visible()
        log_row.locator("a").click()
        states = page.locator(f'table.endpoint-states tr[data-endpoint-id="{endpoint_id}"]')
        expect(states.locator(".state-delivered")).to_be_visible()
        assert states.locator("td").nth(3).inner_text().startswith("200")
        _shot(page, "03-delivery")
        # Again to that endpoint: the same request id, signed alike.
        states.get_by_role("button", name=f"Redeliver to {endpoint_id}").click()
        expect(page.locator("main > .flash")).to_contain_text(f"to endpoint {endpoint_id}")
        again = wait_until(lambda: _test_events(receiver)[1:], what="the redelivery")
        assert again[0].headers["webhook-id"] == delivered.headers["webhook-id"]
        assert Webhook(secret).verify(again[0].body, again[0].headers)["request_id"] == request_id

        # Rotate: the new secret is shown once, and signs (both sign during the grace).
        page.goto(f"{project}/webhook-endpoints/{endpoint_id}")
        page.fill('input[name="grace_hours"]', "1")
        page.get_by_role("button", name="Rotate secret").click()
        rotated = str(page.locator("[data-one-time-secret] [data-secret-output]").input_value())
        assert rotated.startswith("whsec_") and rotated != secret
        page.click("text=Done: to the endpoint")
        assert rotated not in page.content()
        expect(page.locator('[data-field="previous-secret"]')).to_be_visible()

        # Disable, then delete (the button waits for the id to be typed).
        page.get_by_role("button", name="Disable").click()
        expect(page.locator("main > .flash")).to_contain_text("Endpoint disabled")
        expect(page.locator('.pagehead [data-field="enabled"]')).to_have_text("disabled")
        expect(page.get_by_role("button", name="Send test event")).to_be_disabled()
        page.click('[data-open-dialog="delete-endpoint-dialog"]')
        dialog = page.locator("#delete-endpoint-dialog")
        confirm = dialog.get_by_role("button", name="Delete endpoint")
        expect(confirm).to_be_disabled()
        dialog.locator('input[name="confirm_id"]').fill(endpoint_id)
        confirm.click()
        page.wait_for_url(f"{project}/webhook-endpoints")
        expect(page.locator("main > .flash")).to_contain_text(f"Endpoint {endpoint_id} deleted")
        assert page.locator("table.endpoints tr[data-endpoint-id]").count() == 0
        assert console_errors == []
    finally:
        context.close()


def test_an_unknown_event_name_is_refused_and_nothing_is_saved(server: GatewayServer) -> None:
    with logged_in_admin(server) as admin:
        created = admin.post("/dashboard/projects", {"name": "Refused shop", "engine": "sandbox"})
        app_id = created.headers["location"].rsplit("/", 1)[1]
        listing = f"/dashboard/projects/{app_id}/webhook-endpoints"
        admin.page(listing)
        refused = admin.post(
            listing,
            {
                "url": "https://example.com/hooks",
                "events": ["message", "no_such_event"],
                "enabled": "1",
            },
        )
        assert admin.flash_after(refused) == (
            "error",
            "unknown event name(s): no_such_event; see GET /openapi.json or the contract "
            "for the names",
        )
        page = admin.page(listing).text
        assert "data-endpoint-id=" not in page and "whsec_" not in page

        # An edit refused alike changes nothing.
        made = admin.post(listing, {"url": "https://example.com/crm", "events": "message"})
        endpoint_id = re.search(r"webhook-endpoints/([0-9a-f-]{36})", made.text)
        assert made.status_code == 200 and endpoint_id, made.text[:300]
        endpoint = f"{listing}/{endpoint_id.group(1)}"
        edit = {"url": "https://example.com/other", "events": ["receipt", "nope"]}
        kind, text = admin.flash_after(admin.post(endpoint, edit))
        assert kind == "error" and text.startswith("unknown event name(s): nope;"), text
        page = admin.page(endpoint).text
        assert '<dd data-field="events">message</dd>' in page
        assert "https://example.com/crm" in page and "https://example.com/other" not in page


def test_the_delivery_log_of_one_endpoint_and_its_failed_events_again(
    server: GatewayServer,
) -> None:
    with logged_in_admin(server) as admin:
        created = admin.post("/dashboard/projects", {"name": "Log shop", "engine": "sandbox"})
        app_id = created.headers["location"].rsplit("/", 1)[1]
        project = f"/dashboard/projects/{app_id}"
        admin.page(f"{project}/webhook-endpoints")
        made = admin.post(f"{project}/webhook-endpoints", {"url": "https://example.com/crm"})
        found = re.search(r"webhook-endpoints/([0-9a-f-]{36})", made.text)
        assert made.status_code == 200 and found, made.text[:300]
        endpoint_id = found.group(1)
        log = admin.page(f"{project}/webhooks?endpoint_id={endpoint_id}").text
        assert f'data-endpoint-log="{endpoint_id}"' in log
        assert f'<option value="{endpoint_id}" selected>' in log
        again = admin.post(f"{project}/webhooks-redeliver-failed", {"endpoint_id": endpoint_id})
        assert again.headers["location"] == f"{project}/webhooks?endpoint_id={endpoint_id}"
        assert admin.flash_after(again) == ("ok", "0 failed event(s) queued for delivery again.")
        # An endpoint the project does not have has no log to show.
        admin.page(f"{project}/webhooks?endpoint_id=no-such-endpoint", expect=404)


def test_the_default_endpoint_is_the_projects_webhook_target(server: GatewayServer) -> None:
    with logged_in_admin(server) as admin:
        created = admin.post("/dashboard/projects", {"name": "Default shop", "engine": "sandbox"})
        project = created.headers["location"]
        admin.page(f"{project}/settings")
        saved = admin.post(f"{project}/settings", {"webhook_url": "https://example.com/hooks"})
        assert admin.flash_after(saved) == ("ok", "Settings saved.")
        listing = admin.page(f"{project}/webhook-endpoints").text
        assert 'data-endpoint-id="default"' in listing and "https://example.com/hooks" in listing

        delete = f"{project}/webhook-endpoints/default/delete"
        kind, text = admin.flash_after(admin.post(delete, {"confirm_id": "defaul"}))
        assert (kind, text) == ("error", "to delete it, type its id exactly")
        assert 'data-endpoint-id="default"' in admin.page(f"{project}/webhook-endpoints").text

        kind, text = admin.flash_after(admin.post(delete, {"confirm_id": "default"}))
        assert kind == "ok" and "webhook URL is cleared" in text, text
        assert "data-endpoint-id=" not in admin.page(f"{project}/webhook-endpoints").text
        assert 'name="webhook_url" value=""' in admin.page(f"{project}/settings").text
