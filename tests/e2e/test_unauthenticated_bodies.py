"""Bodies the gateway will not hold for a stranger (docs/limits.md, "Body caps"): the token is
verified before a byte of the body is read, so a request without a valid token is answered
401 while its client is still sending (no token, a malformed one, an unknown one, one rotated
out after this process verified it), with `Content-Length` or chunked; a valid token's media
send still goes through, large or small. Each route's body is capped at what it needs.
Against a real server on both databases; what the HTTP layer refuses before a token is
looked up, on SQLite only."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_device_flow import create_device, scan
from tests.e2e.test_internal_access import internal_audit
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, wait_until

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
DECLARED = 80 * MB  # what a stranger says it will send
SENT = 8 * 1024  # what it sends before the answer must come
ANSWER_WITHIN = 5.0  # seconds; the server waiting for 80 MB would never answer in time
UNKNOWN_TOKEN = "wag_" + "x" * 40


@pytest.fixture(scope="module")
def server(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """The module's server, with the default media cap (64 MiB: a send's body may be ~85 MB)
    rather than the suite's small one, so the bodies declared here are within the cap."""
    data_dir = tmp_path_factory.mktemp(f"gw-bodies-{backend.backend}")
    env = {"WAGW_SEND_MEDIA_MAX_BYTES": str(64 * MB)}
    gateway = GatewayServer(data_dir, backend.migrated_url(data_dir), extra_env=env).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def sender(server: GatewayServer) -> Iterator[dict[str, str]]:
    """A connected device; a token this process verified and that was then rotated out (by
    another process, the CLI, so the server still remembers it), and the current token."""
    creds = server.create_app("bodies")
    with server.client(creds["app_token"]) as api:
        device = create_device(api, "bodies")
        scan(api, device["qr"])
        wait_until(
            lambda: api.get(f"/devices/{device['device_id']}").json()["status"] == "connected"
        )
        text = {"to": "6281211112222", "text": "remember me"}
        assert api.post(f"/devices/{device['device_id']}/messages", json=text).status_code == 202
    new = server.cli("apps", "rotate-token", creds["app_id"], "--grace-seconds", "0")
    yield {
        "device_id": device["device_id"],
        "rotated": creds["app_token"],
        "token": new.stdout.strip(),
    }


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def answer_while_sending(
    server: GatewayServer, method: str, path: str, headers: dict[str, str], chunked: bool
) -> tuple[http.client.HTTPResponse, dict, float]:
    """Declare a large body (or start a chunked one), send only its first few KB, and read
    the answer: (the response, its JSON, the seconds it took)."""
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {DECLARED}")
    start = b'{"to": "6281211112222", "type": "image", "mime_type": "image/png", "data_base64": "'
    body = start + b"A" * (SENT - len(start))
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_WITHIN)
    try:
        began = time.monotonic()
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(_chunk(body) if chunked else body)
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            payload = json.loads(response.read())
        except TimeoutError:
            pytest.fail(f"no answer within {ANSWER_WITHIN} s: the server waits for the body")
        return response, payload, time.monotonic() - began
    finally:
        sock.close()


TOKEN_CASES = {
    "no token": (None, "unauthorized"),
    "malformed": ("Basic Zm9vOmJhcg==", "invalid_api_key"),
    "bearer without a token": ("Bearer ", "invalid_api_key"),
    "unknown": (f"Bearer {UNKNOWN_TOKEN}", "invalid_api_key"),
    "rotated out": ("rotated", "invalid_api_key"),
}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("case", list(TOKEN_CASES))
def test_a_send_without_a_valid_token_is_refused_before_its_body(
    server: GatewayServer, sender: dict[str, str], case: str, chunked: bool
) -> None:
    authorization, code = TOKEN_CASES[case]
    headers = {"Content-Type": "application/json"}
    if authorization == "rotated":
        authorization = f"Bearer {sender['rotated']}"
    if authorization is not None:
        headers["Authorization"] = authorization
    path = f"/devices/{sender['device_id']}/messages"
    response, payload, _ = answer_while_sending(server, "POST", path, headers, chunked)
    assert response.status == 401, payload
    assert payload["error"]["code"] == code
    assert payload["request_id"] == response.getheader("x-request-id")
    assert response.getheader("www-authenticate") == "Bearer"
    # The rest of the body was never read: the connection cannot carry another request.
    assert response.getheader("connection") == "close"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_other_authenticated_routes_verify_before_the_body_too(
    server: GatewayServer, sender: dict[str, str], chunked: bool
) -> None:
    for path in ("/devices", f"/sandbox/devices/{sender['device_id']}/inbound", "/app"):
        method = "PATCH" if path == "/app" else "POST"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UNKNOWN_TOKEN}"}
        if chunked or path != "/devices":
            response, payload, _ = answer_while_sending(server, method, path, headers, True)
        else:  # 80 MB declared is over the cap of /devices: 413, unread, before anything
            response, payload, _ = answer_while_sending(server, method, path, headers, False)
            assert response.status == 413 and payload["error"]["code"] == "request_too_large"
            continue
        assert response.status == 401, (path, payload)
        assert payload["error"]["code"] == "invalid_api_key"


