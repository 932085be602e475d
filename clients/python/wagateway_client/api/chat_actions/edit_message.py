from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.edit_request import EditRequest
from ...models.message_out import MessageOut
from ...types import Response


def _get_kwargs(
    device_id: str,
    message_id: str,
    *,
    body: EditRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/devices/{device_id}/messages/{message_id}".format(
            device_id=quote(str(device_id), safe=""),
            message_id=quote(str(message_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> MessageOut:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = MessageOut.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[MessageOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    device_id: str,
    message_id: str,
    *,
    client: AuthenticatedClient,
    body: EditRequest,
) -> Response[MessageOut]:
    """Edit Message

     Edit the text (or caption) of a message the device sent (`message_id`: the gateway's
    id or the WhatsApp id). Still queued: what will be sent changes. Sent: edited on WhatsApp
    within the edit window (`WAGW_EDIT_WINDOW_SECONDS`, 15 minutes from `sent_at`), else 409
    `conflict`. A message the device did not send: 403 `forbidden`. Answers the message,
    `edited_at` set.

    Args:
        device_id (str):
        message_id (str):
        body (EditRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MessageOut]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        message_id=message_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    message_id: str,
    *,
    client: AuthenticatedClient,
    body: EditRequest,
) -> MessageOut:
    """Edit Message

     Edit the text (or caption) of a message the device sent (`message_id`: the gateway's
    id or the WhatsApp id). Still queued: what will be sent changes. Sent: edited on WhatsApp
    within the edit window (`WAGW_EDIT_WINDOW_SECONDS`, 15 minutes from `sent_at`), else 409
    `conflict`. A message the device did not send: 403 `forbidden`. Answers the message,
    `edited_at` set.

    Args:
        device_id (str):
        message_id (str):
        body (EditRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MessageOut
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        message_id=message_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    device_id: str,
    message_id: str,
    *,
    client: AuthenticatedClient,
    body: EditRequest,
) -> Response[MessageOut]:
    """Edit Message

     Edit the text (or caption) of a message the device sent (`message_id`: the gateway's
    id or the WhatsApp id). Still queued: what will be sent changes. Sent: edited on WhatsApp
    within the edit window (`WAGW_EDIT_WINDOW_SECONDS`, 15 minutes from `sent_at`), else 409
    `conflict`. A message the device did not send: 403 `forbidden`. Answers the message,
    `edited_at` set.

    Args:
        device_id (str):
        message_id (str):
        body (EditRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MessageOut]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        message_id=message_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    message_id: str,
    *,
    client: AuthenticatedClient,
    body: EditRequest,
) -> MessageOut:
    """Edit Message

     Edit the text (or caption) of a message the device sent (`message_id`: the gateway's
    id or the WhatsApp id). Still queued: what will be sent changes. Sent: edited on WhatsApp
    within the edit window (`WAGW_EDIT_WINDOW_SECONDS`, 15 minutes from `sent_at`), else 409
    `conflict`. A message the device did not send: 403 `forbidden`. Answers the message,
    `edited_at` set.

    Args:
        device_id (str):
        message_id (str):
        body (EditRequest):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `conflict`, `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MessageOut
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        message_id=message_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
