"""The OpenAPI description (`/openapi.json`) made to tell the truth: clients, the fuzz test and
the tenant-isolation walk are generated from it.

FastAPI describes what it sees in a route's signature: parameters, body, the successful answer.
What it cannot see is declared or added here:

- **Errors.** Each route lists the error codes it can answer with, `responses=errors(...)` on its
  decorator. They are grouped by status (CONTRACT §1 gives each code one status); each status
  gets the envelope's schema (`ErrorEnvelope`), its codes in the description, one example per
  code (named by the code) and its headers (`Retry-After` on 429). FastAPI's own 422 is removed:
  the gateway answers a request it cannot parse with 400 `validation_error` (core/errors.py),
  which the routes declare. `tests/unit/test_openapi.py` fails for a route that does not declare
  the errors its dependencies imply.
- **Authentication.** An operation whose route acts for an app (`secured`: its dependencies
  verify an app token) requires the `bearerAuth` scheme. Where internal callers are configured
  (`WAGW_INTERNAL_ALLOWLIST`), the routes open to them (`open_to_internal_callers`) accept no
  credentials as well (`{}`): an allowlisted address needs no token (CONTRACT §5).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from wagateway.core.errors import ErrorEnvelope

BEARER_SCHEME = "bearerAuth"
ADMIN_SCHEME = "adminBearerAuth"  # the admin API's (`/admin`, WAGW_ADMIN_TOKEN)
EXAMPLE_REQUEST_ID = "0d1b6a0e-6c1f-4b8e-9a53-2f0c7d3e5a41"


@dataclass(frozen=True)
class ErrorCode:
    """An error code as the description shows it: its status, when it is answered, and an
    answer the gateway gives (the example)."""

    status: int
    when: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


# The codes the REST API answers with (CONTRACT §1). Not here, two that no route answers:
# `provider_rate_limit` (a failed message's `error.code`), `logged_out` (a disconnect's reason).
CODES: dict[str, ErrorCode] = {
    "validation_error": ErrorCode(
        400,
        "bad JSON, or a missing or invalid field or parameter (`details.field` names it)",
        "to is required",
        {"field": "to"},
    ),
    "invalid_api_key": ErrorCode(
        401,
        "missing, malformed, unknown or rotated-out app token",
        "unknown or rotated-out app token",
    ),
    "unauthorized": ErrorCode(
        401,
        "no token at all from a caller outside the internal allowlist (CONTRACT §5), an "
        "internal call without the right `X-Internal-Token`, or an `/admin` call without the "
        "admin token (an app token is not it)",
        "a Bearer app token is required",
    ),
    "invalid_rotation_pin": ErrorCode(
        401,
        "the app's rotation PIN is missing or wrong (the admin API's token rotation)",
        "rotation PIN is wrong",
    ),
    "app_token_rotation_disabled": ErrorCode(
        403,
        "token rotation is disabled for this app (the admin API's token rotation)",
        "token rotation is disabled for this app",
    ),
    "forbidden": ErrorCode(
        403,
        "authenticated but not allowed: sandbox controls for an app on another engine; a "
        "`media_url` whose signature does not match or that has expired (`details.reason`)",
        "sandbox controls are only for apps on the sandbox engine",
    ),
    "not_found": ErrorCode(
        404,
        "unknown id, or an id of another app (never 403: existence is not revealed)",
        "device not found",
    ),
    "request_canceled": ErrorCode(
        408,
        "`?wait=true` ran out of time before the message left the device; it stays queued",
        "the message did not leave the device in time; it is still queued",
        {"message_id": "5f0c2a8e-3a7b-4f0e-9d8c-1b2a3c4d5e6f", "status": "queued"},
    ),
    "conflict": ErrorCode(
        409,
        "the name is used by another device of the app that is not destroyed, or the "
        "`Idempotency-Key` came with a different request",
        "a device named 'Support' already exists in this app",
        {"field": "device_name"},
    ),
    "qr_reset_not_allowed": ErrorCode(
        409,
        "a new pairing window while the current QR is still valid or the device is connected: "
        "disconnect first or wait until it expires",
        "the current QR is still valid: wait until it expires or disconnect first",
        {"status": "qr_generated"},
    ),
    "device_not_connected": ErrorCode(
        409,
        "the device is not connected (a send, a runtime query, a simulated contact)",
        "the device is disconnected; messages need a connected device",
        {"status": "disconnected"},
    ),
    "too_many_devices": ErrorCode(
        409,
        "the app's device quota is reached",
        "this app has reached its quota of 10 devices; delete one first",
        {"max_devices": 10},
    ),
    "device_destroyed": ErrorCode(
        410,
        "the device was deleted (its records stay readable under `/archive`)",
        "this device was deleted; create a new one",
    ),
    "request_too_large": ErrorCode(
        413,
        "the body, or the media in it, is over the limit",
        "request body is larger than 1048576 bytes",
        {"max_bytes": 1048576},
    ),
    "rate_limit_exceeded": ErrorCode(
        429,
        "over the app's or the device's request rate: retry after `Retry-After` seconds",
        "too many requests for this app: at most 100 per second (bursts of 2000); retry after 1 s",
        {"scope": "app", "retry_after": 0.4},
    ),
    "stream_capacity_reached": ErrorCode(
        503,
        "as many event streams are open as `WAGW_STREAM_MAX_CONNECTIONS` allows: retry after "
        "`Retry-After` seconds",
        "the gateway has as many event streams open as it allows; retry later",
        {"max_streams": 100},
    ),
}

# Bundles of codes, for the decorators. A route that acts for an app: its token, its rate.
APP_CALLER = ("invalid_api_key", "rate_limit_exceeded")
# A device-scoped runtime route (`/devices/{device_id}…`), also open to internal callers (so a
# call with no token from elsewhere is `unauthorized`); its device may be unknown or deleted,
# its id unstorable text (NUL: core/text_guard.py, as any parameter).
DEVICE_ROUTE = (*APP_CALLER, "unauthorized", "validation_error", "not_found", "device_destroyed")
# A request body: unreadable or invalid, or over the size limit.
WITH_BODY = ("validation_error", "request_too_large")

_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": "`Bearer`: authenticate with an app token"},
    429: {
        "Retry-After": "seconds until a request is admitted again",
        "RateLimit-Limit": "the burst the limit allows",
        "RateLimit-Remaining": "requests left now: 0",
        "RateLimit-Reset": "seconds until the limit admits a request again",
    },
}


def errors(*codes: str | Iterable[str]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the error codes it can answer with (names or bundles), one
    response per status in the error envelope, with an example per code. An unknown code is a
    KeyError at import: every code has its entry in `CODES`."""
    by_status: dict[int, list[str]] = {}
    for item in codes:
        for code in (item,) if isinstance(item, str) else item:
            names = by_status.setdefault(CODES[code].status, [])
            if code not in names:
                names.append(code)
    return {status: _error_response(status, names) for status, names in sorted(by_status.items())}


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    lines = "\n".join(f"- `{code}`: {CODES[code].when}" for code in codes)
    examples = {
        code: {
            "summary": CODES[code].when,
            "value": {
                "error": {
                    "code": code,
                    "message": CODES[code].message,
                    "details": dict(CODES[code].details),
                },
                "request_id": EXAMPLE_REQUEST_ID,
            },
        }
        for code in codes
    }
    response: dict[str, Any] = {
        "model": ErrorEnvelope,
        "description": f"{HTTPStatus(status).phrase}, with `error.code`:\n\n{lines}",
        "content": {"application/json": {"examples": examples}},
    }
    if status in _HEADERS:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in _HEADERS[status].items()
        }
    return response