# Refused by the HTTP layer before anything is read or stored.
@pytest.mark.storage_agnostic
def test_a_get_with_a_body_is_not_read_past_the_cap(server: GatewayServer) -> None:
    # No route takes a GET body, yet a JSON one was read whole (for the NUL check) unbounded.
    headers = {"Content-Type": "application/json"}
    response, payload, _ = answer_while_sending(server, "GET", "/health", headers, False)
    assert response.status == 413, payload
    assert payload["error"]["code"] == "request_too_large"


def test_the_sandbox_inbound_route_is_capped_like_any_request(
    server: GatewayServer, sender: dict[str, str]
) -> None:
    # It generates its media itself: its body is JSON, held to WAGW_MAX_REQUEST_BYTES.
    body = json.dumps({"from": "6281299998888", "text": "x" * (2 * MB)})
    with server.client(sender["token"]) as api:
        refused = api.post(
            f"/sandbox/devices/{sender['device_id']}/inbound",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["details"] == {"max_bytes": MB}


def _image(size: int) -> dict[str, str]:
    # A body of `size` bytes of base64 (its bytes are not a real PNG: the sandbox takes any).
    return {"to": "6281211112222", "type": "image", "mime_type": "image/png",
            "data_base64": "A" * size}  # fmt: skip


def test_a_valid_token_still_sends_media_large_and_small(
    server: GatewayServer, sender: dict[str, str]
) -> None:
    url = f"/devices/{sender['device_id']}/messages"
    with server.client(sender["token"]) as api:
        large = json.dumps(_image(3 * MB)).encode()
        sent = api.post(url, content=large, headers={"content-type": "application/json"})
        assert sent.status_code == 202, sent.text
        chunked = api.post(
            url,
            content=(large[i : i + 65536] for i in range(0, len(large), 65536)),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 202, chunked.text
        # Small bodies: the first verifies the token, the next ride the remembered check.
        for _ in range(3):
            assert api.post(url, json=_image(4000)).status_code == 202
            assert api.post(url, json={"to": "6281211112222", "text": "hi"}).status_code == 202
        shown = api.get(f"{url}/{sent.json()['message_id']}").json()
        assert shown["type"] == "image"
    # The rotated-out token is refused on the small-body path too (its check was deferred).
    with server.client(sender["rotated"]) as stale:
        refused = stale.post(url, json={"to": "6281211112222", "text": "hi"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_an_internal_call_with_a_large_body_is_checked_and_audited_once(make_server) -> None:
    gateway: GatewayServer = make_server(
        WAGW_INTERNAL_ALLOWLIST="127.0.0.0/8", WAGW_SEND_MEDIA_MAX_BYTES=str(64 * MB)
    )
    creds = gateway.create_app("internal bodies")
    gateway.start()
    with gateway.client(creds["app_token"]) as api, gateway.client() as internal:
        device = create_device(api, "internal bodies")
        scan(api, device["qr"])
        device_id = device["device_id"]
        wait_until(lambda: api.get(f"/devices/{device_id}").json()["status"] == "connected")
        before = len(internal_audit(gateway))
        sent = internal.post(f"/devices/{device_id}/messages", json=_image(MB))
        assert sent.status_code == 202, sent.text
        entries = internal_audit(gateway)[before:]
        assert [detail["path"] for _, _, _, detail in entries] == [f"/devices/{device_id}/messages"]
        # An unknown device is 404 before its body, as the route would say.
        headers = {"Content-Type": "application/json"}
        response, payload, _ = answer_while_sending(
            gateway, "POST", "/devices/no-such-device/messages", headers, False
        )
        assert response.status == 404 and payload["error"]["code"] == "not_found"


# Refused by the HTTP layer before anything is read or stored.
@pytest.mark.storage_agnostic
def test_an_anonymous_dashboard_post_is_held_to_the_request_cap(server: GatewayServer) -> None:
    # The login form takes a body from anyone: WAGW_MAX_REQUEST_BYTES bounds it, unread above.
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for path in ("/dashboard/login", "/dashboard/projects"):
        response, payload, _ = answer_while_sending(server, "POST", path, headers, False)
        assert response.status == 413, (path, payload)
        assert payload["error"]["details"] == {"max_bytes": MB}
        assert response.getheader("connection") == "close"


# Refused by the HTTP layer before anything is read or stored.
@pytest.mark.storage_agnostic
def test_a_request_head_over_the_cap_is_refused_unread(server: GatewayServer) -> None:
    # httptools has no such cap: a 50 MB header was gathered whole (core/http_protocol.py).
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Filler: ")
        try:
            for _ in range(64):  # up to 4 MB of one header, until the answer comes
                sock.sendall(b"a" * 65536)
        except OSError:
            pass  # closed while we were sending: the answer is there to read
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        payload = json.loads(response.read())
    assert response.status == 431, payload
    assert payload["error"]["code"] == "request_too_large"
    assert payload["error"]["details"] == {"max_bytes": 64 * 1024}
    assert response.getheader("x-request-id") == payload["request_id"] != ""
    # Heads within the cap, in one read or many, are served as ever.
    filler = {f"X-Filler-{i}": "b" * 1000 for i in range(40)}
    assert httpx.get(server.base_url + "/health", headers=filler).status_code == 200
    with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_WITHIN) as sock:
        head = b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Filler: " + b"c" * 30000 + b"\r\n\r\n"
        for i in range(0, len(head), 1000):
            sock.sendall(head[i : i + 1000])
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        assert response.status == 200
