from http import HTTPStatus
from io import BytesIO
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...types import UNSET, File, Response


def _get_kwargs(
    *,
    path: str,
    expires: int,
    sig: str,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["path"] = path

    params["expires"] = expires

    params["sig"] = sig

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/media/link",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> File:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[File]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    path: str,
    expires: int,
    sig: str,
) -> Response[File]:
    """Get Linked Media

     Download an attachment by its `media_url`, without a token (CONTRACT §10). A link whose
    signature does not match (changed, or made for another app's path) is 404 `not_found`,
    as a file that does not exist; a genuine link past its expiry is 403 `forbidden` with
    `details.reason` `expired` (the file stays available with the app's token).

    Args:
        path (str):
        expires (int):
        sig (str):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File]
    """

    kwargs = _get_kwargs(
        path=path,
        expires=expires,
        sig=sig,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    path: str,
    expires: int,
    sig: str,
) -> File:
    """Get Linked Media

     Download an attachment by its `media_url`, without a token (CONTRACT §10). A link whose
    signature does not match (changed, or made for another app's path) is 404 `not_found`,
    as a file that does not exist; a genuine link past its expiry is 403 `forbidden` with
    `details.reason` `expired` (the file stays available with the app's token).

    Args:
        path (str):
        expires (int):
        sig (str):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File
    """

    kwargs = _get_kwargs(
        path=path,
        expires=expires,
        sig=sig,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    path: str,
    expires: int,
    sig: str,
) -> Response[File]:
    """Get Linked Media

     Download an attachment by its `media_url`, without a token (CONTRACT §10). A link whose
    signature does not match (changed, or made for another app's path) is 404 `not_found`,
    as a file that does not exist; a genuine link past its expiry is 403 `forbidden` with
    `details.reason` `expired` (the file stays available with the app's token).

    Args:
        path (str):
        expires (int):
        sig (str):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File]
    """

    kwargs = _get_kwargs(
        path=path,
        expires=expires,
        sig=sig,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    path: str,
    expires: int,
    sig: str,
) -> File:
    """Get Linked Media

     Download an attachment by its `media_url`, without a token (CONTRACT §10). A link whose
    signature does not match (changed, or made for another app's path) is 404 `not_found`,
    as a file that does not exist; a genuine link past its expiry is 403 `forbidden` with
    `details.reason` `expired` (the file stays available with the app's token).

    Args:
        path (str):
        expires (int):
        sig (str):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Forbidden: 403, `error.code` `forbidden`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File
    """

    kwargs = _get_kwargs(
        path=path,
        expires=expires,
        sig=sig,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
