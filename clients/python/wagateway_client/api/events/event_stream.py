from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    events: None | str | Unset = UNSET,
    device_id: None | str | Unset = UNSET,
    ticket: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["last-event-id"] = last_event_id

    params: dict[str, Any] = {}

    json_events: None | str | Unset
    if isinstance(events, Unset):
        json_events = UNSET
    else:
        json_events = events
    params["events"] = json_events

    json_device_id: None | str | Unset
    if isinstance(device_id, Unset):
        json_device_id = UNSET
    else:
        json_device_id = device_id
    params["device_id"] = json_device_id

    json_ticket: None | str | Unset
    if isinstance(ticket, Unset):
        json_ticket = UNSET
    else:
        json_ticket = ticket
    params["ticket"] = json_ticket

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/events/stream",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | None:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        return None

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    events: None | str | Unset = UNSET,
    device_id: None | str | Unset = UNSET,
    ticket: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[Any]:
    """Event Stream

     The app's events as Server-Sent Events, the same envelopes as its webhooks (CONTRACT
    §10). Without `Last-Event-ID`: events from now on; with it: every event after that one,
    as far back as `WAGW_STREAM_RETENTION_SECONDS` reaches. A consumer that falls more than
    `WAGW_STREAM_BUFFER_EVENTS` behind is cut off (`event: error`, `consumer_too_slow`).

    The same stream as a WebSocket: `/events/ws` (the same query, plus `last_event_id`;
    frames `{"type": "event", "id", "event"}`), which OpenAPI cannot describe; see
    docs/behaviour.md, "Event stream".

    Args:
        events (None | str | Unset): comma-separated event names to receive (empty: all)
        device_id (None | str | Unset): only this device's events
        ticket (None | str | Unset): a stream ticket (`POST /events/tickets`) instead of the
            Bearer header
        last_event_id (None | str | Unset): resume after this event's `id:` (replays what was
            missed)

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: 503, `error.code` `stream_capacity_reached`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any]
    """

    kwargs = _get_kwargs(
        events=events,
        device_id=device_id,
        ticket=ticket,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    events: None | str | Unset = UNSET,
    device_id: None | str | Unset = UNSET,
    ticket: None | str | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[Any]:
    """Event Stream

     The app's events as Server-Sent Events, the same envelopes as its webhooks (CONTRACT
    §10). Without `Last-Event-ID`: events from now on; with it: every event after that one,
    as far back as `WAGW_STREAM_RETENTION_SECONDS` reaches. A consumer that falls more than
    `WAGW_STREAM_BUFFER_EVENTS` behind is cut off (`event: error`, `consumer_too_slow`).

    The same stream as a WebSocket: `/events/ws` (the same query, plus `last_event_id`;
    frames `{"type": "event", "id", "event"}`), which OpenAPI cannot describe; see
    docs/behaviour.md, "Event stream".

    Args:
        events (None | str | Unset): comma-separated event names to receive (empty: all)
        device_id (None | str | Unset): only this device's events
        ticket (None | str | Unset): a stream ticket (`POST /events/tickets`) instead of the
            Bearer header
        last_event_id (None | str | Unset): resume after this event's `id:` (replays what was
            missed)

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: 503, `error.code` `stream_capacity_reached`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any]
    """

    kwargs = _get_kwargs(
        events=events,
        device_id=device_id,
        ticket=ticket,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)
