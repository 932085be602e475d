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


# Seconds a client is told to wait before trying again while the database is out of reach.
DATABASE_RETRY_AFTER = "1"


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached right now: it is
    down or restarting, refused or dropped the connection, or every connection is busy.
    Such a failure passes; the request was not carried out (or its transaction rolled
    back), and the client may try again."""
    from sqlalchemy import exc as sa

    try:
        from asyncpg import exceptions as pg
    except ImportError:  # SQLite-only install
        transient: tuple[type[BaseException], ...] = (ConnectionError,)
    else:
        transient = (
            ConnectionError,
            pg.PostgresConnectionError,
            pg.CannotConnectNowError,
            pg.AdminShutdownError,
            pg.CrashShutdownError,
            pg.InterfaceError,
        )
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, transient) or isinstance(current, sa.TimeoutError):
            return True
        if isinstance(current, sa.DBAPIError):
            if current.connection_invalidated:
                return True
            orig = current.orig
            if isinstance(orig, BaseException) and id(orig) not in seen:
                current = orig
                continue
        current = current.__cause__ or current.__context__
    return False


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


def install_error_handlers(
    app: FastAPI, page_for_error: PageForError | None = None, *, asyncpg_errors: bool = True
) -> None:
    """The error envelope for every failure. `asyncpg_errors`: whether asyncpg's own errors
    may reach a route (the node reaches PostgreSQL); off, asyncpg is not imported for them."""
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

    def unavailable(request: Request, exc: Exception) -> ApiError:
        structlog.get_logger(__name__).warning(
            "database_unavailable", path=request.url.path, error=repr(exc)
        )
        return ApiError(
            503,
            "internal_error",
            "the database is unavailable; try again shortly",
            {"reason": "database_unavailable"},
            {"Retry-After": DATABASE_RETRY_AFTER},
        )

    async def _database_or_unhandled(request: Request, exc: Exception) -> Response:
        """A request that failed because the database was out of reach (it restarts, the
        network dropped): 503 with Retry-After, answered here, where the middlewares still
        add their headers, and without a traceback in the log for each request."""
        if database_unreachable(exc):
            return respond(request, unavailable(request, exc))
        raise exc  # anything else is unexpected: `_unhandled` answers it

    driver_errors: tuple[type[Exception], ...] = ()
    if asyncpg_errors:
        try:
            from asyncpg import InterfaceError as AsyncpgInterfaceError
            from asyncpg import PostgresError
        except ImportError:  # SQLite-only install
            pass
        else:
            driver_errors = (PostgresError, AsyncpgInterfaceError)
    from sqlalchemy.exc import SQLAlchemyError

    for kind in (OSError, SQLAlchemyError, *driver_errors):
        app.add_exception_handler(kind, _database_or_unhandled)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Answered from outside every middleware (Starlette's ServerErrorMiddleware): the
        # headers they add to other responses are added here.
        headers = {"X-Content-Type-Options": "nosniff"}
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            headers["X-Request-ID"] = request_id
        if database_unreachable(exc):  # raised in a middleware, outside the handlers above
            error = unavailable(request, exc)
            return error_response(
                request,
                error.status,
                error.code,
                error.message,
                error.details,
                headers={**headers, **error.headers},
            )
        structlog.get_logger(__name__).exception("unhandled_error", path=request.url.path)
        return error_response(request, 500, "internal_error", "internal error", headers=headers)
