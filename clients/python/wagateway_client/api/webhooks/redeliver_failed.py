from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.redeliver_all_out import RedeliverAllOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    device_id: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_device_id: None | str | Unset
    if isinstance(device_id, Unset):
        json_device_id = UNSET
    else:
        json_device_id = device_id
    params["device_id"] = json_device_id

    json_endpoint_id: None | str | Unset
    if isinstance(endpoint_id, Unset):
        json_endpoint_id = UNSET
    else:
        json_endpoint_id = endpoint_id
    params["endpoint_id"] = json_endpoint_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/webhooks/deliveries/redeliver-failed",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> RedeliverAllOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 202:
        response_202 = RedeliverAllOut.from_dict(response.json())

        return response_202

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[RedeliverAllOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    device_id: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> Response[RedeliverAllOut]:
    """Redeliver Failed

     Queue every failed event of the app again (of one device, of one endpoint).

    Args:
        device_id (None | str | Unset):
        endpoint_id (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[RedeliverAllOut]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        endpoint_id=endpoint_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    device_id: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> RedeliverAllOut:
    """Redeliver Failed

     Queue every failed event of the app again (of one device, of one endpoint).

    Args:
        device_id (None | str | Unset):
        endpoint_id (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        RedeliverAllOut
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        endpoint_id=endpoint_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    device_id: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> Response[RedeliverAllOut]:
    """Redeliver Failed

     Queue every failed event of the app again (of one device, of one endpoint).

    Args:
        device_id (None | str | Unset):
        endpoint_id (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[RedeliverAllOut]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        endpoint_id=endpoint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    device_id: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> RedeliverAllOut:
    """Redeliver Failed

     Queue every failed event of the app again (of one device, of one endpoint).

    Args:
        device_id (None | str | Unset):
        endpoint_id (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        RedeliverAllOut
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        endpoint_id=endpoint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
