from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.contact_list import ContactList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    device_id: str,
    *,
    jid: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_jid: None | str | Unset
    if isinstance(jid, Unset):
        json_jid = UNSET
    else:
        json_jid = jid
    params["jid"] = json_jid

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/devices/{device_id}/contacts".format(
            device_id=quote(str(device_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ContactList:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = ContactList.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ContactList]:
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
    jid: None | str | Unset = UNSET,
) -> Response[ContactList]:
    """Contacts

     The contacts the account's session knows: push names of whoever wrote, the names the
    phone synced, business names, with phone and LID where known. `jid` (phone, phone JID
    or LID JID; not a group) narrows the list to that contact.

    Args:
        device_id (str):
        jid (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContactList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        jid=jid,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    *,
    client: AuthenticatedClient,
    jid: None | str | Unset = UNSET,
) -> ContactList:
    """Contacts

     The contacts the account's session knows: push names of whoever wrote, the names the
    phone synced, business names, with phone and LID where known. `jid` (phone, phone JID
    or LID JID; not a group) narrows the list to that contact.

    Args:
        device_id (str):
        jid (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContactList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        jid=jid,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    device_id: str,
    *,
    client: AuthenticatedClient,
    jid: None | str | Unset = UNSET,
) -> Response[ContactList]:
    """Contacts

     The contacts the account's session knows: push names of whoever wrote, the names the
    phone synced, business names, with phone and LID where known. `jid` (phone, phone JID
    or LID JID; not a group) narrows the list to that contact.

    Args:
        device_id (str):
        jid (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContactList]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        jid=jid,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    *,
    client: AuthenticatedClient,
    jid: None | str | Unset = UNSET,
) -> ContactList:
    """Contacts

     The contacts the account's session knows: push names of whoever wrote, the names the
    phone synced, business names, with phone and LID where known. `jid` (phone, phone JID
    or LID JID; not a group) narrows the list to that contact.

    Args:
        device_id (str):
        jid (None | str | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`, `unauthorized`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.Conflict: 409, `error.code` `device_not_connected`.
        errors.Gone: 410, `error.code` `device_destroyed`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContactList
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        jid=jid,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
