"""The caller's address: the TCP peer, or what a trusted proxy says the client was.

Only the header the operator's proxies write is read (`WAGW_FORWARDED_HEADER`:
`X-Forwarded-For`, or `Forwarded` of RFC 7239 with its `for=` parameters). Proxies append
to it: the nearest proxy's entry is the right-most, anything left of it came from further
away — ultimately from the client, who can write whatever it likes, in that header or in
the other one (a proxy that appends X-Forwarded-For passes a client's `Forwarded` through
untouched). So the header is believed only when the direct peer is a trusted proxy, and
then the right-most hop that is not itself a trusted proxy is the client; when every hop is
a trusted proxy, the left-most one is.

A hop that cannot be parsed (`unknown`, an obfuscated `_name`, garbage, an empty entry), a
`Forwarded` element without `for=`, or a trusted peer that sent no header at all leaves the
client UNKNOWN: the proxy did not say who it was, and it is never taken for the proxy
itself (which may be allowlisted).

Entries are split on commas and parameters on semicolons without honouring quotes: a quoted
string the client opens could otherwise swallow the entries the proxies append after it,
while a proxy's own entry never holds a comma. Only a hop's address may be quoted."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from starlette.requests import Request

from wagateway.core.settings import ForwardedHeader

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

X_FORWARDED_FOR: ForwardedHeader = "X-Forwarded-For"
FORWARDED: ForwardedHeader = "Forwarded"

# What the audit keeps of a chain: the entries nearest the gateway (the far end is the
# client's own writing), each cut short.
_RECORDED_HOPS = 16
_RECORDED_HOP_CHARS = 100
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")  # RFC 7239 node-port (or obfport)


@dataclass(frozen=True)
class Caller:
    """Who is on the other end of a request, and what that is known from."""

    address: str | None  # the client; None when a trusted proxy did not name it
    peer: str  # the TCP peer
    header: ForwardedHeader | None = None  # the header believed (the peer is a trusted proxy)
    hops: tuple[str, ...] = ()  # its entries as received, oldest first

    def chain(self) -> dict[str, object]:
        """The whole chain, for the audit: the peer and, behind a trusted proxy, the entries
        of the header it wrote (the nearest ones, shortened: the rest is the client's)."""
        chain: dict[str, object] = {"peer": self.peer}
        if self.header is not None:
            chain["forwarded_header"] = self.header
            chain["hops"] = [hop[:_RECORDED_HOP_CHARS] for hop in self.hops[-_RECORDED_HOPS:]]
        return chain


def caller_of(
    request: Request, trusted_proxies: list[Network], header: ForwardedHeader = X_FORWARDED_FOR
) -> Caller:
    return _resolve(request, trusted_proxies, header)[0]


def _resolve(
    request: Request, trusted_proxies: list[Network], header: ForwardedHeader
) -> tuple[Caller, int | None]:
    """The caller, and the index of the hop that named it (None: the peer, or unknown)."""
    peer = request.client.host if request.client else ""
    peer_ip = _parse_node(peer)
    if peer_ip is None:
        return Caller(None, peer), None
    if not _trusted(peer_ip, trusted_proxies):
        return Caller(str(peer_ip), peer), None
    hops = _entries(request, header)
    addresses = [_hop_address(hop, header) for hop in hops]
    named: int | None = None
    for index in reversed(range(len(addresses))):
        address = addresses[index]
        if address is None:
            named = None  # unparseable: the client is unknown, whatever lies to its left
            break
        named = index
        if not _trusted(address, trusted_proxies):
            break
    client = addresses[named] if named is not None else None
    found = Caller(str(client) if client else None, peer, header, tuple(hops))
    return found, named


def _entries(request: Request, header: ForwardedHeader) -> list[str]:
    """The header's entries, oldest first; several lines of it are one list, in order."""
    lines = request.headers.getlist(header)
    if not lines:
        return []
    return [entry.strip() for entry in ",".join(lines).split(",")]


def _hop_address(hop: str, header: ForwardedHeader) -> Address | None:
    if header == X_FORWARDED_FOR:
        return _parse_node(hop)
    values = [value for value in (_param(pair, "for") for pair in hop.split(";")) if value]
    return _parse_node(values[0]) if len(values) == 1 else None


def _parse_node(value: str) -> Address | None:
    """An address as proxies write it: `a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]`, `[v6]:port`,
    optionally in double quotes; `::ffff:a.b.c.d` as the IPv4 address. None for anything
    else (`unknown`, `_obfuscated`, garbage)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    port = ""
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else ""
        if rest and not port:
            return None
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        if not port:
            return None
    else:
        host = value
    if port and not _PORT.fullmatch(port):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if value.startswith("[") and address.version != 6:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: compare them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: list[Network]) -> bool:
    return any(address in network for network in proxies)


def address_in(address: str, networks: list[Network]) -> bool:
    """Whether `address` (a `Caller`'s) lies in one of `networks`."""
    parsed = _parse_node(address)
    return parsed is not None and _trusted(parsed, networks)


def forwarded_proto(
    request: Request, trusted_proxies: list[Network], header: ForwardedHeader
) -> str:
    """The scheme the client used, as the proxies in front recorded it in the family of
    `header` (WAGW_FORWARDED_HEADER), or the connection's own.

    `Forwarded`: the `proto=` of the element that names the client (the proxy the client
    reached wrote both), else of the nearest element. `X-Forwarded-For`: the right-most
    `X-Forwarded-Proto` (proxies set or append it; the nearest is the one a client cannot
    have written). A client's own claim in the other family is not read."""
    caller, named = _resolve(request, trusted_proxies, header)
    if caller.header is None:  # the peer is not a trusted proxy
        return request.url.scheme
    if header == FORWARDED:
        element = caller.hops[named if named is not None else -1] if caller.hops else ""
        values = [_param(pair, "proto") for pair in element.split(";")]
        proto = next((v for v in values if v), "")
    else:
        proto = ",".join(request.headers.getlist("x-forwarded-proto")).split(",")[-1]
    proto = proto.strip().strip('"').lower()
    return proto if proto in ("http", "https") else request.url.scheme


def _param(pair: str, wanted: str) -> str:
    name, _, value = pair.strip().partition("=")
    return value.strip() if name.strip().lower() == wanted else ""
