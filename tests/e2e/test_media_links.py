"""`media_url` (CONTRACT §10): beside every `media_path`, a signed link that works without a
token until it expires; changed, expired and other apps' links refused. And
`GET /devices/{device_id}/media?path=` for callers that name a device (internal callers:
tests/e2e/test_internal_access.py). On the shared server; expiry to the second is in
tests/unit/test_media_links.py, here a genuine link made already expired with the server's
own key."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import error_code
from tests.e2e.test_device_flow import create_device, scan
from tests.e2e.test_inbound_media_queries import inbound, message_event
from tests.support.harness import GatewayServer, WebhookReceiver, wait_until
from wagateway.cli_context import CliContext
from wagateway.core.secrets import load_master_key
from wagateway.media.links import MediaLinks

pytestmark = pytest.mark.e2e

FILE_HEADERS = ("content-type", "content-disposition", "content-length")


def link_parts(url: str) -> dict[str, str]:
    query = parse_qs(urlsplit(url).query, strict_parsing=True)
    return {name: values[0] for name, values in query.items()}


def link(parts: dict[str, str], **changed: str) -> str:
    return "/media/link?" + urlencode(parts | changed, safe="/")


def signed_by_server(server: GatewayServer, app_id: str, path: str, at: float) -> str:
    """A genuine link of the server's, as it would have made it at Unix time `at`."""

    async def sign(ctx: CliContext) -> str:
        key = load_master_key(ctx.settings.secret_key, ctx.settings.data_dir)
        return MediaLinks(key, ctx.settings.media_url_seconds, clock=lambda: at).url(app_id, path)

    return server.in_process(sign)


def inbound_image(api: httpx.Client, receiver: WebhookReceiver, device_id: str) -> dict:
    return message_event(receiver, device_id, inbound(api, device_id, {"type": "image"}))


def connected(api: httpx.Client, name: str) -> str:
    return str(scan(api, create_device(api, name)["qr"])["device_id"])


def test_media_url_works_without_a_token_until_it_expires(
    server: GatewayServer, api: httpx.Client, receiver: WebhookReceiver, app_creds: dict
) -> None:
    device_id = connected(api, "links")
    before = int(time.time())
    event = inbound_image(api, receiver, device_id)
    path, url = event["media_path"], event["media_url"]
    parts = link_parts(url)
    assert url.startswith("/media/link?")  # no WAGW_PUBLIC_BASE_URL: relative to the gateway
    assert parts["path"] == path and set(parts) == {"path", "expires", "sig"}
    assert before + 86400 <= int(parts["expires"]) <= int(time.time()) + 86400
    assert app_creds["app_token"] not in url and app_creds["webhook_secret"] not in url

    with server.client() as anonymous:
        got = anonymous.get(url)
        assert got.status_code == 200, got.text
        with_token = api.get("/media", params={"path": path})
        assert got.content == with_token.content and got.content.startswith(b"\x89PNG")
        assert [got.headers[h] for h in FILE_HEADERS] == [
            with_token.headers[h] for h in FILE_HEADERS
        ]
        assert got.headers["content-type"] == "image/png"
        # The messages API gives a link too, signed when it answers; it works the same.
        stored = api.get(f"/devices/{device_id}/messages/{event['message_id']}").json()
        assert stored["media_path"] == path and link_parts(stored["media_url"])["path"] == path
        assert anonymous.get(stored["media_url"]).content == got.content
        listed = api.get(f"/devices/{device_id}/messages", params={"direction": "inbound"})
        assert [m["media_url"] is not None for m in listed.json()["messages"]] == [True]
        # A message without an attachment: no link, as no path.
        text = message_event(receiver, device_id, inbound(api, device_id, {"text": "hi"}))
        assert text["media_path"] is None and text["media_url"] is None

        # The same link made by the server a day and a minute ago: genuine, but expired.
        expired = signed_by_server(server, app_creds["app_id"], path, time.time() - 86460)
        refused = anonymous.get(expired)
        assert refused.status_code == 403 and error_code(refused) == "forbidden", refused.text
        assert refused.json()["error"]["details"] == {"reason": "expired"}
        assert b"\x89PNG" not in refused.content
        # ...and one made now with the same key works: the key is the server's.
        fresh = signed_by_server(server, app_creds["app_id"], path, time.time())
        assert anonymous.get(fresh).content == got.content

        # A redelivery carries a link signed when it is sent; the stored event keeps its own.
        def deliveries() -> list[dict]:
            return [
                d.json
                for d in receiver.events(device_id, "message")
                if d.json["payload"]["message_id"] == event["message_id"]
            ]

        request_id = deliveries()[0]["request_id"]
        assert api.post(f"/webhooks/deliveries/{request_id}/redeliver").status_code == 202
        again = wait_until(lambda: deliveries()[1:], what="the redelivery")[0]["payload"]
        assert link_parts(again["media_url"])["expires"] >= parts["expires"]
        assert anonymous.get(again["media_url"]).content == got.content
        stored = api.get(f"/webhooks/deliveries/{request_id}").json()["payload"]["media_url"]
        assert link_parts(stored)["path"] == path and anonymous.get(stored).status_code == 200
        assert link_parts(stored)["expires"] <= parts["expires"]  # made with the event


