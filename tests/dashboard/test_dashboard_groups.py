"""A device's groups on its dashboard page: members listed, a participant added and removed
through the engine under the API's rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dashboard import DashboardClient, logged_in_admin
from tests.support.harness import GatewayServer

pytestmark = pytest.mark.e2e

GROUP = "120363012345678901@g.us"


@pytest.fixture
def admin(server: GatewayServer) -> Iterator[DashboardClient]:
    with logged_in_admin(server) as client:
        yield client


def test_the_device_page_lists_groups_and_changes_members(admin: DashboardClient) -> None:
    created = admin.post("/dashboard/projects", {"name": "Groups page", "engine": "sandbox"})
    app_id = created.headers["location"].rsplit("/", 1)[1]
    made = admin.post(f"/dashboard/projects/{app_id}/devices", {"device_name": "Desk"})
    device_id = made.headers["location"].rsplit("/", 1)[1]
    device = f"/dashboard/projects/{app_id}/devices/{device_id}"
    assert 'id="groups"' not in admin.page(device).text, "not connected: no groups section"
    scanned = admin.flash_after(admin.post(f"{device}/sandbox/scan", {"phone": "6281234567890"}))
    assert scanned[0] == "ok", scanned

    page = admin.page(device).text
    assert 'id="groups"' in page and f'data-group="{GROUP}"' in page
    assert 'data-member="6281234567890@s.whatsapp.net"' in page

    kind, text = admin.flash_after(
        admin.post(
            f"{device}/groups/participants",
            {"group": GROUP, "change": "add", "phone": "6285550006666"},
        )
    )
    assert (kind, text) == ("ok", f"add 6285550006666@s.whatsapp.net in {GROUP}: ok.")
    assert 'data-member="6285550006666@s.whatsapp.net"' in admin.page(device).text
    kind, text = admin.flash_after(
        admin.post(
            f"{device}/groups/participants",
            {"group": GROUP, "change": "remove", "phone": "6285550006666"},
        )
    )
    assert kind == "ok" and text.endswith(": ok.")
    assert 'data-member="6285550006666@s.whatsapp.net"' not in admin.page(device).text
    kind, text = admin.flash_after(
        admin.post(
            f"{device}/groups/participants",
            {"group": "120363999999999999@g.us", "change": "add", "phone": "6285550006666"},
        )
    )
    assert kind == "error" and "not found" in text
