from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.message_list import MessageList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    device_id: str,
    chat: str,
    *,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/devices/{device_id}/chats/{chat}/messages".format(
            device_id=quote(str(device_id), safe=""),
            chat=quote(str(chat), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> MessageList:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = MessageList.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[MessageList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    device_id: str,
    chat: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[MessageList]:
    """Chat Messages

     One chat's stored messages, newest first (`chat`: as a message's `to`).

    Args:
        device_id (str):
        chat (str):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MessageList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        chat=chat,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    chat: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> MessageList:
    """Chat Messages

     One chat's stored messages, newest first (`chat`: as a message's `to`).

    Args:
        device_id (str):
        chat (str):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MessageList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        chat=chat,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    device_id: str,
    chat: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> Response[MessageList]:
    """Chat Messages

     One chat's stored messages, newest first (`chat`: as a message's `to`).

    Args:
        device_id (str):
        chat (str):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MessageList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        chat=chat,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    chat: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
) -> MessageList:
    """Chat Messages

     One chat's stored messages, newest first (`chat`: as a message's `to`).

    Args:
        device_id (str):
        chat (str):
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MessageList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        chat=chat,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
