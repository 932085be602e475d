"""Who may do what in the dashboard, against a real `wagateway serve` on each database:
tenant isolation between operators, CSRF, login throttling, the session cookie, security
headers, and the app token kept out of every page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from tests.support.dashboard import PASSWORD, DashboardClient, create_operator, logged_in_admin
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, wait_until
from wagateway.dashboard.router import PARTS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dash_server(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    data_dir = tmp_path_factory.mktemp(f"dash-{backend.backend}")
    server = GatewayServer(
        data_dir,
        backend.migrated_url(data_dir),
        extra_env={"WAGW_LOGIN_MAX_FAILURES": "3", "WAGW_TRUSTED_PROXIES": "127.0.0.1/32"},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def admin(dash_server: GatewayServer) -> Iterator[DashboardClient]:
    with logged_in_admin(dash_server) as client:
        yield client


def _new_project(client: DashboardClient, name: str) -> str:
    created = client.post("/dashboard/projects", {"name": name, "engine": "sandbox"})
    assert created.status_code == 303, created.text[:300]
    return created.headers["location"].rsplit("/", 1)[1]


def _new_device(client: DashboardClient, app_id: str, name: str) -> str:
    created = client.post(f"/dashboard/projects/{app_id}/devices", {"device_name": name})
    assert created.status_code == 303, created.text[:300]
    return created.headers["location"].rsplit("/", 1)[1]


def _project_routes() -> list[tuple[str, str]]:
    """(method, path template) of every dashboard route that acts on one project."""
    routes = []
    for part in PARTS:
        for route in part.routes:
            if isinstance(route, Route) and "{app_id}" in route.path:
                routes.extend((m, route.path) for m in sorted(route.methods or ()) if m != "HEAD")
    return routes


def test_an_operator_gets_404_on_every_route_of_a_project_not_theirs(
    dash_server: GatewayServer, admin: DashboardClient
) -> None:
    foreign = _new_project(admin, "Foreign shop")
    device_id = _new_device(admin, foreign, "Foreign desk")
    admin.post(f"/dashboard/projects/{foreign}/webhooks-test")
    deliveries = admin.page(f"/dashboard/projects/{foreign}/webhooks").text
    request_id = re.search(r'data-request-id="([^"]+)"', deliveries)
    assert request_id
    endpoint = admin.post(
        f"/dashboard/projects/{foreign}/webhook-endpoints",
        {"url": "https://example.com/h", "enabled": "1"},
    )
    endpoint_id = re.search(r"webhook-endpoints/([0-9a-f-]{36})", endpoint.text)
    assert endpoint.status_code == 200 and endpoint_id, endpoint.text[:300]
    own = _new_project(admin, "Own shop")
    email = f"member-{foreign[:8]}@example.com"
    create_operator(dash_server, email)
    admin.post(f"/dashboard/projects/{own}/members", {"email": email})

    member = DashboardClient(dash_server)
    try:
        assert member.login(email).status_code == 303
        overview = member.page("/dashboard/").text
        assert "Own shop" in overview and "Foreign shop" not in overview
        member.page(f"/dashboard/projects/{own}")  # their own project: fine
        routes = _project_routes()
        assert len(routes) >= 20, routes  # the walk covers the dashboard, not a sample
        ids = {"app_id": foreign, "device_id": device_id, "request_id": request_id.group(1)}
        ids["message_id"] = str(uuid.uuid4())  # message routes: 404 before any lookup
        ids["endpoint_id"] = endpoint_id.group(1)
        for method, template in routes:
            path = template.replace("{app_id}", ids["app_id"])
            path = path.replace("{device_id}", ids["device_id"])
            path = path.replace("{request_id}", ids["request_id"])
            path = path.replace("{message_id}", ids["message_id"])
            path = path.replace("{endpoint_id}", ids["endpoint_id"])
            path = path.replace("{jid}", "6281234567890")  # a contact: no one's object
            assert "{" not in path, f"a new path parameter needs a foreign id here: {template}"
            if method == "GET":
                response = member.http.get(path, headers={"Accept": "text/html"})
            else:
                response = member.http.post(
                    path,
                    data={
                        "csrf_token": member.csrf,
                        "password": PASSWORD,
                        "phone": "628111",
                        "confirm_name": "Foreign desk",
                        "device_name": "x",
                        "name": "x",
                    },
                    headers={"X-CSRF-Token": member.csrf},
                )
            assert response.status_code == 404, (method, template, response.status_code)
            assert "Foreign shop" not in response.text
        # Nothing was done to the foreign project by any of those calls.
        device_page = admin.page(f"/dashboard/projects/{foreign}/devices/{device_id}").text
        # Still pairing, or its QR window (8 s in tests) closed by itself during a slow walk;
        # never disconnected or deleted.
        status = re.search(r'data-status="([a-z_]+)"', device_page)
        assert status and status.group(1) in ("qr_generated", "expired"), status
        endpoints = admin.page(f"/dashboard/projects/{foreign}/webhook-endpoints").text
        assert f'data-endpoint-id="{ids["endpoint_id"]}"' in endpoints
        assert '<td data-field="enabled">yes</td>' in endpoints
    finally:
        member.close()


def test_a_state_change_without_the_csrf_token_or_from_another_origin_is_refused(
    admin: DashboardClient,
) -> None:
    before = admin.page("/dashboard/").text.count("data-project-id=")
    forged = admin.http.post("/dashboard/projects", data={"name": "Forged", "engine": "sandbox"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = admin.http.post(
        "/dashboard/projects", data={"name": "Forged", "engine": "sandbox", "csrf_token": "nope"}
    )
    assert wrong.status_code == 403
    cross = admin.http.post(
        "/dashboard/projects",
        data={"name": "Forged", "engine": "sandbox", "csrf_token": admin.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    app_id = _new_project(admin, "Real")  # the same request with the token goes through
    reveal = admin.http.post(
        f"/dashboard/projects/{app_id}/api-key/reveal",
        data={"password": PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert reveal.status_code == 403
    assert reveal.json()["error"]["code"] == "forbidden"
    after = admin.page("/dashboard/").text
    assert after.count("data-project-id=") == before + 1 and "Forged" not in after


def test_wrong_passwords_are_throttled_even_for_the_right_one_next(
    dash_server: GatewayServer,
) -> None:
    email = create_operator(dash_server, "throttle@example.com")
    client = DashboardClient(dash_server)
    try:
        for _ in range(3):
            refused = client.login(email, "not the password")
            assert refused.status_code == 401 and "Wrong e-mail or password" in refused.text
        throttled = client.login(email)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 0
        assert "too many failed logins" in throttled.text
        assert "wagw_session" not in throttled.headers.get("set-cookie", "")
    finally:
        client.close()


def test_session_cookie_flags_headers_and_logout(dash_server: GatewayServer) -> None:
    email = create_operator(dash_server, "cookie@example.com")
    client = DashboardClient(dash_server)
    try:
        login = client.login(email)
        cookie = login.headers["set-cookie"]
        assert "wagw_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Path=/dashboard" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        page = client.page("/dashboard/")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        old_cookie = client.http.cookies.get("wagw_session")
        assert client.post("/dashboard/logout").status_code == 303
        # The session is gone on the server, not just the browser's cookie.
        with httpx.Client(base_url=dash_server.base_url) as stale:
            stale.cookies.set("wagw_session", old_cookie or "", path="/dashboard")
            replay = stale.get("/dashboard/", follow_redirects=False)
        assert replay.status_code == 303 and "/dashboard/login" in replay.headers["location"]
    finally:
        client.close()
    # Behind a trusted TLS proxy the cookie is Secure.
    proxied = DashboardClient(dash_server)
    try:
        form = proxied.http.get("/dashboard/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        login = proxied.http.post(
            "/dashboard/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert login.status_code == 303 and "Secure" in login.headers["set-cookie"]
    finally:
        proxied.close()


def test_the_app_token_is_only_in_the_reveal_answer_never_in_a_page(
    dash_server: GatewayServer, admin: DashboardClient
) -> None:
    app_id = _new_project(admin, "Secretive")
    device_id = _new_device(admin, app_id, "Desk")
    token = admin.fetch_json(f"/dashboard/projects/{app_id}/api-key/reveal", {"password": PASSWORD})
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"
    app_token = token.json()["app_token"]
    secret = admin.fetch_json(
        f"/dashboard/projects/{app_id}/webhook-secret/reveal", {"password": PASSWORD}
    ).json()["webhook_secret"]
    assert app_token.startswith("wag_") and secret.startswith("whsec_")
    # The revealed token is the real one: the API takes it.
    with dash_server.client(app_token) as api:
        assert api.get("/app").json()["app_id"] == app_id
    admin.post(f"/dashboard/projects/{app_id}/webhooks-test")
    wait_until(lambda: "webhook_test" in admin.page(f"/dashboard/projects/{app_id}/webhooks").text)
    request_id = re.search(
        r'data-request-id="([^"]+)"', admin.page(f"/dashboard/projects/{app_id}/webhooks").text
    )
    assert request_id
    for path in (
        "/dashboard/",
        f"/dashboard/projects/{app_id}",
        f"/dashboard/projects/{app_id}/devices/{device_id}",
        f"/dashboard/projects/{app_id}/settings",
        f"/dashboard/projects/{app_id}/webhooks",
        f"/dashboard/projects/{app_id}/webhooks/{request_id.group(1)}",
        "/dashboard/audit",
    ):
        admin.page(path)
    assert len(admin.pages) >= 7
    for path, html in admin.pages.items():
        assert app_token not in html, path
        assert secret not in html, path
        assert app_token.removeprefix("wag_")[:16] not in html, path
    logs = dash_server.logs()
    assert app_token not in logs and secret not in logs
    # Every one of those actions is in the audit log, with who did it.
    audit = admin.page("/dashboard/audit").text
    for action in (
        "project.create",
        "device.create",
        "api_key.reveal",
        "webhook_secret.reveal",
        "webhook.test",
    ):
        assert action in audit, action


def _message_row(html: str, message_id: str) -> str:
    """The row of that message in the device page's message table."""
    found = re.search(rf'<tr data-message-id="{message_id}".*?</tr>', html, re.S)
    assert found, f"no row for {message_id}"
    return found.group(0)


