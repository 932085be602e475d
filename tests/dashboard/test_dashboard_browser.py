"""The operator's whole journey in a real headless Chromium against a real `wagateway
serve` (SQLite) with a real webhook receiver: log in, create a sandbox project, create a
device, watch its QR rotate and the simulated scan turn it `connected` without a reload,
send a test message, see its webhook deliveries, reveal and rotate the API key (the old
one stops working on the API), disconnect, regenerate the QR, delete. Every page visited
is scanned for the app token; screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_chat_actions import acts, receive
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, require_browser
from tests.support.dashboard import PASSWORD, create_operator
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 20_000

# Everything a page holds, except what the reveal dialogs hold (their inputs are the one
# place a key may appear): the serialised DOM, every form field's current value, storage.
PAGE_TEXT_OUTSIDE_REVEAL_DIALOGS = """
() => {
  const copy = document.documentElement.cloneNode(true);
  copy.querySelectorAll("dialog[data-secret-dialog]").forEach((d) => d.remove());
  const values = [...document.querySelectorAll("input, textarea")]
    .filter((el) => !el.closest("dialog[data-secret-dialog]"))
    .map((el) => el.value);
  const stored = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage });
  return copy.outerHTML + values.join("\\n") + stored + document.cookie;
}
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    server = GatewayServer(tmp_path_factory.mktemp("browser"), "").start()
    yield server
    server.stop()


