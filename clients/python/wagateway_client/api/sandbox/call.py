from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.call_placed import CallPlaced
from ...models.call_request import CallRequest
from ...types import Response


def _get_kwargs(
    device_id: str,
    *,
    body: CallRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/sandbox/devices/{device_id}/call".format(
            device_id=quote(str(device_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CallPlaced:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 202:
        response_202 = CallPlaced.from_dict(response.json())

        return response_202

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CallPlaced]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: CallRequest,
) -> Response[CallPlaced]:
    """Call

     A contact calls the device: a `call` event (`offer`) follows. With a call policy
    that rejects (`PATCH /app` or `/devices/{id}`), the call is rejected (`call_reject` in
    the network log, a `call` event `rejected`, the reply text queued); otherwise the ring
    ends at once as `outcome` says (`missed`; or `accepted`, then `ended`). Everything has
    been applied when this answers.

    Args:
        device_id (str):
        body (CallRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CallPlaced]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: CallRequest,
) -> CallPlaced:
    """Call

     A contact calls the device: a `call` event (`offer`) follows. With a call policy
    that rejects (`PATCH /app` or `/devices/{id}`), the call is rejected (`call_reject` in
    the network log, a `call` event `rejected`, the reply text queued); otherwise the ring
    ends at once as `outcome` says (`missed`; or `accepted`, then `ended`). Everything has
    been applied when this answers.

    Args:
        device_id (str):
        body (CallRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CallPlaced
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: CallRequest,
) -> Response[CallPlaced]:
    """Call

     A contact calls the device: a `call` event (`offer`) follows. With a call policy
    that rejects (`PATCH /app` or `/devices/{id}`), the call is rejected (`call_reject` in
    the network log, a `call` event `rejected`, the reply text queued); otherwise the ring
    ends at once as `outcome` says (`missed`; or `accepted`, then `ended`). Everything has
    been applied when this answers.

    Args:
        device_id (str):
        body (CallRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CallPlaced]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: CallRequest,
) -> CallPlaced:
    """Call

     A contact calls the device: a `call` event (`offer`) follows. With a call policy
    that rejects (`PATCH /app` or `/devices/{id}`), the call is rejected (`call_reject` in
    the network log, a `call` event `rejected`, the reply text queued); otherwise the ring
    ends at once as `outcome` says (`missed`; or `accepted`, then `ended`). Everything has
    been applied when this answers.

    Args:
        device_id (str):
        body (CallRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CallPlaced
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