def test_delete_is_offered_and_done_only_for_the_devices_own_messages(
    dash_server: GatewayServer, admin: DashboardClient
) -> None:
    app_id = _new_project(admin, "Own messages")
    device_id = _new_device(admin, app_id, "Desk")
    device = f"/dashboard/projects/{app_id}/devices/{device_id}"
    admin.page(device)
    scanned = admin.flash_after(admin.post(f"{device}/sandbox/scan", {"phone": "6281234567890"}))
    assert scanned[0] == "ok", scanned
    admin.post(f"{device}/sandbox/inbound", {"sender": "6289876543210", "text": "theirs"})
    _, queued = admin.flash_after(
        admin.post(f"{device}/messages", {"to": "6289876543210", "text": "mine"})
    )
    sent_id = re.search(r"Message ([0-9a-f-]{36}) queued", queued)
    assert sent_id, queued
    mine = sent_id.group(1)
    token = admin.fetch_json(f"/dashboard/projects/{app_id}/api-key/reveal", {"password": PASSWORD})
    with dash_server.client(token.json()["app_token"]) as api:
        wait_until(
            lambda: api.get(f"/devices/{device_id}/messages/{mine}").json()["sent_at"],
            what="own message sent",
            timeout=30,
        )
        received = wait_until(
            lambda: api.get(
                f"/devices/{device_id}/messages", params={"direction": "inbound"}
            ).json()["messages"],
            what="inbound message stored",
            timeout=30,
        )
        theirs = received[0]["message_id"]

        # The page offers delete for the device's own sent message, not for the contact's.
        page = admin.page(device).text
        their_row, my_row = _message_row(page, theirs), _message_row(page, mine)
        assert "/delete" not in their_row and f"/messages/{theirs}/read" in their_row
        assert f"/messages/{mine}/delete" in my_row and "Delete for everyone" in my_row
        assert "/read" not in my_row  # only received messages are marked read

        # Posted anyway, the contact's message is refused by the service's own rule: the
        # page says why, nothing reached the network, the message is as it was.
        kind, text = admin.flash_after(admin.post(f"{device}/messages/{theirs}/delete"))
        assert kind == "error" and text == "only a message the device sent can be deleted"
        # An empty reply is refused by the send's own validation, and nothing is queued.
        kind, text = admin.flash_after(admin.post(f"{device}/messages/{theirs}/reply"))
        assert kind == "error" and "text" in text, text
        outbound = api.get(f"/devices/{device_id}/messages", params={"direction": "outbound"})
        assert [m["message_id"] for m in outbound.json()["messages"]] == [mine]
        network = api.get(f"/sandbox/devices/{device_id}/network").json()["network"]
        assert [e for e in network if e["kind"] == "revoke"] == []
        assert api.get(f"/devices/{device_id}/messages/{theirs}").json()["revoked"] is False
        # A message id of another device of the project is not found through this one.
        other = _new_device(admin, app_id, "Other desk")
        kind, text = admin.flash_after(
            admin.post(f"/dashboard/projects/{app_id}/devices/{other}/messages/{mine}/delete")
        )
        assert kind == "error" and "not found" in text
        assert api.get(f"/devices/{device_id}/messages/{mine}").json()["revoked"] is False
    assert "message.delete" not in admin.page("/dashboard/audit").text
