"""The HTTP client for a tenant's destinations (webhooks, media URLs), with the outbound
address rules of core/netguard.py checked inside its connector.

A module of its own because aiohttp's import is a good part of a node's: the modules that
reach tenants import this one when they first connect, not when they are loaded
(core/starting_front.py).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import aiohttp

from wagateway.core.netguard import Address, Network, is_allowed


class OutboundAddressRefused(aiohttp.ClientError):
    """The destination resolves to an address the outbound rules refuse."""


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that refuses to connect to addresses outside the outbound rules."""

    def __init__(self, allowlist: Sequence[Network], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allowlist = list(allowlist)

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> Any:
        results = await super()._resolve_host(host, port, traces=traces)
        refused = [r["host"] for r in results if not is_allowed(r["host"], self._allowlist)]
        if refused:
            raise OutboundAddressRefused(
                f"refusing to connect to {host}: it resolves to a non-public address "
                f"({refused[0]}); allowlist it with WAGW_OUTBOUND_ALLOWLIST if intended"
            )
        return results


def guarded_session(
    allowlist: Sequence[Network],
    timeout: float,
    limit: int = 100,
    source_address: Address | None = None,
    total_limit: int | None = None,
) -> aiohttp.ClientSession:
    """The client session for a tenant's destinations: at most `limit` connections to one
    host, `total_limit` in all (0: no limit; default `limit`). With `source_address`
    (`WAGW_OUTBOUND_SOURCE_ADDRESS`) every connection is bound to that local address, and
    only destinations of its family are tried (an IPv4 socket cannot reach an IPv6 host)."""
    family = socket.AF_UNSPEC
    local_addr = None
    if source_address is not None:
        family = socket.AF_INET if source_address.version == 4 else socket.AF_INET6
        local_addr = (str(source_address), 0)
    connector = GuardedConnector(
        allowlist,
        limit=limit if total_limit is None else total_limit,
        limit_per_host=limit,
        family=family,
        local_addr=local_addr,
        ttl_dns_cache=10,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        auto_decompress=True,
        trust_env=False,
        # One session serves every app's webhook receivers and media hosts: a cookie one
        # of them sets must never travel to another (nor back: requests carry none). It
        # also spares the cookie filtering aiohttp does on every request.
        cookie_jar=aiohttp.DummyCookieJar(),
    )
