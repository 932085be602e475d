"""Plumbing every dashboard page shares: who is looking (session cookie), CSRF, templates,
flash messages, security headers, and HTML error pages."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.audit import service as audit
from wagateway.audit.service import Actor
from wagateway.core.client_address import caller_of
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.secrets import constant_time_equals, token_hash
from wagateway.core.timefmt import rfc3339
from wagateway.gateway import Gateway, GatewayDep
from wagateway.operators import service as operators
from wagateway.operators.models import Operator

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

PREFIX = "/dashboard"
SESSION_COOKIE = "wagw_session"
LOGIN_CSRF_COOKIE = "wagw_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@functools.cache
def _templates() -> Jinja2Templates:
    """Made by the first page: Jinja2 is a good part of a node's import, and a node may serve
    for long before anyone opens the dashboard (core/starting_front.py)."""
    from fastapi.templating import Jinja2Templates

    templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    templates.env.filters["ts"] = lambda value: rfc3339(value) or "—"
    templates.env.globals["PREFIX"] = PREFIX
    return templates


# Pages may load only what the gateway serves: no inline script, no CDN, no framing.
# (`X-Content-Type-Options: nosniff` is on every response: core/request_id.py.)
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class DashboardHeadersMiddleware:
    """Security headers on every dashboard response; `no-store` on all but static files, so
    a page that once showed project data is not kept in the browser's cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(PREFIX + "/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static and not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Viewer:
    """The logged-in operator looking at a page, with what the page needs to act."""

    operator: Operator
    session_key: str
    csrf_token: str
    ip: str
    flash: tuple[str, str] | None = None

    @property
    def actor(self) -> Actor:
        return Actor("operator", self.operator.email, self.operator.id, self.ip)


def caller_ip(request: Request, gw: Gateway) -> str:
    """The address the login throttle and the audit know a dashboard caller by: the client
    as the trusted proxies name it (core/client_address.py), or, when they do not name it,
    the direct peer. That fallback is for throttling and the record only (the dashboard grants
    nothing by address): clients a proxy leaves unnamed share its bucket, so none can dodge
    the throttle by hiding, nor have another address throttled."""
    caller = caller_of(request, gw.settings.trusted_proxies, gw.settings.forwarded_header)
    return caller.address or caller.peer


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def current_viewer(request: Request, gw: GatewayDep) -> Viewer:
    """The operator behind the session cookie (401 otherwise: pages turn it into the login)."""
    found = await operators.visit(gw.db, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise ApiError(401, "unauthorized", "please log in to the dashboard")
    row = found.session
    return Viewer(
        found.operator, row.token_hash, row.csrf_token, caller_ip(request, gw), found.flash
    )


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # no Origin (older browsers, curl) relies on the token alone
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def _submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached on the request: the route reads it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def acting_viewer(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> Viewer:
    """For every state change: the viewer, once the CSRF token and the Origin check out."""
    submitted = await _submitted_csrf(request)
    if not submitted or not constant_time_equals(submitted, viewer.csrf_token):
        raise ApiError(
            403, "forbidden", "the form's CSRF token is missing or wrong; reload the page"
        )
    if not _same_origin(request):
        raise ApiError(403, "forbidden", "cross-origin request refused")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
ActingViewerDep = Annotated[Viewer, Depends(acting_viewer)]


def render(
    request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return _templates().TemplateResponse(
        request,
        template,
        {"viewer": viewer, "csrf_token": viewer.csrf_token if viewer else "", **context},
        status_code=status_code,
    )


async def flash(gw: Gateway, viewer: Viewer, text: str, kind: str = "ok") -> None:
    await operators.leave_flash(gw.db, viewer.session_key, text, kind)


async def audit_device_action(
    gw: Gateway, viewer: Viewer, audited: str, app_id: str, device_id: str, **detail: Any
) -> None:
    """The audit entry of a device action the engine or the send queue already committed
    (nothing to roll back with it): it follows the action."""
    await audit.record_done(
        gw.db, viewer.actor, audited, app_id=app_id, device_id=device_id, detail=detail
    )


async def act(
    request: Request,
    gw: Gateway,
    viewer: Viewer,
    back: str,
    action: Callable[[], Awaitable[str]],
    describe: Callable[[ApiError], str] = lambda exc: exc.message,
) -> Response:
    """Run a page action through the services. From a plain form, its outcome (or the
    refusal, as `describe` words it) is the message of the page at `back`; from a page's
    script (the sandbox buttons, which must not reload the page that is watching a device
    live), it is the JSON answer."""
    try:
        try:
            message = await action()
        except ValidationError as exc:
            raise validation_error(str(exc.errors()[0]["msg"])) from exc
    except ApiError as exc:
        if wants_json(request):
            raise ApiError(exc.status, exc.code, describe(exc), exc.details) from exc
        await flash(gw, viewer, describe(exc), "error")
    else:
        if wants_json(request):
            return JSONResponse({"message": message})
        await flash(gw, viewer, message)
    return back_to(back)


def back_to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(next_path: str) -> str:
    """A dashboard path of this site, or "": the login's `next` is never an open redirect."""
    if next_path.startswith(PREFIX + "/") and "//" not in next_path and "\\" not in next_path:
        return next_path
    return ""


def login_url(next_path: str = "") -> str:
    target = safe_next(next_path)
    return f"{PREFIX}/login" + (f"?next={quote(target)}" if target else "")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def session_key_of(cookie_token: str) -> str:
    return token_hash(cookie_token)


def page_for_error(request: Request, exc: ApiError) -> Response | None:
    """Dashboard pages show errors as pages (and a lapsed login as the login form); fetch
    calls from the dashboard's scripts keep the JSON envelope."""
    path = request.url.path
    if not (path == PREFIX or path.startswith(PREFIX + "/")) or wants_json(request):
        return None
    if exc.status == 401:
        next_path = path if request.method == "GET" else ""
        return RedirectResponse(login_url(next_path), status_code=303)
    response = render(request, "error.html", None, status_code=exc.status, error=exc)
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response
