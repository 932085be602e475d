"""The host's ops commands call the running gateway's own REST API.

Device sessions live in the `wagateway serve` process: a CLI process has no engine, so it
cannot disconnect, delete or send by itself. Instead it resolves the device's app from the
database, decrypts that app's current token, and calls the server with it, so every action
takes the same route, validation, events and webhooks as any API call. The token travels
only in the `Authorization` header of those requests: never on a command line, in output or
in logs. Redirects are not followed and proxy variables are ignored (aiohttp's
`trust_env=False`), so the header goes to the address asked for and nowhere else.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp

from wagateway.cli_context import CliContext
from wagateway.core.errors import ApiError
from wagateway.core.settings import Settings
from wagateway.devices.lookup import device_and_token


class ServerUnreachable(ApiError):
    """Nothing answers at the gateway's URL: `wagateway serve` is not running there."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            503,
            "server_unreachable",
            f"no gateway answers at {url} ({reason}); `wagateway serve` must be running "
            "there, or pass --url",
        )
        self.url = url


def default_url(settings: Settings) -> str:
    """Where this host's `wagateway serve` listens: its configured address, or loopback when
    it listens on every address."""
    host = settings.host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host or '127.0.0.1'}:{settings.port}"  # a name, such as localhost
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{settings.port}"


@dataclass(frozen=True)
class DeviceAccess:
    """A device as the host sees it, and the token of the app it belongs to."""

    device_id: str
    device_name: str
    app_id: str
    token: str

    @property
    def path(self) -> str:
        return f"/devices/{quote(self.device_id, safe='')}"


async def device_access(ctx: CliContext, device_id: str) -> DeviceAccess:
    """The device's app and that app's current token, from the database; 404 for an unknown
    device (a destroyed one is found: the API then answers 410)."""
    device, token = await device_and_token(ctx.db, ctx.box, device_id)
    return DeviceAccess(device_id, device.name, device.app_id, token)


class GatewayApi:
    """A few calls to the running gateway with an app's token; its errors as `ApiError`."""

    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GatewayApi:
        self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON body; an `ApiError` with the API's code for any answer that is
        not a 2xx, or `ServerUnreachable`."""
        assert self._session is not None, "use GatewayApi as an async context manager"
        url = self.base_url + path
        try:
            async with self._session.request(
                method,
                url,
                json=body,
                params=params,
                headers={**self._headers, **(headers or {})},
                allow_redirects=False,
            ) as response:
                status, text = response.status, await response.text()
        except aiohttp.InvalidURL as exc:
            raise ApiError(400, "validation_error", f"not a usable URL: {self.base_url}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ServerUnreachable(self.base_url, str(exc.os_error.strerror or exc)) from exc
        except TimeoutError as exc:
            raise ApiError(
                408, "request_canceled", f"no answer from {self.base_url} in time"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ApiError(
                502, "bad_gateway", f"the call to {self.base_url} failed: {exc}"
            ) from exc
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if 200 <= status < 300:
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            raise ApiError(
                status, error["code"], str(error.get("message", "")), error.get("details")
            )
        raise ApiError(status, f"http_{status}", text.strip()[:300] or "no error body")
