"""Response headers (issue 6): the dashboard's security headers on every kind of dashboard
response (pages, the login form, error pages, redirects, static files), and on everything
the API answers `X-Content-Type-Options: nosniff`, with no `Server` banner."""

from __future__ import annotations

import httpx
import pytest

from tests.support.dashboard import logged_in_admin
from tests.support.harness import GatewayServer
from wagateway.dashboard.web import SECURITY_HEADERS

pytestmark = [pytest.mark.e2e, pytest.mark.storage_agnostic]

EXPECTED = {name.decode(): value.decode() for name, value in SECURITY_HEADERS} | {
    "x-content-type-options": "nosniff"
}


def assert_dashboard_headers(response: httpx.Response, *, cached: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (where, name)
    if not cached:
        assert response.headers.get("cache-control") == "no-store", where
    assert "server" not in response.headers, where


def test_every_kind_of_dashboard_response_carries_the_security_headers(
    server: GatewayServer, app_creds: dict
) -> None:
    with httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=20) as anonymous:
        root = anonymous.get("/dashboard")  # → /dashboard/
        assert root.status_code == 307
        assert_dashboard_headers(root)
        to_login = anonymous.get("/dashboard/")
        assert to_login.status_code == 303 and "/dashboard/login" in to_login.headers["location"]
        assert_dashboard_headers(to_login)
        login = anonymous.get("/dashboard/login")
        assert login.status_code == 200 and "text/html" in login.headers["content-type"]
        assert_dashboard_headers(login)
        bad_login = anonymous.post("/dashboard/login", data={"email": "x", "password": "y"})
        assert bad_login.status_code == 403  # no login CSRF token: an error page
        assert_dashboard_headers(bad_login)
        static = anonymous.get("/dashboard/static/app.css")
        assert static.status_code == 200
        assert_dashboard_headers(static, cached=True)
        assert static.headers.get("cache-control") != "no-store"
        missing_static = anonymous.get("/dashboard/static/nope.css")
        assert missing_static.status_code == 404
        assert_dashboard_headers(missing_static, cached=True)  # static/: no no-store

    with logged_in_admin(server) as admin:
        page = admin.page(f"/dashboard/projects/{app_creds['app_id']}")
        assert_dashboard_headers(page)
        unknown_project = admin.page("/dashboard/projects/no-such-project", expect=404)
        assert "text/html" in unknown_project.headers["content-type"]
        assert_dashboard_headers(unknown_project)
        unknown_route = admin.page("/dashboard/no/such/page", expect=404)
        assert_dashboard_headers(unknown_route)
        no_csrf = admin.http.post(f"/dashboard/projects/{app_creds['app_id']}/webhooks-test")
        assert no_csrf.status_code == 403
        assert_dashboard_headers(no_csrf)
        after_post = admin.post(f"/dashboard/projects/{app_creds['app_id']}/webhooks-test")
        assert after_post.status_code == 303
        assert_dashboard_headers(after_post)
        as_json = admin.http.get(
            "/dashboard/projects/no-such-project", headers={"Accept": "application/json"}
        )
        assert as_json.status_code == 404 and as_json.json()["error"]["code"] == "not_found"
        assert_dashboard_headers(as_json)


def test_api_answers_are_nosniff_without_a_server_banner(
    server: GatewayServer, api: httpx.Client
) -> None:
    responses = [
        api.get("/app"),
        api.get("/devices"),
        api.get("/devices/no-such-device"),  # 404 envelope
        api.post("/devices", json={}),  # 400 envelope
        api.get("/no/such/route"),
        api.get("/app", headers={"Authorization": "Bearer wag_unknown_token_1234567890"}),
        httpx.get(server.base_url + "/health"),
        httpx.get(server.base_url + "/metrics"),
        httpx.get(server.base_url + "/openapi.json"),
    ]
    for response in responses:
        where = f"{response.request.url.path} → {response.status_code}"
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], where
        assert "server" not in response.headers, where
        assert response.headers.get("x-request-id"), where
    assert [r.status_code for r in responses[:6]] == [200, 200, 404, 400, 404, 401]
