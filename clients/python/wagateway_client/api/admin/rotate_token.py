from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.app_token_out import AppTokenOut
from ...models.token_rotate import TokenRotate
from ...types import UNSET, Response, Unset


def _get_kwargs(
    app_id: str,
    *,
    body: None | TokenRotate | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/admin/apps/{app_id}/token/rotate".format(
            app_id=quote(str(app_id), safe=""),
        ),
    }

    if isinstance(body, TokenRotate):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AppTokenOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = AppTokenOut.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AppTokenOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    app_id: str,
    *,
    client: AuthenticatedClient,
    body: None | TokenRotate | Unset = UNSET,
) -> Response[AppTokenOut]:
    """Rotate Token

     A new app token; the old one stops working (after `grace_seconds`). The app's rules
    apply (CONTRACT §5): 403 when rotation is disabled, 401 `invalid_rotation_pin` for a
    wrong PIN, 429 after too many wrong PINs (as in the dashboard).

    Args:
        app_id (str):
        body (None | TokenRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_rotation_pin`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `app_token_rotation_disabled`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AppTokenOut]
    """

    kwargs = _get_kwargs(
        app_id=app_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    app_id: str,
    *,
    client: AuthenticatedClient,
    body: None | TokenRotate | Unset = UNSET,
) -> AppTokenOut:
    """Rotate Token

     A new app token; the old one stops working (after `grace_seconds`). The app's rules
    apply (CONTRACT §5): 403 when rotation is disabled, 401 `invalid_rotation_pin` for a
    wrong PIN, 429 after too many wrong PINs (as in the dashboard).

    Args:
        app_id (str):
        body (None | TokenRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_rotation_pin`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `app_token_rotation_disabled`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AppTokenOut
    """

    kwargs = _get_kwargs(
        app_id=app_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    app_id: str,
    *,
    client: AuthenticatedClient,
    body: None | TokenRotate | Unset = UNSET,
) -> Response[AppTokenOut]:
    """Rotate Token

     A new app token; the old one stops working (after `grace_seconds`). The app's rules
    apply (CONTRACT §5): 403 when rotation is disabled, 401 `invalid_rotation_pin` for a
    wrong PIN, 429 after too many wrong PINs (as in the dashboard).

    Args:
        app_id (str):
        body (None | TokenRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_rotation_pin`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `app_token_rotation_disabled`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AppTokenOut]
    """

    kwargs = _get_kwargs(
        app_id=app_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    app_id: str,
    *,
    client: AuthenticatedClient,
    body: None | TokenRotate | Unset = UNSET,
) -> AppTokenOut:
    """Rotate Token

     A new app token; the old one stops working (after `grace_seconds`). The app's rules
    apply (CONTRACT §5): 403 when rotation is disabled, 401 `invalid_rotation_pin` for a
    wrong PIN, 429 after too many wrong PINs (as in the dashboard).

    Args:
        app_id (str):
        body (None | TokenRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_rotation_pin`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `app_token_rotation_disabled`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AppTokenOut
    """

    kwargs = _get_kwargs(
        app_id=app_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
