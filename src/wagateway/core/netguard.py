"""Outbound address rules for every connection the gateway makes on a tenant's behalf
(webhooks, media URLs): refuse loopback, private, link-local, metadata and other
non-public addresses unless the operator allowlisted them.

The check runs on the addresses a host name resolves to at connect time, inside the
connector, so a name that resolves to 127.0.0.1 (or is rebound to it between a check and
the connect) is caught: the addresses checked are the ones connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints that are not covered by "private" or "link-local" ranges.
_METADATA_ADDRESSES = {
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}


class OutboundAddressRefused(aiohttp.ClientError):
    """The destination resolves to an address the outbound rules refuse."""


_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one tunnels to (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in prefix for prefix in _NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public_address(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in prefix for prefix in _NAT64_PREFIXES[1:]):
            return False  # local-use NAT64 prefix: always site-specific
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    if address in _METADATA_ADDRESSES:
        return False
    return address.is_global and not address.is_multicast


def is_allowed(address: Address | str, allowlist: Sequence[Network]) -> bool:
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.ip_address(str(address).split("%", 1)[0])
    if any(address in net for net in allowlist if net.version == address.version):
        return True
    return is_public_address(address)


def published_egress(networks: Sequence[Network]) -> list[str]:
    """`WAGW_EGRESS_ADDRESSES` as app owners see it: one address as itself, a range as CIDR."""
    return [
        str(net.network_address) if net.num_addresses == 1 else net.with_prefixlen
        for net in networks
    ]


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
) -> aiohttp.ClientSession:
    """The client session for a tenant's destinations. With `source_address`
    (`WAGW_OUTBOUND_SOURCE_ADDRESS`) every connection is bound to that local address, and
    only destinations of its family are tried (an IPv4 socket cannot reach an IPv6 host)."""
    family = socket.AF_UNSPEC
    local_addr = None
    if source_address is not None:
        family = socket.AF_INET if source_address.version == 4 else socket.AF_INET6
        local_addr = (str(source_address), 0)
    connector = GuardedConnector(
        allowlist,
        limit=limit,
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
