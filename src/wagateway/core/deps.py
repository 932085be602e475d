"""Typed FastAPI dependencies: the gateway, and the app a request acts for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wagateway.apps.models import App
from wagateway.apps.service import app_for_token
from wagateway.core.errors import ApiError
from wagateway.gateway import Gateway


def get_gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def current_app(request: Request, gateway: GatewayDep) -> App:
    """The app whose Bearer token came with the request (401 otherwise).

    Device-scoped routes called with no token at all answer `unauthorized` (CONTRACT §5:
    only allowlisted internal callers may omit it); everything else `invalid_api_key`.
    """
    token = _bearer(request)
    if token is None:
        if "authorization" not in request.headers and "device_id" in request.path_params:
            raise ApiError(
                401,
                "unauthorized",
                "a Bearer app token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise ApiError(
            401,
            "invalid_api_key",
            "missing or malformed Bearer app token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with gateway.db.read() as session:
        app = await app_for_token(session, token)
    if app is None:
        raise ApiError(
            401,
            "invalid_api_key",
            "unknown or rotated-out app token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.app_id = app.id
    return app


CurrentApp = Annotated[App, Depends(current_app)]