def test_changed_and_other_apps_links_are_refused(
    server: GatewayServer, api: httpx.Client, receiver: WebhookReceiver, app_creds: dict
) -> None:
    mine = inbound_image(api, receiver, connected(api, "links mine"))
    other_creds = server.create_app("links other", receiver.url)
    with server.client(other_creds["app_token"]) as other_api:
        theirs = inbound_image(other_api, receiver, connected(other_api, "links other"))
    parts, their_parts = link_parts(mine["media_url"]), link_parts(theirs["media_url"])
    sig = parts["sig"]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")

    with server.client() as anonymous:
        assert anonymous.get(link(parts)).status_code == 200
        not_found = {
            "changed signature": link(parts, sig=flipped),
            "no signature": link(parts, sig=""),
            "later expiry": link(parts, expires=str(int(parts["expires"]) + 3600)),
            "my signature on their path": link(parts, path=their_parts["path"]),
            "their signature on my path": link(their_parts, path=parts["path"]),
            "my file under their app": link(
                parts, path=parts["path"].replace(app_creds["app_id"], other_creds["app_id"])
            ),
        }
        for case, url in not_found.items():
            refused = anonymous.get(url)
            assert (refused.status_code, error_code(refused)) == (404, "not_found"), case
            assert b"\x89PNG" not in refused.content, case
        # A genuine signature for a path that is no message of that app: the route checks
        # that the file is the app's, not only the signature.
        claimed = parts["path"].replace(app_creds["app_id"], other_creds["app_id"])
        forged = anonymous.get(
            signed_by_server(server, other_creds["app_id"], claimed, time.time())
        )
        assert (forged.status_code, error_code(forged)) == (404, "not_found")
        # Not a media path at all: the same 400 as `GET /media`.
        for path in ("../secret.key", f"media/{app_creds['app_id']}/../../secret.key"):
            bad = anonymous.get(link(parts, path=path))
            assert (bad.status_code, error_code(bad)) == (400, "validation_error"), path
        missing = anonymous.get(f"/media/link?path={parts['path']}")
        assert (missing.status_code, error_code(missing)) == (400, "validation_error")
        # The app's token neither helps nor is needed: the link alone decides.
        assert api.get(link(parts, sig=flipped)).status_code == 404


def test_device_media_for_the_devices_app_only(
    server: GatewayServer, api: httpx.Client, receiver: WebhookReceiver, app_creds: dict
) -> None:
    device_id = connected(api, "device media")
    path = inbound_image(api, receiver, device_id)["media_path"]
    got = api.get(f"/devices/{device_id}/media", params={"path": path})
    assert got.status_code == 200, got.text
    assert got.content == api.get("/media", params={"path": path}).content
    assert got.headers["content-type"] == "image/png"

    # Another device of the same app does not serve this device's file.
    sibling = create_device(api, "device media sibling")["device_id"]
    wrong_device = api.get(f"/devices/{sibling}/media", params={"path": path})
    assert (wrong_device.status_code, error_code(wrong_device)) == (404, "not_found")
    bad = api.get(f"/devices/{device_id}/media", params={"path": "../secret.key"})
    assert (bad.status_code, error_code(bad)) == (400, "validation_error")

    # Another app: neither the device nor the path is its.
    intruder = server.create_app("device media intruder")
    with server.client(intruder["app_token"]) as other:
        for response in (
            other.get(f"/devices/{device_id}/media", params={"path": path}),
            other.get(
                f"/devices/{connected(other, 'intruder device')}/media", params={"path": path}
            ),
        ):
            assert (response.status_code, error_code(response)) == (404, "not_found")
            assert b"\x89PNG" not in response.content
    with server.client() as anonymous:
        no_token = anonymous.get(f"/devices/{device_id}/media", params={"path": path})
        assert no_token.status_code == 401  # not allowlisted: a token is needed
