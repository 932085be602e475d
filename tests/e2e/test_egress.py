"""Where the gateway's outbound connections come from (issue 6): `WAGW_OUTBOUND_SOURCE_ADDRESS`
binds every connection made for a tenant (webhooks, media URL fetches) to one local address,
and `WAGW_EGRESS_ADDRESSES` is published to app owners for their receivers' allowlists.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a gateway bound to 127.0.0.2
reaches a receiver on 127.0.0.1, which sees 127.0.0.2 as the peer."""

from __future__ import annotations

import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.support.dashboard import logged_in_admin
from tests.support.harness import GatewayServer, WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_deliveries_and_media_fetches_leave_from_the_source_address(make_server) -> None:
    receiver = WebhookReceiver().start()  # listens on 127.0.0.1
    receiver.media = PNG
    gateway: GatewayServer = make_server(
        WAGW_OUTBOUND_SOURCE_ADDRESS="127.0.0.2",
        WAGW_EGRESS_ADDRESSES="203.0.113.7, 2001:db8:10::/48",
    )
    creds = gateway.create_app("egress", receiver.url)
    gateway.start()
    try:
        with gateway.client(creds["app_token"]) as api:
            device = create_device(api, "egress")
            device_id = device["device_id"]
            scan(api, device["qr"])
            sent = api.post(
                f"/devices/{device_id}/messages",
                params={"wait": "true"},
                json={
                    "to": "6281211112222",
                    "type": "image",
                    "url": receiver.url.replace("/hooks/wa", "/media/a.png"),
                    "mime_type": "image/png",
                },
            )
            # ?wait=true answers once the message left the device; the sandbox's receipts may
            # already have moved it on (sandbox timing is not the test's to race).
            assert sent.status_code == 200, sent.text
            assert sent.json()["status"] in ("sent", "delivered", "read"), sent.text
            receiver.wait_for(device_id, "device_connected")
            assert [f.path for f in receiver.fetches] == ["/media/a.png"]
            assert receiver.fetches[0].peer == "127.0.0.2"
            assert receiver.deliveries
            assert {d.peer for d in receiver.deliveries} == {"127.0.0.2"}

            published = ["203.0.113.7", "2001:db8:10::/48"]
            assert api.get("/app").json()["egress_addresses"] == published
            assert api.patch("/app", json={"name": "egress 2"}).json()["egress_addresses"] == (
                published
            )
        with logged_in_admin(gateway) as admin:
            for page in ("settings", "webhooks"):
                html = admin.page(f"/dashboard/projects/{creds['app_id']}/{page}").text
                assert "data-egress-addresses" in html, page
                assert all(f"<code>{a}</code>" in html for a in published), page
    finally:
        receiver.stop()


def test_without_the_settings_nothing_is_published_and_the_system_picks(
    server: GatewayServer, receiver: WebhookReceiver, api, app_creds: dict
) -> None:
    device = create_device(api, "default egress")
    receiver.wait_for(device["device_id"], "device_qr_generated")
    assert {d.peer for d in receiver.deliveries} == {"127.0.0.1"}
    assert api.get("/app").json()["egress_addresses"] == []
    with logged_in_admin(server) as admin:
        html = admin.page(f"/dashboard/projects/{app_creds['app_id']}/settings").text
        assert "data-egress-addresses" not in html


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WAGW_OUTBOUND_SOURCE_ADDRESS": "203.0.113.9"},
            "WAGW_OUTBOUND_SOURCE_ADDRESS: 203.0.113.9 is not an address of this host",
        ),
        (
            {"WAGW_OUTBOUND_SOURCE_ADDRESS": "gateway.example"},
            "WAGW_OUTBOUND_SOURCE_ADDRESS: 'gateway.example' is not an IP address",
        ),
        (
            {"WAGW_EGRESS_ADDRESSES": "203.0.113.7, the office"},
            "WAGW_EGRESS_ADDRESSES: 'the office' does not appear to be an IPv4 or IPv6 network",
        ),
    ],
)
def test_a_bad_address_setting_stops_the_start_with_a_clear_error(
    make_server, env: dict[str, str], message: str
) -> None:
    gateway: GatewayServer = make_server(**env)
    result = gateway.cli("serve", "--port", "1", check=False)
    assert result.returncode == 2
    assert f"error: invalid setting {message}" in result.stderr
    assert "Traceback" not in result.stderr
