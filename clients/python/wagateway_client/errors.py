"""The gateway's errors as typed exceptions (hand-written: clients/python/generator/templates).

Every error answer of the API is the contract's envelope,
`{"error": {"code", "message", "details"}, "request_id"}`, and each code has one HTTP status.
An API function raises the exception of the status (`NotFound` for 404, `Conflict` for 409, ...);
all derive from `WAGatewayError`, which carries the envelope: `.status`, `.code` (the fixed code,
for programs), `.message` (for people), `.details`, `.request_id`.

    try:
        await regenerate_qr.asyncio(client=client, device_id=device_id)
    except errors.Conflict as error:
        if error.code != "qr_reset_not_allowed":
            raise
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class WAGatewayError(Exception):
    """An error answer (4xx, 5xx) of the gateway, in the contract's envelope. An answer that is
    not an envelope (a proxy's page, say) has the code `unexpected_response` and its text as
    the message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details if details is not None else {}
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()


class ValidationError(WAGatewayError):
    """400 `validation_error`: `details["field"]` names the offending field or parameter."""


class Unauthorized(WAGatewayError):
    """401 `invalid_api_key`, `unauthorized`, `invalid_rotation_pin` (the admin API's)."""


class Forbidden(WAGatewayError):
    """403 `forbidden`, `app_token_rotation_disabled` (the admin API's)."""


class NotFound(WAGatewayError):
    """404 `not_found`: an unknown id, or one of another app."""


class RequestCanceled(WAGatewayError):
    """408 `request_canceled`: `?wait=true` ran out of time; the message stays queued."""


class Conflict(WAGatewayError):
    """409 `conflict`, `qr_reset_not_allowed`, `device_not_connected`, `too_many_devices`."""


class Gone(WAGatewayError):
    """410 `device_destroyed`: the device was deleted."""


class RequestTooLarge(WAGatewayError):
    """413 `request_too_large`."""


class RateLimited(WAGatewayError):
    """429 `rate_limit_exceeded`: retry after `retry_after` seconds."""

    @property
    def retry_after(self) -> float | None:
        """The `Retry-After` header, in seconds (None without one)."""
        try:
            return float(self.headers["retry-after"])
        except (KeyError, ValueError):
            return None


class ServerError(WAGatewayError):
    """5xx: the gateway (or a proxy in front of it) failed."""


ERRORS_BY_STATUS: dict[int, type[WAGatewayError]] = {
    400: ValidationError,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: RequestCanceled,
    409: Conflict,
    410: Gone,
    413: RequestTooLarge,
    429: RateLimited,
}


def error_from_response(response: httpx.Response) -> WAGatewayError:
    """The typed exception for an error answer (the API functions raise it)."""
    status = response.status_code
    kind = ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else WAGatewayError)
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = error.get("details")
        request_id = body.get("request_id") if isinstance(body, dict) else None
        return kind(
            status,
            error["code"],
            str(error.get("message", "")),
            details if isinstance(details, dict) else {},
            request_id if isinstance(request_id, str) else response.headers.get("x-request-id"),
            response.headers,
        )
    text = response.content.decode(errors="replace")[:500]
    return kind(
        status,
        "unexpected_response",
        text or response.reason_phrase,
        {},
        response.headers.get("x-request-id"),
        response.headers,
    )


class UnexpectedStatus(Exception):
    """A success status the API does not document (not an error answer)."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        super().__init__(
            f"Unexpected status code: {status_code}\n\nResponse content:\n"
            f"{content.decode(errors='ignore')}"
        )


__all__ = [
    "ERRORS_BY_STATUS",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "RateLimited",
    "RequestCanceled",
    "RequestTooLarge",
    "ServerError",
    "UnexpectedStatus",
    "Unauthorized",
    "ValidationError",
    "WAGatewayError",
    "error_from_response",
]
