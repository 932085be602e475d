"""The caller's address: the TCP peer, or what a trusted proxy says the client was.

`X-Forwarded-For` is believed only when the direct peer is a trusted proxy, and then the
right-most address that is not itself a trusted proxy is the client (anything left of it
was written by the client and proves nothing)."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: list[Network]
) -> bool:
    return any(address in network for network in proxies)


def client_address(request: Request, trusted_proxies: list[Network]) -> str:
    peer = request.client.host if request.client else ""
    peer_ip = _parse(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted_proxies):
        return peer
    hops = [h for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        hop_ip = _parse(hop)
        if hop_ip is None:
            return peer  # garbage from the proxy chain: trust nothing in it
        if not _trusted(hop_ip, trusted_proxies):
            return str(hop_ip)
    return peer


def forwarded_proto(request: Request, trusted_proxies: list[Network]) -> str:
    """The scheme the client used: the proxy's X-Forwarded-Proto when the peer is trusted."""
    peer_ip = _parse(request.client.host) if request.client else None
    if peer_ip is not None and _trusted(peer_ip, trusted_proxies):
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return request.url.scheme
