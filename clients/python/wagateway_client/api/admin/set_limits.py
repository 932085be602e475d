from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.limits_out import LimitsOut
from ...models.limits_update import LimitsUpdate
from ...types import Response


def _get_kwargs(
    app_id: str,
    *,
    body: LimitsUpdate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/admin/apps/{app_id}/limits".format(
            app_id=quote(str(app_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> LimitsOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = LimitsOut.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[LimitsOut]:
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
    body: LimitsUpdate,
) -> Response[LimitsOut]:
    """Set Limits

     The app's own API rate limits or device quota, as `wagateway apps set-limits`; what
    applies now.

    Args:
        app_id (str):
        body (LimitsUpdate): What `wagateway apps set-limits` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LimitsOut]
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
    body: LimitsUpdate,
) -> LimitsOut:
    """Set Limits

     The app's own API rate limits or device quota, as `wagateway apps set-limits`; what
    applies now.

    Args:
        app_id (str):
        body (LimitsUpdate): What `wagateway apps set-limits` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LimitsOut
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
    body: LimitsUpdate,
) -> Response[LimitsOut]:
    """Set Limits

     The app's own API rate limits or device quota, as `wagateway apps set-limits`; what
    applies now.

    Args:
        app_id (str):
        body (LimitsUpdate): What `wagateway apps set-limits` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[LimitsOut]
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
    body: LimitsUpdate,
) -> LimitsOut:
    """Set Limits

     The app's own API rate limits or device quota, as `wagateway apps set-limits`; what
    applies now.

    Args:
        app_id (str):
        body (LimitsUpdate): What `wagateway apps set-limits` takes.

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        LimitsOut
    """

    kwargs = _get_kwargs(
        app_id=app_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
