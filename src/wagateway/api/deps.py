"""Typed FastAPI dependencies: the gateway, and the app a request acts for."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from starlette.requests import HTTPConnection

from wagateway.api.owed_checks import owe
from wagateway.apps.limits import rate_limits
from wagateway.apps.models import App
from wagateway.apps.service import app_of_token
from wagateway.apps.tokens import DeferredTokenCheck, invalid_api_key
from wagateway.audit import service as audit
from wagateway.core.client_address import address_in, caller_of
from wagateway.core.errors import ApiError, not_found
from wagateway.core.rate_limit import Limits
from wagateway.core.secrets import looks_like_app_token, token_hash
from wagateway.devices.lookup import app_of_internal_call
from wagateway.gateway import Gateway, GatewayDep, get_gateway


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _internal_route(request: Request) -> bool:
    """Whether the request is for a route internal callers may use without a token: the
    device-scoped runtime routes, `/devices/{device_id}…` (CONTRACT §5), not every route
    that names a device (the archive's, the sandbox's controls). Told from the path and its
    parameters (every route under `/devices/` that has a `device_id` starts with it), not from
    the matched route: a caller may be checked before the router has run."""
    path: str = request.scope.get("path", "")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return "device_id" in request.path_params and path.startswith("/devices/")


def _required_bearer(request: Request) -> str:
    """The Bearer token, or 401: `unauthorized` when a route open to internal callers got no
    token at all (CONTRACT §5: only allowlisted callers may omit it), else `invalid_api_key`."""
    token = bearer_token(request)
    if token is None:
        if "authorization" not in request.headers and _internal_route(request):
            raise ApiError(
                401,
                "unauthorized",
                "a Bearer app token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise invalid_api_key("missing or malformed Bearer app token")
    return token


async def internal_app(request: Request, gateway: Gateway) -> App | None:
    """For a token-less call of a device-scoped runtime route from an allowlisted address
    (CONTRACT §5, "internal callers"): the app of the device it names, the call audited with
    the chain of addresses it came through. None when the request is not such a call (it
    then needs a Bearer token as any other).

    The caller's address is the TCP peer, or what a trusted proxy recorded
    (`core/client_address.py`); a client the proxy did not name is not allowlisted. With
    `WAGW_INTERNAL_TOKEN` set, the call must also carry it in `X-Internal-Token`: a second
    factor for networks where an address proves little."""
    settings = gateway.settings
    if (
        "authorization" in request.headers
        or not settings.internal_allowlist
        or not _internal_route(request)
    ):
        return None
    device_id = request.path_params["device_id"]
    caller = caller_of(request, settings.trusted_proxies, settings.forwarded_header)
    address = caller.address
    if address is None or not address_in(address, settings.internal_allowlist):
        return None
    if settings.internal_token and not hmac.compare_digest(
        request.headers.get("x-internal-token", "").encode(), settings.internal_token.encode()
    ):
        raise ApiError(401, "unauthorized", "internal calls need a valid X-Internal-Token")
    app = await app_of_internal_call(
        gateway.db,
        device_id,
        audit.Actor(kind="internal", name=address, ip=address),
        {"method": request.method, "path": request.url.path, **caller.chain()},
    )
    if app is None:
        raise not_found("device")
    request.state.app_id = app.id
    return app


async def _admit(
    request: Request, gateway: Gateway, app_id: str, limits: Limits, spend: bool = True
) -> None:
    """Spend one request of the app's rate limit (and the device's, on a device route), or
    429 `rate_limit_exceeded` with `Retry-After` (core/rate_limit.py). With `spend` False,
    only refuse when it would be refused."""
    device_id = request.path_params.get("device_id")
    refusal = await gateway.rate_limiter.take(app_id, device_id, limits, spend=spend)
    if refusal is not None:
        raise refusal.error()


async def _admit_app(request: Request, gateway: Gateway, app: App) -> App:
    limits = rate_limits(gateway.settings, app)
    gateway.rate_limiter.remember(app.id, limits)
    await _admit(request, gateway, app.id, limits)
    return app


async def current_app(request: Request, gateway: GatewayDep) -> App:
    """The app whose Bearer token came with the request (401 otherwise), checked now, or
    the device's app for an allowlisted internal call (`internal_app`); within its rate
    limits (429 otherwise). A caller verified before its body was read
    (`verify_before_body`) is not verified again."""
    app = _verified_before_body(request)
    if app is None:
        app = await internal_app(request, gateway) or await _app_of_bearer(request, gateway)
    return await _admit_app(request, gateway, app)


async def _app_of_bearer(request: Request, gateway: Gateway) -> App:
    """The app of the request's Bearer token, read now (401 when there is none)."""
    token = _required_bearer(request)
    digest = token_hash(token)
    await _refuse_early(request, gateway, digest)
    if not looks_like_app_token(token):
        raise invalid_api_key()  # no app token has this shape: nothing to read
    app = await app_of_token(gateway.db, token)
    if app is None:
        raise invalid_api_key()
    gateway.token_claims.remember(digest, app.id)
    request.state.app_id = app.id
    return app


