"""The device page's chats (CONTRACT §8.4): by last activity, with unread counts that fall
when the device reads a message."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_chat_actions import receive
from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.dashboard import logged_in_admin
from tests.support.harness import GatewayServer

pytestmark = pytest.mark.e2e


def _rows(html: str) -> list[tuple[str, str]]:
    """(chat, unread) of each row of the page's chats table, in order."""
    table = html.split('<table class="chats">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-chat="([^"]+)">.*?<td data-unread>(\d+)</td>', table, re.S)


def test_the_device_page_lists_its_chats_with_unread_counts(server: GatewayServer) -> None:
    project = server.create_app("Toko Chat")
    app_id = project["app_id"]
    with server.client(project["app_token"]) as api, logged_in_admin(server) as admin:
        device_id = str(create_device(api, "Front desk")["device_id"])
        scan_current_qr(api, device_id)
        url = f"/dashboard/projects/{app_id}/devices/{device_id}"
        assert "No chats yet" in admin.page(url).text
        receive(api, device_id, "6285550001111", "satu")
        second = receive(api, device_id, "6285550002222", "dua")
        page = admin.page(url).text
        assert _rows(page) == [
            ("6285550002222@s.whatsapp.net", "1"),
            ("6285550001111@s.whatsapp.net", "1"),
        ]
        assert "Sandbox 2222" in page
        assert api.post(f"/devices/{device_id}/messages/{second}/read").status_code == 200
        assert _rows(admin.page(url).text)[0] == ("6285550002222@s.whatsapp.net", "0")
