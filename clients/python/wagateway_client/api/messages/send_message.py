from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.send_accepted import SendAccepted
from ...models.send_message_request import SendMessageRequest
from ...types import UNSET, Response, Unset


def _get_kwargs(
    device_id: str,
    *,
    body: SendMessageRequest,
    wait: bool | Unset = False,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    params: dict[str, Any] = {}

    params["wait"] = wait

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/devices/{device_id}/messages".format(
            device_id=quote(str(device_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> SendAccepted:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = SendAccepted.from_dict(response.json())

        return response_200

    if response.status_code == 202:
        response_202 = SendAccepted.from_dict(response.json())

        return response_202

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[SendAccepted]:
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
    body: SendMessageRequest,
    wait: bool | Unset = False,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[SendAccepted]:
    """Send Message

     Queue a message on a connected device: 202 `queued`. It is sent in order, paced.

    `?wait=true` answers once it left the device (`sent`, with `wa_message_id`) or failed,
    or 408 `request_canceled` after the bounded wait (the message stays queued).
    The same `Idempotency-Key` with the same body within 24 h returns the first answer.

    Args:
        device_id (str):
        wait (bool | Unset):  Default: False.
        idempotency_key (None | str | Unset):
        body (SendMessageRequest): One body for every type; which fields are required depends on
            `type` (CONTRACT §3).

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestCanceled: 408, `error.code` `request_canceled`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[SendAccepted]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
        wait=wait,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: SendMessageRequest,
    wait: bool | Unset = False,
    idempotency_key: None | str | Unset = UNSET,
) -> SendAccepted:
    """Send Message

     Queue a message on a connected device: 202 `queued`. It is sent in order, paced.

    `?wait=true` answers once it left the device (`sent`, with `wa_message_id`) or failed,
    or 408 `request_canceled` after the bounded wait (the message stays queued).
    The same `Idempotency-Key` with the same body within 24 h returns the first answer.

    Args:
        device_id (str):
        wait (bool | Unset):  Default: False.
        idempotency_key (None | str | Unset):
        body (SendMessageRequest): One body for every type; which fields are required depends on
            `type` (CONTRACT §3).

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestCanceled: 408, `error.code` `request_canceled`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        SendAccepted
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
        wait=wait,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: SendMessageRequest,
    wait: bool | Unset = False,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[SendAccepted]:
    """Send Message

     Queue a message on a connected device: 202 `queued`. It is sent in order, paced.

    `?wait=true` answers once it left the device (`sent`, with `wa_message_id`) or failed,
    or 408 `request_canceled` after the bounded wait (the message stays queued).
    The same `Idempotency-Key` with the same body within 24 h returns the first answer.

    Args:
        device_id (str):
        wait (bool | Unset):  Default: False.
        idempotency_key (None | str | Unset):
        body (SendMessageRequest): One body for every type; which fields are required depends on
            `type` (CONTRACT §3).

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestCanceled: 408, `error.code` `request_canceled`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[SendAccepted]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
        wait=wait,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    *,
    client: AuthenticatedClient,
    body: SendMessageRequest,
    wait: bool | Unset = False,
    idempotency_key: None | str | Unset = UNSET,
) -> SendAccepted:
    """Send Message

     Queue a message on a connected device: 202 `queued`. It is sent in order, paced.

    `?wait=true` answers once it left the device (`sent`, with `wa_message_id`) or failed,
    or 408 `request_canceled` after the bounded wait (the message stays queued).
    The same `Idempotency-Key` with the same body within 24 h returns the first answer.

    Args:
        device_id (str):
        wait (bool | Unset):  Default: False.
        idempotency_key (None | str | Unset):
        body (SendMessageRequest): One body for every type; which fields are required depends on
            `type` (CONTRACT §3).

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestCanceled: 408, `error.code` `request_canceled`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        SendAccepted
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
        wait=wait,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
