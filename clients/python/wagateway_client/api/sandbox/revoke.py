from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.revoke_request import RevokeRequest
from ...models.revoke_response_revoke_sandbox_devices_device_id_revoke_post import (
    RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost,
)
from ...types import Response


def _get_kwargs(
    device_id: str,
    *,
    body: RevokeRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/sandbox/devices/{device_id}/revoke".format(
            device_id=quote(str(device_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 202:
        response_202 = RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost.from_dict(
            response.json()
        )

        return response_202

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost]:
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
    body: RevokeRequest,
) -> Response[RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost]:
    """Revoke

     The contact deletes a message for everyone: a `message_revoked` event follows. An alias
    of `POST …/inbound` with `type: "revoke"`.

    Args:
        device_id (str):
        body (RevokeRequest):

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
        Response[RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost]
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
    body: RevokeRequest,
) -> RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost:
    """Revoke

     The contact deletes a message for everyone: a `message_revoked` event follows. An alias
    of `POST …/inbound` with `type: "revoke"`.

    Args:
        device_id (str):
        body (RevokeRequest):

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
        RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost
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
    body: RevokeRequest,
) -> Response[RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost]:
    """Revoke

     The contact deletes a message for everyone: a `message_revoked` event follows. An alias
    of `POST …/inbound` with `type: "revoke"`.

    Args:
        device_id (str):
        body (RevokeRequest):

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
        Response[RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost]
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
    body: RevokeRequest,
) -> RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost:
    """Revoke

     The contact deletes a message for everyone: a `message_revoked` event follows. An alias
    of `POST …/inbound` with `type: "revoke"`.

    Args:
        device_id (str):
        body (RevokeRequest):

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
        RevokeResponseRevokeSandboxDevicesDeviceIdRevokePost
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