# A body up to this size may be read before a remembered token's check (which the send path
# defers into the message's own write, `apps/tokens.py`): no more than uvicorn buffers of any
# connection's body before the app reads (64 KiB), and above the sends of the hot path (a
# text's JSON is usually a few hundred bytes; media inline, base64, and texts near their
# 65,536-character limit are larger). A larger body gets its token read first, so a token
# rotated out elsewhere cannot make this process hold a media-sized body: one indexed read,
# beside a media send's megabytes of base64 to decode and store.
DEFERRED_CHECK_MAX_BODY = 64 * 1024


async def verify_before_body(request: Request, body_length: int | None) -> None:
    """For a request that carries a body to a route that acts for an app (`acts_for_an_app`),
    before the body is read (core/body_limit.py): the caller's check, as `current_app` makes
    it, raising its 401 (or 404, 429) at once; the app found is kept on the request for the
    route's dependency. A token this process verified recently, with a body of a known length
    up to `DEFERRED_CHECK_MAX_BODY`, is left to the route (the send path's deferred check).
    `body_length` is the declared `Content-Length`, None for a chunked body."""
    gateway = await get_gateway(request)
    token = bearer_token(request)  # with one, the call is not internal (`internal_app`)
    small = body_length is not None and body_length <= DEFERRED_CHECK_MAX_BODY
    if small and token is not None and gateway.token_claims.app_of(token_hash(token)):
        return
    internal = await internal_app(request, gateway)
    request.state.verified_app = internal or await _app_of_bearer(request, gateway)


def _verified_before_body(request: Request) -> App | None:
    app: App | None = request.scope.get("state", {}).get("verified_app")
    return app


def acts_for_an_app(route: object) -> bool:
    """Whether a route (as FastAPI's `iter_route_contexts` gives it) acts for an app: its
    dependencies include `current_app` or `sending_app`, so its caller is verified before
    its body is read."""
    dependant = getattr(route, "dependant", None)
    pending: list[Dependant] = [dependant] if dependant is not None else []
    while pending:
        node = pending.pop()
        if node.call in (current_app, sending_app, stream_app):
            return True
        pending.extend(node.dependencies)
    return False


async def _refuse_early(request: Request, gateway: Gateway, digest: str) -> None:
    """429 before the token's read when a token this process verified recently belongs to an
    app (or device) over its limit: a flood of refused requests costs no database work, so it
    does not slow other apps. Such a refusal does nothing; a token rotated out moments ago may
    see it instead of 401 until its app's bucket refills, which tells it only that."""
    app_id = gateway.token_claims.app_of(digest)
    limits = gateway.rate_limiter.limits_of(app_id) if app_id else None
    if app_id is not None and limits is not None:
        await _admit(request, gateway, app_id, limits, spend=False)


CurrentApp = Annotated[App, Depends(current_app)]


@dataclass(frozen=True)
class Sender:
    """The app a send acts for, and its token's check when that is deferred to the write."""

    app_id: str
    token_check: DeferredTokenCheck | None = None


async def sending_app(request: Request, gateway: GatewayDep) -> Sender:
    """The app of the request's token for the send route (see `apps/tokens.py`).

    A token verified recently gives its app at once, with its check deferred into the
    message's own write (`Sender.token_check`); any other token is checked now. A deferred
    check is owed for the rest of the request (`api/owed_checks.py`): an ending that did not
    settle it (a validation error of the body, a 404, a 429) settles it then, and a stale
    token is answered 401 `invalid_api_key` instead.
    """
    deferred = _deferrable_check(request, gateway)
    if deferred is None:
        return Sender((await current_app(request, gateway)).id)
    check, limits = deferred
    request.state.app_id = check.app_id
    # Owed before the limit is applied: a stale token that its app's limit would refuse is
    # answered 401, not 429.
    owe(request, check, gateway.db)
    await _admit(request, gateway, check.app_id, limits)
    return Sender(check.app_id, check)


