"""The contract's error envelope (CONTRACT §1) and the handlers that guarantee it everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    # The web framework (and the logger) are imported where the responses are made: the
    # CLI raises and catches `ApiError` too, and needs neither to start.
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response


class ApiError(Exception):
    """An error the client is meant to see: HTTP status, a fixed code, a plain message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def validation_error(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "validation_error", message, {"field": field} if field else {})


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


class ErrorDetail(BaseModel):
    code: str = Field(
        description="fixed, for programs (CONTRACT §1); each error status of an operation lists "
        "the codes it answers with"
    )
    message: str = Field(description="for people: may change, never a stack trace")
    details: dict[str, Any] = Field(
        description="more about it, by code: `field` names the offending field of a "
        "`validation_error`; often empty"
    )


class ErrorEnvelope(BaseModel):
    """Every error, whatever the route (CONTRACT §1). The shape `error_body` writes: a model
    only for the OpenAPI description, the answers are built as plain dicts."""

    error: ErrorDetail
    request_id: str = Field(description="the response's `X-Request-ID`")


def error_body(
    request: Request, code: str, message: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": details},
        "request_id": getattr(request.state, "request_id", None),
    }


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(
        error_body(request, code, message, details or {}), status_code=status, headers=headers
    )


_STATUS_CODES = {
    400: "validation_error",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_canceled",
    413: "request_too_large",
    429: "rate_limit_exceeded",
}


def _field_from_loc(loc: tuple[Any, ...]) -> str | None:
    # FastAPI locations look like ("body", "device_name") or ("query", "limit").
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or None


def _describe(err: dict[str, Any], field: str | None) -> str:
    if err.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if err.get("type") == "missing":
        return f"{field} is required" if field else "request body is required"
    msg = str(err.get("msg", "invalid value"))
    return f"{field}: {msg}" if field else msg


# Given a request and an error, a page to show instead of the JSON envelope (the dashboard's
# pages), or None for the envelope.
PageForError = Callable[["Request", "ApiError"], "Response | None"]


def install_error_handlers(app: FastAPI, page_for_error: PageForError | None = None) -> None:
    import structlog
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def respond(request: Request, exc: ApiError) -> Response:
        page = page_for_error(request, exc) if page_for_error else None
        if page is not None:
            return page
        return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = tuple(first.get("loc", ()))
        field = None if first.get("type") == "json_invalid" else _field_from_loc(loc)
        details: dict[str, Any] = {"field": field} if field else {}
        if first.get("type") == "json_invalid":
            details["field"] = "body"
        return error_response(request, 400, "validation_error", _describe(first, field), details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(
            exc.status_code, "internal_error" if exc.status_code >= 500 else "error"
        )
        message = "route not found" if exc.status_code == 404 else str(exc.detail)
        return respond(
            request, ApiError(exc.status_code, code, message, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        structlog.get_logger(__name__).exception("unhandled_error", path=request.url.path)
        # Answered from outside every middleware (Starlette's ServerErrorMiddleware): the
        # headers they add to other responses are added here.
        headers = {"X-Content-Type-Options": "nosniff"}
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            headers["X-Request-ID"] = request_id
        return error_response(request, 500, "internal_error", "internal error", headers=headers)