class Journey:
    """One operator's browser tab, with the checks every page gets."""

    def __init__(self, page: Any, server: GatewayServer) -> None:
        self.page = page
        self.server = server
        self.visited: list[str] = []
        self.secrets: set[str] = set()
        self.console_errors: list[str] = []
        page.on(
            "console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("load", lambda p: self.visited.append(p.url))

    @staticmethod
    def expect(locator: Any) -> Any:
        # Imported here, not at the top: without playwright the module must still import,
        # so that the browser tests skip (or fail under CI) with the reason.
        from playwright.sync_api import expect

        return expect(locator)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def scan_for_secrets(self) -> None:
        text = self.page.evaluate(PAGE_TEXT_OUTSIDE_REVEAL_DIALOGS)
        for secret in self.secrets:
            assert secret not in text, f"an app token is in the page {self.page.url}"

    def flash(self) -> str:
        return str(self.page.locator("main > .flash").first.inner_text())

    def status(self) -> str:
        return str(self.page.locator('.pagehead [data-field="status"]').inner_text())

    def reveal(self, dialog_id: str, *, pin: str | None = None) -> str:
        self.page.click(f'[data-open-dialog="{dialog_id}"]')
        dialog = self.page.locator(f"#{dialog_id}")
        dialog.locator('input[name="password"]').fill(PASSWORD)
        if pin is not None:
            dialog.locator('input[name="pin"]').fill(pin)
        dialog.locator('button[type="submit"]').click()
        output = dialog.locator("[data-secret-output]")
        output.wait_for(state="visible", timeout=TIMEOUT_MS)
        value = str(output.input_value())
        self.secrets.add(value)
        self.scan_for_secrets()  # the key is in the dialog, and only there
        dialog.locator("[data-close-dialog]").click()
        self.expect(output).to_have_value("")  # a closed dialog does not keep the key
        return value


def _api_status(server: GatewayServer, token: str) -> int:
    return httpx.get(
        server.base_url + "/app", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def test_an_operator_runs_a_project_from_the_browser(
    chromium: Any, gateway: GatewayServer, receiver: WebhookReceiver
) -> None:
    email = create_operator(gateway, "operator@example.com", admin=True)
    context = chromium.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    journey = Journey(page, gateway)
    base = gateway.base_url

    # Log in (the dashboard sends a stranger to the login form first).
    page.goto(base + "/dashboard/")
    assert "/dashboard/login" in page.url
    journey.shot("01-login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(base + "/dashboard/")

    # Create a sandbox project; point its webhooks at the receiver.
    page.fill('input[name="name"]', "Toko Mantap")
    page.select_option('select[name="engine"]', "sandbox")
    page.get_by_role("button", name="Create project", exact=True).click()
    page.wait_for_url(re.compile(r"/dashboard/projects/[0-9a-f-]{36}$"))
    app_id = page.url.rsplit("/", 1)[1]
    page.click("nav.projectnav >> text=Settings")
    page.fill('input[name="webhook_url"]', receiver.url)
    page.check('input[name="call_reject"]')  # the call policy: reject, answer by message
    page.fill('textarea[name="call_reply_text"]', "Maaf, kami tidak menerima telepon.")
    page.get_by_role("button", name="Save settings", exact=True).click()
    assert journey.flash() == "Settings saved."
    journey.shot("05-settings")

    # Create a device: the QR shows at once and rotates live, with a countdown.
    page.click("nav.projectnav >> text=Devices")
    page.fill('input[name="device_name"]', "Customer Service Main")
    page.get_by_role("button", name="Create device", exact=True).click()
    page.wait_for_url(re.compile(r"/devices/[0-9a-f-]{36}$"))
    device_url = page.url
    device_id = device_url.rsplit("/", 1)[1]
    qr = page.locator("#qr-image")
    assert qr.is_visible() and journey.status() == "qr_generated"
    assert "This code changes in" in page.locator("[data-countdown]").inner_text()
    journey.shot("02-device-qr")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    first_qr = qr.get_attribute("src")
    page.wait_for_function(
        "src => document.getElementById('qr-image').getAttribute('src') !== src", arg=first_qr
    )
    assert page.evaluate("window.__sameDocument") is True

    # The simulated phone scans: the status turns connected on this very page.
    page.get_by_role("button", name="Simulate scan", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('.pagehead [data-field=status]').textContent === 'connected'"
    )
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert not qr.is_visible()
    assert page.locator("section:has-text('Linked') [data-field=wa_number]").inner_text() == (
        "6281234567890"
    )
    journey.shot("03-device-connected")

    # A test message from the device page; its webhooks reach the receiver and the log.
    page.fill('input[name="to"]', "6289876543210")
    page.get_by_role("button", name="Send test message", exact=True).click()
    assert "queued to 6289876543210@s.whatsapp.net" in journey.flash()
    message_id = re.search(r"Message ([0-9a-f-]{36}) queued", journey.flash())
    assert message_id
    receiver.wait_for(device_id, "receipt", count=3, timeout=30)
    page.click("nav.projectnav >> text=Webhooks")
    page.wait_for_selector("table.deliveries >> text=receipt")
    delivered = page.locator("table.deliveries tr:has-text('receipt') .state-delivered")
    assert delivered.count() >= 3
    assert page.locator("table.deliveries td", has_text=re.compile(r"^\d+ ms$")).count() >= 3
    journey.shot("04-webhooks")
    page.click("table.deliveries >> text=message >> nth=0")
    assert message_id.group(1) in page.locator("pre.payload").inner_text()
    assert page.locator("table >> text=200").count() >= 1  # the attempt's status code

    # The API key: reveal, rotate (the old key stops working on the API), reveal again.
    page.click("nav.projectnav >> text=Settings")
    old_key = journey.reveal("reveal-key-dialog")
    assert old_key.startswith("wag_") and _api_status(gateway, old_key) == 200
    own_app = httpx.get(
        base + "/app", headers={"Authorization": f"Bearer {old_key}"}, timeout=10
    ).json()
    assert own_app["call_policy"] == {
        "reject": True,
        "reply_text": "Maaf, kami tidak menerima telepon.",
    }
    assert page.locator('input[name="call_reject"]').is_checked()
    page.click('[data-open-dialog="rotate-key-dialog"]')
    journey.shot("06-rotate-dialog")
    page.locator("#rotate-key-dialog [data-close-dialog]").click()
    new_key = journey.reveal("rotate-key-dialog")
    assert new_key != old_key
    assert _api_status(gateway, old_key) == 401
    assert _api_status(gateway, new_key) == 200
    assert journey.reveal("reveal-key-dialog") == new_key

    # The delivery log keeps itself current: a message sent through the API (another
    # actor) shows up on the open page, which does not reload.
    page.click("nav.projectnav >> text=Webhooks")
    page.evaluate("window.__sameDocument = true")
    message_rows = page.locator("table.deliveries tr:has(td > a:text-is('message'))")
    before = message_rows.count()
    sent = httpx.post(
        f"{base}/devices/{device_id}/messages",
        json={"to": "6281112223334", "text": "sent through the API"},
        headers={"Authorization": f"Bearer {new_key}"},
        timeout=10,
    )
    assert sent.status_code == 202
    journey.expect(message_rows).to_have_count(before + 1, timeout=TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True

    # Disconnect, regenerate the QR, be told plainly why a second one is refused, delete.
    page.goto(device_url)
    page.get_by_role("button", name="Disconnect", exact=True).click()
    assert journey.status() == "disconnected"
    page.get_by_role("button", name="Regenerate QR", exact=True).click()
    assert journey.flash() == "A new QR is ready." and journey.status() == "qr_generated"
    page.get_by_role("button", name="Regenerate QR", exact=True).click()
    refused = journey.flash()
    assert "A new QR can be made only when" in refused and "still valid" in refused
    page.get_by_role("button", name="Delete device…", exact=True).click()
    confirm = page.locator('#delete-dialog button[type="submit"]')
    assert confirm.is_disabled()
    page.fill('#delete-dialog input[name="confirm_name"]', "Customer Service Main")
    confirm.click()
    assert "deleted" in journey.flash() and journey.status() == "destroyed"
    assert "messages and events are archived" in page.locator(".flash-info").inner_text()
    assert page.locator("table >> text=6289876543210@s.whatsapp.net").count() >= 1

    # On a phone-sized screen the pages still work (nothing needs a wide window).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + f"/dashboard/projects/{app_id}")
    journey.shot("07-phone-devices")
    page.goto(base + "/dashboard/")
    journey.shot("00-overview")
    page.goto(base + "/dashboard/audit")
    for action in ("api_key.rotate", "device.delete", "sandbox.scan"):
        assert page.locator(f"td >> text={action}").count() >= 1

    # No page the operator saw held a key, and no script failed.
    for url in set(journey.visited):
        page.goto(url)
        journey.scan_for_secrets()
    assert len(set(journey.visited)) >= 8
    assert journey.console_errors == []
    context.close()


def test_an_operator_reads_replies_reacts_and_deletes_from_the_device_page(
    chromium: Any, gateway: GatewayServer
) -> None:
    """The device page's message actions, each through the API's own service: what the
    device did shows in the sandbox's network log."""
    project = gateway.create_app("Toko Balas")
    app_id, token = project["app_id"], project["app_token"]
    email = create_operator(gateway, "replier@example.com", admin=True)
    with gateway.client(token) as api:
        device_id = str(create_device(api, "Front desk")["device_id"])
        scan_current_qr(api, device_id)
        theirs_wa = receive(api, device_id, "6285550001111", "Is the blue one in stock?")
        theirs = next(
            m
            for m in api.get(f"/devices/{device_id}/messages").json()["messages"]
            if m["wa_message_id"] == theirs_wa
        )
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        journey = Journey(page, gateway)
        journey.secrets.add(token)
        device_url = f"{gateway.base_url}/dashboard/projects/{app_id}/devices/{device_id}"
        page.goto(device_url)
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(device_url)
        row = page.locator(f'tr[data-message-id="{theirs["message_id"]}"]')
        assert "from 6285550001111" in row.inner_text()
        assert row.get_by_role("button", name="Delete for everyone").count() == 0

        # Read: the contact gets blue ticks.
        row.get_by_role("button", name="Read", exact=True).click()
        assert journey.flash().startswith("Marked read")
        read = wait_until(lambda: acts(api, device_id, "read"), what="the read receipt", timeout=30)
        assert [e["wa_message_id"] for e in read] == [theirs_wa]
        assert row.get_by_role("button", name="Read", exact=True).count() == 0

        # Reply: a queued text that quotes the contact's message.
        row.locator("summary", has_text="Reply").click()
        row.locator('input[name="text"]').fill("Yes, three left!")
        journey.shot("08-device-message-reply")
        row.get_by_role("button", name="Send reply", exact=True).click()
        replied = re.search(r"Reply ([0-9a-f-]{36}) queued", journey.flash())
        assert replied, journey.flash()
        reply_sent = wait_until(
            lambda: [e for e in acts(api, device_id, "message") if e.get("reply_to") == theirs_wa],
            what="the reply on the network",
            timeout=30,
        )
        assert reply_sent[0]["text"] == "Yes, three left!"
        assert reply_sent[0]["to"] == "6285550001111@s.whatsapp.net"

        # React: a reaction to the contact's message.
        row.locator('input[name="emoji"]').fill("🙏")
        row.get_by_role("button", name="React", exact=True).click()
        assert "Reaction 🙏 queued" in journey.flash()
        wait_until(
            lambda: [
                e for e in acts(api, device_id, "message") if e.get("reaction_to") == theirs_wa
            ],
            what="the reaction on the network",
            timeout=30,
        )

        # Delete: the reply, once sent, is deleted for everyone (the page refreshes itself).
        mine = page.locator(f'tr[data-message-id="{replied.group(1)}"]')
        delete = mine.get_by_role("button", name="Delete for everyone", exact=True)
        journey.expect(delete).to_be_visible(timeout=TIMEOUT_MS)
        delete.click()
        assert journey.flash() == f"Message {replied.group(1)} deleted for everyone."
        revoked = wait_until(lambda: acts(api, device_id, "revoke"), what="the revoke", timeout=30)
        assert [e["wa_message_id"] for e in revoked] == [reply_sent[0]["wa_message_id"]]
        stored = api.get(f"/devices/{device_id}/messages/{replied.group(1)}").json()
        assert stored["revoked"] is True and stored["reply_to"] == theirs_wa
        assert "(deleted for everyone)" in mine.inner_text()
        journey.shot("09-device-messages")

        page.goto(gateway.base_url + "/dashboard/audit")
        for action in ("message.read", "message.reply", "message.react", "message.delete"):
            assert page.locator(f"td >> text={action}").count() >= 1, action
        page.goto(device_url)
        journey.scan_for_secrets()
        assert journey.console_errors == []
        context.close()


def test_an_operator_restarts_a_device_and_unblocks_a_contact(
    chromium: Any, gateway: GatewayServer
) -> None:
    """The device page's chats, groups (a member added) and account card (CONTRACT §8.3,
    §8.4): the blocklist with Unblock, and Restart; each seen in the sandbox."""
    project = gateway.create_app("Toko Restart")
    app_id, token = project["app_id"], project["app_token"]
    email = create_operator(gateway, "restarter@example.com", admin=True)
    with gateway.client(token) as api:
        device_id = str(create_device(api, "Counter")["device_id"])
        scan_current_qr(api, device_id)
        blocked = "6285550003333@s.whatsapp.net"
        assert api.post(f"/devices/{device_id}/contacts/{blocked}/block").status_code == 200
        writer = "6285550002222"
        wrote = api.post(
            f"/sandbox/devices/{device_id}/inbound", json={"from": writer, "text": "halo"}
        )
        assert wrote.status_code == 202, wrote.text
        wait_until(
            lambda: api.get(f"/devices/{device_id}/chats").json()["chats"], what="the chat stored"
        )
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        journey = Journey(page, gateway)
        journey.secrets.add(token)
        device_url = f"{gateway.base_url}/dashboard/projects/{app_id}/devices/{device_id}"
        page.goto(device_url)
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(device_url)

        # Its chats (issue 18): the contact's message, unread.
        chat = page.locator(f'[data-chat="{writer}@s.whatsapp.net"]')
        assert chat.locator("[data-unread]").inner_text() == "1"
        # Its groups: the account is admin of the sandbox's group; add a member there.
        group = "120363012345678901@g.us"
        section = page.locator(f'[data-group="{group}"]')
        section.locator('input[name="phone"]').fill("6285550004444")
        section.get_by_role("button", name="Apply").click()
        member = "6285550004444@s.whatsapp.net"
        assert journey.flash() == f"add {member} in {group}: ok."
        assert page.locator(f'[data-group="{group}"] [data-member="{member}"]').count() == 1

        entry = page.locator(f'[data-blocked="{blocked}"]')
        entry.get_by_role("button", name="Unblock", exact=True).click()
        assert journey.flash() == f"Unblocked {blocked}."
        assert api.get(f"/devices/{device_id}/blocklist").json() == {"blocklist": []}
        assert page.locator(f'[data-blocked="{blocked}"]').count() == 0

        page.locator("[data-device-account]").get_by_role("button", name="Restart").click()
        assert journey.flash().startswith("Restarting")
        restarted = wait_until(
            lambda: [e for e in acts(api, device_id, "disconnect") if e["reason"] == "restart"],
            what="the restart on the network",
            timeout=30,
        )
        assert len(restarted) == 1
        wait_until(
            lambda: api.get(f"/devices/{device_id}").json()["connection"] == "online",
            what="back online",
            timeout=30,
        )
        journey.shot("10-device-account")
        page.goto(gateway.base_url + "/dashboard/audit")
        for action in ("device.restart", "contact.unblock", "group.participants"):
            assert page.locator(f"td >> text={action}").count() >= 1, action
        assert journey.console_errors == []
        context.close()
