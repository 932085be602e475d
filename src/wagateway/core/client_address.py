"""The caller's address: the TCP peer, or what a trusted proxy says the client was.

`Forwarded` (RFC 7239, its `for=` parameters) or, without it, `X-Forwarded-For` is believed
only when the direct peer is a trusted proxy, and then the right-most address that is not
itself a trusted proxy is the client (anything left of it was written by the client and
proves nothing)."""

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
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: compare them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: list[Network]
) -> bool:
    return any(address in network for network in proxies)


def client_address(request: Request, trusted_proxies: list[Network]) -> str:
    peer = request.client.host if request.client else ""
    peer_ip = _parse(peer)
    if peer_ip is None or not _trusted(peer_ip, trusted_proxies):
        return peer
    for hop in reversed(_forwarded_hops(request)):
        hop_ip = _parse(hop)
        if hop_ip is None:
            return peer  # garbage from the proxy chain: trust nothing in it
        if not _trusted(hop_ip, trusted_proxies):
            return str(hop_ip)
    return peer


def _forwarded_hops(request: Request) -> list[str]:
    """The addresses the proxies recorded, oldest first: `Forwarded`'s `for=` values when
    that header is present, else `X-Forwarded-For`'s."""
    forwarded = request.headers.get("forwarded")
    if forwarded:
        hops: list[str] = []
        for element in forwarded.split(","):
            hops.extend(v for v in (_param(p, "for") for p in element.split(";")) if v)
        return hops
    return [h for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]


def address_in(address: str, networks: list[Network]) -> bool:
    """Whether `address` (as `client_address` gives it) lies in one of `networks`."""
    parsed = _parse(address)
    return parsed is not None and _trusted(parsed, networks)


def forwarded_proto(request: Request, trusted_proxies: list[Network]) -> str:
    """The scheme the client used: what a trusted proxy recorded (`Forwarded`'s `proto=` of
    the element the nearest proxy added, else X-Forwarded-Proto), or the connection's own."""
    peer_ip = _parse(request.client.host) if request.client else None
    if peer_ip is not None and _trusted(peer_ip, trusted_proxies):
        forwarded = request.headers.get("forwarded")
        if forwarded:
            nearest = forwarded.split(",")[-1]
            values = [_param(pair, "proto") for pair in nearest.split(";")]
            proto = next((v for v in values if v), "")
        else:
            proto = request.headers.get("x-forwarded-proto", "").split(",")[0]
        proto = proto.strip().strip('"').lower()
        if proto in ("http", "https"):
            return proto
    return request.url.scheme


def _param(pair: str, wanted: str) -> str:
    name, _, value = pair.strip().partition("=")
    return value.strip() if name.strip().lower() == wanted else ""
