from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.group_event_applied import GroupEventApplied
from ...models.group_event_request import GroupEventRequest
from ...types import Response


def _get_kwargs(
    device_id: str,
    *,
    body: GroupEventRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/sandbox/devices/{device_id}/group-event".format(
            device_id=quote(str(device_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> GroupEventApplied:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 202:
        response_202 = GroupEventApplied.from_dict(response.json())

        return response_202

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[GroupEventApplied]:
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
    body: GroupEventRequest,
) -> Response[GroupEventApplied]:
    """Group Event

     Someone else changes a group the account is in: `group_participants` (add, remove,
    promote, demote), `group_updated` (update: `subject`, `description`, `announce`,
    `locked`), or `group_joined` when the account itself is added to a group it is not in.
    An unknown group: 404. The event has been emitted when this answers.

    Args:
        device_id (str):
        body (GroupEventRequest):

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
        Response[GroupEventApplied]
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
    body: GroupEventRequest,
) -> GroupEventApplied:
    """Group Event

     Someone else changes a group the account is in: `group_participants` (add, remove,
    promote, demote), `group_updated` (update: `subject`, `description`, `announce`,
    `locked`), or `group_joined` when the account itself is added to a group it is not in.
    An unknown group: 404. The event has been emitted when this answers.

    Args:
        device_id (str):
        body (GroupEventRequest):

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
        GroupEventApplied
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
    body: GroupEventRequest,
) -> Response[GroupEventApplied]:
    """Group Event

     Someone else changes a group the account is in: `group_participants` (add, remove,
    promote, demote), `group_updated` (update: `subject`, `description`, `announce`,
    `locked`), or `group_joined` when the account itself is added to a group it is not in.
    An unknown group: 404. The event has been emitted when this answers.

    Args:
        device_id (str):
        body (GroupEventRequest):

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
        Response[GroupEventApplied]
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
    body: GroupEventRequest,
) -> GroupEventApplied:
    """Group Event

     Someone else changes a group the account is in: `group_participants` (add, remove,
    promote, demote), `group_updated` (update: `subject`, `description`, `announce`,
    `locked`), or `group_joined` when the account itself is added to a group it is not in.
    An unknown group: 404. The event has been emitted when this answers.

    Args:
        device_id (str):
        body (GroupEventRequest):

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
        GroupEventApplied
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
