from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.endpoint_secret_rotated import EndpointSecretRotated
from ...models.secret_rotate import SecretRotate
from ...types import UNSET, Response, Unset


def _get_kwargs(
    endpoint_id: str,
    *,
    body: None | SecretRotate | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/webhooks/endpoints/{endpoint_id}/rotate-secret".format(
            endpoint_id=quote(str(endpoint_id), safe=""),
        ),
    }

    if isinstance(body, SecretRotate):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> EndpointSecretRotated:
    if response.status_code >= 400:
        raise errors.error_from_response(response)
    if response.status_code == 200:
        response_200 = EndpointSecretRotated.from_dict(response.json())

        return response_200

    raise errors.UnexpectedStatus(response.status_code, response.content)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[EndpointSecretRotated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    body: None | SecretRotate | Unset = UNSET,
) -> Response[EndpointSecretRotated]:
    """Rotate Endpoint Secret

     A new secret; the previous one signs too during `grace_seconds` (both signatures
    are sent). On `default`, the app's webhook secret.

    Args:
        endpoint_id (str):
        body (None | SecretRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EndpointSecretRotated]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    body: None | SecretRotate | Unset = UNSET,
) -> EndpointSecretRotated:
    """Rotate Endpoint Secret

     A new secret; the previous one signs too during `grace_seconds` (both signatures
    are sent). On `default`, the app's webhook secret.

    Args:
        endpoint_id (str):
        body (None | SecretRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EndpointSecretRotated
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _parse_response(client=client, response=response)


async def asyncio_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    body: None | SecretRotate | Unset = UNSET,
) -> Response[EndpointSecretRotated]:
    """Rotate Endpoint Secret

     A new secret; the previous one signs too during `grace_seconds` (both signatures
    are sent). On `default`, the app's webhook secret.

    Args:
        endpoint_id (str):
        body (None | SecretRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EndpointSecretRotated]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    body: None | SecretRotate | Unset = UNSET,
) -> EndpointSecretRotated:
    """Rotate Endpoint Secret

     A new secret; the previous one signs too during `grace_seconds` (both signatures
    are sent). On `default`, the app's webhook secret.

    Args:
        endpoint_id (str):
        body (None | SecretRotate | Unset):

    Raises:
        errors.ValidationError: 400, `error.code` `validation_error`.
        errors.Unauthorized: 401, `error.code` `invalid_api_key`.
        errors.NotFound: 404, `error.code` `not_found`.
        errors.RequestTooLarge: 413, `error.code` `request_too_large`.
        errors.RateLimited: 429, `error.code` `rate_limit_exceeded`.
        errors.WAGatewayError: Any other error status (the base class of the above).
        errors.UnexpectedStatus: A success status the API does not document.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EndpointSecretRotated
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _parse_response(client=client, response=response)
