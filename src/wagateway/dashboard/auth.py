"""Logging in and out of the dashboard."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wagateway.core.client_address import forwarded_proto
from wagateway.core.errors import ApiError
from wagateway.core.secrets import constant_time_equals
from wagateway.dashboard.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ActingViewerDep,
    back_to,
    caller_ip,
    new_login_csrf,
    render,
    safe_next,
)
from wagateway.gateway import Gateway, GatewayDep
from wagateway.operators import service as operators

router = APIRouter(prefix=PREFIX)


def _secure_cookies(request: Request, gw: Gateway) -> bool:
    configured = gw.settings.dashboard_cookie_secure
    if configured is not None:
        return configured
    return (
        forwarded_proto(request, gw.settings.trusted_proxies, gw.settings.forwarded_header)
        == "https"
    )


def _login_page(
    request: Request, gw: Gateway, next_path: str, error: str = "", status_code: int = 200
) -> HTMLResponse:
    # Login CSRF: a random value in a cookie and in the form (double submit), so another
    # site cannot log a browser into an account of its choosing.
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next_path=next_path,
        error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure_cookies(request, gw),
        path=PREFIX,
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request, gw: GatewayDep, next: str = "") -> HTMLResponse:
    return _login_page(request, gw, next)


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    gw: GatewayDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not constant_time_equals(expected, csrf_token):
        raise ApiError(403, "forbidden", "the login form expired; reload the page")
    ip = caller_ip(request, gw)
    delay = await operators.login_delay_of(gw.db, gw.settings, email)
    # Waited outside any transaction: an e-mail under attack slows its logins down without
    # holding a database connection or the writer.
    await asyncio.sleep(delay)
    try:
        logged_in = await operators.log_in(gw.db, gw.settings, email, password, ip)
    except ApiError as exc:
        if exc.status != 429:
            raise
        response = _login_page(request, gw, next, exc.message, status_code=429)
        response.headers.update(exc.headers)
        return response
    if logged_in is None:
        return _login_page(request, gw, next, "Wrong e-mail or password.", status_code=401)
    _, started = logged_in
    redirect = RedirectResponse(safe_next(next) or f"{PREFIX}/", status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        started.cookie_token,
        max_age=int(gw.settings.dashboard_session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure_cookies(request, gw),
        path=PREFIX,
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return redirect


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, viewer: ActingViewerDep, gw: GatewayDep) -> Response:
    await operators.log_out(gw.db, viewer.actor, request.cookies.get(SESSION_COOKIE, ""))
    response = back_to(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
