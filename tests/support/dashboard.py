"""Driving the dashboard over plain HTTP, as a browser would without JavaScript: operators
made as the CLI makes them, a login through the form, CSRF tokens read from the pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support.harness import GatewayServer, loopback_client, loopback_transport

PASSWORD = "a long enough password"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'<p class="flash flash-(\w+)" role="status">([^<]*)</p>')


def create_operator(server: GatewayServer, email: str, *, admin: bool = False) -> str:
    """An operator, as `wagateway users create` makes one (in process: see
    `GatewayServer.in_process`; the command itself is run in test_secrets_not_logged)."""
    return server.create_operator(email, PASSWORD, admin=admin)


class DashboardClient:
    def __init__(self, server: GatewayServer, source: str | None = None) -> None:
        """`source`: the loopback address to connect from (127.0.0.x), to be another client."""
        self.server = server
        transport = loopback_transport(source) if source else None
        self.http = loopback_client(
            base_url=server.base_url, follow_redirects=False, timeout=20, transport=transport
        )
        self.csrf = ""
        self.pages: dict[str, str] = {}  # every HTML page fetched, by path: scanned for secrets

    def close(self) -> None:
        self.http.close()

    def login(
        self, email: str, password: str = PASSWORD, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        form = self.http.get("/dashboard/login", headers=headers)
        token = _FORM_CSRF.search(form.text)
        assert token, form.text[:500]
        return self.http.post(
            "/dashboard/login",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
            headers=headers,
        )

    def page(self, path: str, expect: int = 200) -> httpx.Response:
        response = self.http.get(path)
        assert response.status_code == expect, (path, response.status_code, response.text[:300])
        if "text/html" in response.headers.get("content-type", ""):
            self.pages[path] = response.text
            found = _META_CSRF.search(response.text)
            if found and found.group(1):
                self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def fetch_json(self, path: str, data: dict[str, Any]) -> httpx.Response:
        """As the reveal dialogs do: form body, CSRF header, JSON answer."""
        return self.http.post(
            path,
            data=data,
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
        )

    def flash_after(self, response: httpx.Response) -> tuple[str, str]:
        """Follow a post/redirect/get and return the page's message (kind, text)."""
        assert response.status_code == 303, (response.status_code, response.text[:300])
        page = self.page(response.headers["location"])
        found = _FLASH.search(page.text)
        assert found, page.text[:800]
        return found.group(1), found.group(2)


@contextmanager
def logged_in_admin(server: GatewayServer) -> Iterator[DashboardClient]:
    """A fresh admin operator, logged in, on the overview page."""
    email = create_operator(server, f"admin-{uuid.uuid4().hex[:10]}@example.com", admin=True)
    client = DashboardClient(server)
    try:
        assert client.login(email).status_code == 303
        client.page("/dashboard/")
        yield client
    finally:
        client.close()