def open_to_internal_callers(path: str) -> bool:
    """Whether a route (by its path template) is open to token-less internal callers: the
    device-scoped runtime routes, `/devices/{device_id}…` (CONTRACT §5). The rule of
    `api/deps.py`'s `_internal_route`, which tells it from a request."""
    return path.startswith("/devices/") and "{device_id}" in path


def describe_api(
    app: FastAPI,
    *,
    secured: Callable[[Any], bool],
    internal_callers: bool,
    admin: Callable[[Any], bool] | None = None,
) -> None:
    """Make `app.openapi()` (and `/openapi.json`) the amended description. `secured` says
    whether a route (as `iter_route_contexts` gives it) verifies an app token;
    `internal_callers`, whether token-less internal callers are configured. Built at the first
    call, when every route is in."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            _amend(spec, app, secured, internal_callers)
            if admin is not None:
                _describe_admin(spec, app, admin)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _amend(
    spec: dict[str, Any], app: FastAPI, secured: Callable[[Any], bool], internal_callers: bool
) -> None:
    paths: dict[str, dict[str, Any]] = spec.get("paths", {})
    # Never answered: a request FastAPI cannot parse is a 400 `validation_error`.
    for operations in paths.values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    # Their schemas go too, unless something else uses them (in this order: the first refers to
    # the second).
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas:
            schema = schemas.pop(name)
            if f'"#/components/schemas/{name}"' in json.dumps(spec):
                schemas[name] = schema
    spec.setdefault("components", {})["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "app token (wag_…)",
            "description": "`Authorization: Bearer <app_token>`: the token of the app the "
            "request acts for.",
        }
    }
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        item = paths.get(path or "")
        if path is None or item is None or not secured(route):
            continue
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            requirements: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
            if internal_callers and open_to_internal_callers(path):
                requirements.append({})  # an allowlisted address needs no token
            operation["security"] = requirements


def _describe_admin(spec: dict[str, Any], app: FastAPI, admin: Callable[[Any], bool]) -> None:
    """The admin API's operations (`admin`: whether a route is one) require its own scheme,
    `Authorization: Bearer <WAGW_ADMIN_TOKEN>`; described only where it is on (routes in)."""
    paths: dict[str, dict[str, Any]] = spec.get("paths", {})
    found = False
    for route in iter_route_contexts(app.routes):
        item = paths.get(route.path_format or "")
        if item is None or not admin(route):
            continue
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                operation["security"] = [{ADMIN_SCHEME: []}]
                found = True
    if found:
        spec.setdefault("components", {}).setdefault("securitySchemes", {})[ADMIN_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "the admin token (WAGW_ADMIN_TOKEN)",
            "description": "`Authorization: Bearer <WAGW_ADMIN_TOKEN>`: the admin API's own "
            "token; an app token never opens `/admin`.",
        }
