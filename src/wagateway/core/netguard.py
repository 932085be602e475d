"""Outbound address rules for every connection the gateway makes on a tenant's behalf
(webhooks, media URLs): refuse loopback, private, link-local, metadata and other
non-public addresses unless the operator allowlisted them.

The check runs on the addresses a host name resolves to at connect time, inside the
connector, so a name that resolves to 127.0.0.1 (or is rebound to it between a check and
the connect) is caught: the addresses checked are the ones connected to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints that are not covered by "private" or "link-local" ranges.
_METADATA_ADDRESSES = {
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}


# Special-purpose ranges (IANA registries) that are not globally reachable although the
# standard library's `is_global` calls them global, in some or all Python versions.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated (RFC 7526)
        "fec0::/10",  # site-local, deprecated (RFC 3879): routed within a site only
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): a translator of the site's own
        "100:0:0:1::/64",  # dummy prefix (RFC 9780)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "3fff::/20",  # documentation (RFC 9637)
    )
)

# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible (deprecated,
# ::/96), IPv4-translated (SIIT, ::ffff:0:0:0/96) and NAT64's well-known prefix. Connecting
# to one reaches that IPv4 address (or a translator that forwards to it).
_LOW32_EMBEDDINGS = tuple(
    ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address stands for or tunnels to: IPv4-mapped, -compatible
    and -translated, NAT64, 6to4, and Teredo (its server and its client). Empty if none."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if any(address in prefix for prefix in _LOW32_EMBEDDINGS):
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    return ()


def is_public_address(address: Address) -> bool:
    """Globally reachable, by the standard library's classification plus `_NOT_GLOBAL`; an
    IPv6 form that embeds IPv4 addresses is as public as the least public of them."""
    if any(address in net for net in _NOT_GLOBAL if net.version == address.version):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded:
            return all(is_public_address(ipv4) for ipv4 in embedded)
    if address in _METADATA_ADDRESSES:
        return False
    return address.is_global and not address.is_multicast


def is_allowed(address: Address | str, allowlist: Sequence[Network]) -> bool:
    address = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.ip_address(str(address).split("%", 1)[0])
    # An IPv4 entry also covers its IPv4-mapped form: to a dual-stack socket that is the
    # IPv4 address itself. Other embeddings reach a translator or relay: judged as they are.
    candidates: tuple[Address, ...] = (address,)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates = (address, address.ipv4_mapped)
    if any(a in net for a in candidates for net in allowlist if net.version == a.version):
        return True
    return is_public_address(address)


def published_egress(networks: Sequence[Network]) -> list[str]:
    """`WAGW_EGRESS_ADDRESSES` as app owners see it: one address as itself, a range as CIDR."""
    return [
        str(net.network_address) if net.num_addresses == 1 else net.with_prefixlen
        for net in networks
    ]
