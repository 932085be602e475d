from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delivery_list import DeliveryList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    device_id: None | str | Unset = UNSET,
    event: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    include_archived: bool | Unset = False,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_device_id: None | str | Unset
    if isinstance(device_id, Unset):
        json_device_id = UNSET
    else:
        json_device_id = device_id
    params["device_id"] = json_device_id

    json_event: None | str | Unset
    if isinstance(event, Unset):
        json_event = UNSET
    else:
        json_event = event
    params["event"] = json_event

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    else:
        json_state = state
    params["state"] = json_state

    params["include_archived"] = include_archived

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    json_endpoint_id: None | str | Unset
    if isinstance(endpoint_id, Unset):
        json_endpoint_id = UNSET
    else:
        json_endpoint_id = endpoint_id
    params["endpoint_id"] = json_endpoint_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/webhooks/deliveries",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeliveryList:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = DeliveryList.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeliveryList]:
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
    event: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    include_archived: bool | Unset = False,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> Response[DeliveryList]:
    """List Deliveries

     Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped), and
    `endpoint_id`: that endpoint's delivery log (the events it has had to deliver, its state
    of each, its attempts). Events of deleted devices are archived: add
    `include_archived=true` to see them.

    Args:
        device_id (None | str | Unset):
        event (None | str | Unset):
        state (None | str | Unset):
        include_archived (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
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
        Response[DeliveryList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
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
    event: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    include_archived: bool | Unset = False,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> DeliveryList:
    """List Deliveries

     Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped), and
    `endpoint_id`: that endpoint's delivery log (the events it has had to deliver, its state
    of each, its attempts). Events of deleted devices are archived: add
    `include_archived=true` to see them.

    Args:
        device_id (None | str | Unset):
        event (None | str | Unset):
        state (None | str | Unset):
        include_archived (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
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
        DeliveryList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
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
    event: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    include_archived: bool | Unset = False,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> Response[DeliveryList]:
    """List Deliveries

     Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped), and
    `endpoint_id`: that endpoint's delivery log (the events it has had to deliver, its state
    of each, its attempts). Events of deleted devices are archived: add
    `include_archived=true` to see them.

    Args:
        device_id (None | str | Unset):
        event (None | str | Unset):
        state (None | str | Unset):
        include_archived (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
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
        Response[DeliveryList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
        endpoint_id=endpoint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    device_id: None | str | Unset = UNSET,
    event: None | str | Unset = UNSET,
    state: None | str | Unset = UNSET,
    include_archived: bool | Unset = False,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    endpoint_id: None | str | Unset = UNSET,
) -> DeliveryList:
    """List Deliveries

     Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped), and
    `endpoint_id`: that endpoint's delivery log (the events it has had to deliver, its state
    of each, its attempts). Events of deleted devices are archived: add
    `include_archived=true` to see them.

    Args:
        device_id (None | str | Unset):
        event (None | str | Unset):
        state (None | str | Unset):
        include_archived (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 50.
        cursor (None | str | Unset):
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
        DeliveryList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
        endpoint_id=endpoint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
