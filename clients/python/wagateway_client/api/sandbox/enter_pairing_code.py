from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.device_out import DeviceOut
from ...models.pair_request import PairRequest
from ...types import Response


def _get_kwargs(
    *,
    body: PairRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/sandbox/pair",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> DeviceOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = DeviceOut.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeviceOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: PairRequest,
) -> Response[DeviceOut]:
    """Enter Pairing Code

     The simulated phone types a pairing code: the device links as the code's phone.

    Args:
        body (PairRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeviceOut]
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
    body: PairRequest,
) -> DeviceOut:
    """Enter Pairing Code

     The simulated phone types a pairing code: the device links as the code's phone.

    Args:
        body (PairRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeviceOut
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
    body: PairRequest,
) -> Response[DeviceOut]:
    """Enter Pairing Code

     The simulated phone types a pairing code: the device links as the code's phone.

    Args:
        body (PairRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeviceOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: PairRequest,
) -> DeviceOut:
    """Enter Pairing Code

     The simulated phone types a pairing code: the device links as the code's phone.

    Args:
        body (PairRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeviceOut
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
