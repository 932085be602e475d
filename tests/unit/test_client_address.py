"""Who called, and over which scheme, as the proxies in WAGW_TRUSTED_PROXIES recorded it in
the one header they write (WAGW_FORWARDED_HEADER)."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.requests import Request

from wagateway.core.client_address import (
    FORWARDED,
    X_FORWARDED_FOR,
    Caller,
    address_in,
    caller_of,
    forwarded_proto,
)

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
PROXY = "10.0.0.2"


def request(peer: str, *headers: tuple[str, str], scheme: str = "http") -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": (peer, 50000),
            "server": ("gateway", 80),
        }
    )


def xff(*values: str, peer: str = PROXY) -> str | None:
    lines = [("X-Forwarded-For", value) for value in values]
    return caller_of(request(peer, *lines), PROXIES, X_FORWARDED_FOR).address


def fwd(*values: str, peer: str = PROXY) -> str | None:
    lines = [("Forwarded", value) for value in values]
    return caller_of(request(peer, *lines), PROXIES, FORWARDED).address


def test_headers_count_only_from_a_trusted_peer() -> None:
    assert xff("10.0.0.5", peer="203.0.113.9") == "203.0.113.9"
    assert fwd("for=10.0.0.5", peer="203.0.113.9") == "203.0.113.9"
    untrusted = caller_of(request("203.0.113.9", ("X-Forwarded-For", "1.2.3.4")), PROXIES)
    assert untrusted == Caller("203.0.113.9", "203.0.113.9")
    assert untrusted.chain() == {"peer": "203.0.113.9"}
    # A dual-stack socket's ::ffff:a.b.c.d peer is the IPv4 address, trusted or not.
    assert xff("203.0.113.7", peer="::ffff:10.0.0.2") == "203.0.113.7"
    assert xff("10.0.0.5", peer="::ffff:203.0.113.9") == "203.0.113.9"


def test_the_right_most_hop_not_a_trusted_proxy_is_the_client() -> None:
    assert xff("203.0.113.7") == "203.0.113.7"
    assert xff("198.51.100.1, 203.0.113.7") == "203.0.113.7"  # left of it: the client's
    assert xff("198.51.100.1, 203.0.113.7, 10.0.0.3") == "203.0.113.7"  # a proxy chain
    assert fwd("for=198.51.100.1, for=203.0.113.7;proto=https") == "203.0.113.7"
    assert fwd("for=203.0.113.7;by=10.0.0.2, for=10.0.0.3") == "203.0.113.7"


def test_when_every_hop_is_a_trusted_proxy_the_left_most_is_the_client() -> None:
    assert xff("10.0.0.7, 10.0.0.3") == "10.0.0.7"
    assert fwd('for=10.0.0.7, for="[fd00::3]"') == "10.0.0.7"


def test_only_the_configured_header_is_read() -> None:
    # The bypass: a proxy appending X-Forwarded-For passes the client's Forwarded through.
    both = request(
        PROXY, ("Forwarded", "for=10.0.0.5"), ("X-Forwarded-For", "10.0.0.5, 203.0.113.9")
    )
    assert caller_of(both, PROXIES, X_FORWARDED_FOR).address == "203.0.113.9"
    assert caller_of(both, PROXIES).address == "203.0.113.9"  # X-Forwarded-For by default
    assert caller_of(both, PROXIES, FORWARDED).address == "10.0.0.5"  # all trusted
    # The configured header missing: the proxy named nobody (the other one is ignored).
    assert caller_of(request(PROXY, ("Forwarded", "for=203.0.113.7")), PROXIES).address is None
    only_xff = request(PROXY, ("X-Forwarded-For", "203.0.113.7"))
    assert caller_of(only_xff, PROXIES, FORWARDED).address is None


def test_several_lines_are_one_list_in_order() -> None:
    assert xff("10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert xff("203.0.113.9", "198.51.100.1, 10.0.0.5") == "198.51.100.1"
    assert fwd("for=10.0.0.5", "for=203.0.113.9") == "203.0.113.9"
    found = caller_of(request(PROXY, ("Forwarded", "for=a"), ("Forwarded", "for=b")), PROXIES)
    assert found.address is None  # and X-Forwarded-For (the default) was not there


@pytest.mark.parametrize(
    "hop",
    [
        "unknown",
        "_hidden",
        "not-an-address",
        "",
        "203.0.113.7:",
        "203.0.113.7:http",
        "203.0.113.7:123456",
        "[203.0.113.7]",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "[2001:db8::1]:",
        "2001:db8::zz",
        "203.0.113.256",
        "010.0.0.1",
        '"203.0.113.7',
    ],
)
def test_a_hop_that_cannot_be_parsed_makes_the_client_unknown(hop: str) -> None:
    """Never the proxy's own address (it may be allowlisted), never a hop left of it."""
    assert xff(f"198.51.100.1, {hop}") is None
    assert xff(f"198.51.100.1, {hop}, 10.0.0.3") is None
    assert fwd(f"for=198.51.100.1, for={hop}") is None
    # Left of the client it does not matter.
    assert xff(f"{hop}, 203.0.113.7") == "203.0.113.7"


def test_forwarded_specific_unknowns() -> None:
    assert fwd("for=unknown") is None
    assert fwd("for=_hidden;proto=https") is None
    assert fwd("proto=https") is None  # an element without for=: it names no one
    assert fwd("for=203.0.113.7;for=198.51.100.1") is None  # for= twice in one element
    assert fwd("for=203.0.113.7,") is None  # an empty element appended
    assert fwd("for=203.0.113.7, ") is None
    assert fwd("for=") is None
    # A quoted string the client opened cannot swallow the proxy's element.
    assert fwd('for=198.51.100.1;x="a, for=203.0.113.7') == "203.0.113.7"
    assert fwd('for=10.0.0.5;x="', "for=203.0.113.7") == "203.0.113.7"


