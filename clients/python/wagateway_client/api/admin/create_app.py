from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.app_create import AppCreate
from ...models.created_app_out import CreatedAppOut
from ...types import Response


def _get_kwargs(
    *,
    body: AppCreate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/admin/apps",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreatedAppOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 201:
        response_201 = CreatedAppOut.from_dict(response.json())

        return response_201

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreatedAppOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: AppCreate,
) -> Response[CreatedAppOut]:
    """Create App

     Create an app, as `wagateway apps create --json`: its id, app token and webhook
    secret.

    Args:
        body (AppCreate): What `wagateway apps create` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedAppOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: AppCreate,
) -> CreatedAppOut:
    """Create App

     Create an app, as `wagateway apps create --json`: its id, app token and webhook
    secret.

    Args:
        body (AppCreate): What `wagateway apps create` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedAppOut
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: AppCreate,
) -> Response[CreatedAppOut]:
    """Create App

     Create an app, as `wagateway apps create --json`: its id, app token and webhook
    secret.

    Args:
        body (AppCreate): What `wagateway apps create` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedAppOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: AppCreate,
) -> CreatedAppOut:
    """Create App

     Create an app, as `wagateway apps create --json`: its id, app token and webhook
    secret.

    Args:
        body (AppCreate): What `wagateway apps create` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedAppOut
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