def _deferrable_check(
    request: Request, gateway: Gateway
) -> tuple[DeferredTokenCheck, Limits] | None:
    """The check of the request's token, to defer into the send's write, and its app's
    limits; None when the caller is to be checked now."""
    if "authorization" not in request.headers or _verified_before_body(request) is not None:
        # Internal, 401, or a caller verified before its body: no check is left to defer.
        return None
    token = _required_bearer(request)
    digest = token_hash(token) if looks_like_app_token(token) else None
    app_id = gateway.token_claims.app_of(digest) if digest else None
    # The app's limits were read with its row by an earlier request; when that is too long
    # ago (or never), this request reads the row (and checks the token) now.
    limits = gateway.rate_limiter.limits_of(app_id) if app_id else None
    if digest is None or app_id is None or limits is None:
        return None
    return DeferredTokenCheck(gateway.token_claims, digest, app_id), limits


SendingApp = Annotated[Sender, Depends(sending_app)]


async def app_id_of_stream(conn: HTTPConnection, gateway: Gateway, ticket: str | None) -> str:
    """The app an event stream (`/events/stream`, `/events/ws`) is opened for: its stream
    ticket's (CONTRACT §10, for browsers), else its Bearer token's; 401 `invalid_api_key`
    otherwise (a ticket used before, expired or forged included)."""
    if ticket is not None:
        app_id = gateway.stream_tickets.redeem(ticket)
        if app_id is None:
            raise invalid_api_key("stream ticket unknown, expired or already used")
        return app_id
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise invalid_api_key("missing or malformed Bearer app token (or ?ticket=)")
    app = await app_of_token(gateway.db, token) if looks_like_app_token(token) else None
    if app is None:
        raise invalid_api_key()
    conn.state.app_id = app.id
    return app.id


async def stream_app(
    request: Request,
    gateway: GatewayDep,
    ticket: Annotated[
        str | None,
        Query(description="a stream ticket (`POST /events/tickets`) instead of the Bearer header"),
    ] = None,
) -> str:
    """`app_id_of_stream` for the SSE route."""
    return await app_id_of_stream(request, gateway, ticket)


StreamApp = Annotated[str, Depends(stream_app)]

# --- the admin API (api/admin.py): its own token, never an app's ------------------------------

ADMIN_API = "admin API"  # the audit log's actor name for it


def _admin_refusal() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "the admin API needs `Authorization: Bearer <WAGW_ADMIN_TOKEN>`",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def admin_caller(request: Request, gateway: GatewayDep) -> audit.Actor:
    """The admin API's caller (CONTRACT §10): the Bearer token must be WAGW_ADMIN_TOKEN,
    compared in constant time; anything else (none, a wrong one, an app token) is 401
    `unauthorized`. The actor its calls are audited as, with the caller's address (a trusted
    proxy's, as for internal callers: `core/client_address.py`)."""
    expected = gateway.settings.admin_token
    token = bearer_token(request) or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise _admin_refusal()
    settings = gateway.settings
    address = caller_of(request, settings.trusted_proxies, settings.forwarded_header).address
    return audit.Actor(kind="admin_api", name=ADMIN_API, ip=address)


AdminCaller = Annotated[audit.Actor, Depends(admin_caller)]


def for_the_admin(route: object) -> bool:
    """Whether a route (as `iter_route_contexts` gives it) is the admin API's: its
    dependencies include `admin_caller`."""
    dependant = getattr(route, "dependant", None)
    pending: list[Dependant] = [dependant] if dependant is not None else []
    while pending:
        node = pending.pop()
        if node.call is admin_caller:
            return True
        pending.extend(node.dependencies)
    return False


def verified_before_body(route: object) -> bool:
    """The routes whose caller is verified before the body is read (core/body_limit.py):
    those that act for an app, and the admin API's (a refused caller's body is never read,
    and a bad body never answers before the 401)."""
    return acts_for_an_app(route) or for_the_admin(route)


async def verify_caller_before_body(request: Request, body_length: int | None) -> None:
    """`verify_before_body` for an app's routes; the admin token for the admin API's."""
    path: str = request.scope.get("path", "")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if path == "/admin" or path.startswith("/admin/"):
        await admin_caller(request, await get_gateway(request))
        return
    await verify_before_body(request, body_length)