def test_no_header_from_a_trusted_peer_is_an_unknown_client() -> None:
    found = caller_of(request(PROXY), PROXIES)
    assert found == Caller(None, PROXY, X_FORWARDED_FOR, ())
    assert found.chain() == {"peer": PROXY, "forwarded_header": "X-Forwarded-For", "hops": []}


@pytest.mark.parametrize(
    ("hop", "client"),
    [
        ("203.0.113.7:4711", "203.0.113.7"),
        ('"203.0.113.7"', "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ('"[2001:db8::1]:4711"', "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
        ("::ffff:10.0.0.5", "10.0.0.5"),  # a trusted proxy, the left-most hop
    ],
)
def test_address_forms(hop: str, client: str) -> None:
    assert xff(hop) == client
    assert fwd(f"for={hop}") == client
    assert fwd(f"For={hop} ; proto=https") == client  # parameter names are case-insensitive


def test_the_chain_is_recorded_as_received() -> None:
    found = caller_of(
        request(PROXY, ("Forwarded", 'for=198.51.100.1, for="[2001:db8::1]:4711";proto=https')),
        PROXIES,
        FORWARDED,
    )
    assert found.address == "2001:db8::1"
    assert found.chain() == {
        "peer": PROXY,
        "forwarded_header": "Forwarded",
        "hops": ["for=198.51.100.1", 'for="[2001:db8::1]:4711";proto=https'],
    }
    # Bounded: the nearest entries only (the far end is the client's own writing), cut short.
    long = caller_of(
        request(PROXY, ("X-Forwarded-For", ", ".join(["x" * 500] * 40 + ["203.0.113.7"]))),
        PROXIES,
    )
    assert long.address == "203.0.113.7"
    hops = long.chain()["hops"]
    assert isinstance(hops, list) and len(hops) == 16
    assert hops[-1] == "203.0.113.7" and all(len(hop) <= 100 for hop in hops)


def test_address_in() -> None:
    allowlist = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert address_in("127.0.0.2", allowlist)
    assert address_in("::ffff:127.0.0.2", allowlist)
    assert address_in("fd00::7", allowlist)
    assert not address_in("203.0.113.7", allowlist)
    assert not address_in("", allowlist)
    assert not address_in("testclient", allowlist)


def test_forwarded_proto_from_a_trusted_proxy_only() -> None:
    via_proxy = request(PROXY, ("Forwarded", "for=203.0.113.7;proto=https"))
    assert forwarded_proto(via_proxy, PROXIES, FORWARDED) == "https"
    spoofed = request("203.0.113.9", ("Forwarded", "for=10.0.0.5;proto=https"))
    assert forwarded_proto(spoofed, PROXIES, FORWARDED) == "http"
    legacy = request(PROXY, ("X-Forwarded-Proto", "https"))
    assert forwarded_proto(legacy, PROXIES, X_FORWARDED_FOR) == "https"
    direct = request("203.0.113.9", ("X-Forwarded-Proto", "https"))
    assert forwarded_proto(direct, PROXIES, X_FORWARDED_FOR) == "http"
    direct_tls = request("203.0.113.9", ("X-Forwarded-Proto", "http"), scheme="https")
    assert forwarded_proto(direct_tls, PROXIES, X_FORWARDED_FOR) == "https"


def test_forwarded_proto_reads_the_configured_family_only() -> None:
    # A client's Forwarded passed through a proxy that sets X-Forwarded-Proto: not read.
    both = request(
        PROXY,
        ("Forwarded", "for=203.0.113.7;proto=https"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "http"),
    )
    assert forwarded_proto(both, PROXIES, X_FORWARDED_FOR) == "http"
    # ...and a client's X-Forwarded-Proto behind a proxy writing Forwarded: not read either.
    assert forwarded_proto(both, PROXIES, FORWARDED) == "https"
    claim = request(PROXY, ("Forwarded", "for=203.0.113.7"), ("X-Forwarded-Proto", "https"))
    assert forwarded_proto(claim, PROXIES, FORWARDED) == "http"


def test_forwarded_proto_is_the_one_recorded_with_the_client() -> None:
    # Forwarded: the element that names the client was written, proto= and all, by the
    # proxy the client reached; a proxy further in may have spoken plain HTTP to it.
    chain = request(
        PROXY,
        (
            "Forwarded",
            "for=198.51.100.1;proto=http, for=203.0.113.7;proto=https, for=10.0.0.3;proto=http",
        ),
    )
    assert forwarded_proto(chain, PROXIES, FORWARDED) == "https"
    quoted = request(PROXY, ("Forwarded", 'for="[2001:db8::1]";proto="https"'))
    assert forwarded_proto(quoted, PROXIES, FORWARDED) == "https"
    # No client named: the nearest element's.
    unnamed = request(PROXY, ("Forwarded", "for=_hidden;proto=https"))
    assert forwarded_proto(unnamed, PROXIES, FORWARDED) == "https"
    assert forwarded_proto(request(PROXY, ("Forwarded", "for=1.2.3.4")), PROXIES, FORWARDED) == (
        "http"
    )
    gopher = request(PROXY, ("Forwarded", "for=1.2.3.4;proto=gopher"))
    assert forwarded_proto(gopher, PROXIES, FORWARDED) == "http"
    # X-Forwarded-Proto: the nearest value (a client's own sits to its left).
    appended = request(PROXY, ("X-Forwarded-Proto", "http, https"))
    assert forwarded_proto(appended, PROXIES, X_FORWARDED_FOR) == "https"
    lines = request(PROXY, ("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http"))
    assert forwarded_proto(lines, PROXIES, X_FORWARDED_FOR) == "http"
