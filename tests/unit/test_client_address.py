"""Who called, and over which scheme, as the proxies in WAGW_TRUSTED_PROXIES recorded it."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from wagateway.core.client_address import client_address, forwarded_proto

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


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


def test_forwarded_proto_from_a_trusted_proxy_only() -> None:
    via_proxy = request("10.0.0.2", ("Forwarded", "for=203.0.113.7;proto=https"))
    assert forwarded_proto(via_proxy, PROXIES) == "https"
    assert client_address(via_proxy, PROXIES) == "203.0.113.7"
    spoofed = request("203.0.113.9", ("Forwarded", "for=10.0.0.5;proto=https"))
    assert forwarded_proto(spoofed, PROXIES) == "http"
    assert client_address(spoofed, PROXIES) == "203.0.113.9"


def test_forwarded_proto_is_the_nearest_proxys_and_quoted_values_count() -> None:
    chain = request(
        "10.0.0.2",
        ("Forwarded", 'for=198.51.100.1;proto=https, for="[2001:db8::1]";proto="http"'),
        scheme="http",
    )
    assert forwarded_proto(chain, PROXIES) == "http"
    assert forwarded_proto(request("10.0.0.2", ("Forwarded", "for=1.2.3.4")), PROXIES) == "http"
    both = request("10.0.0.2", ("Forwarded", "proto=https"), ("X-Forwarded-Proto", "http"))
    assert forwarded_proto(both, PROXIES) == "https"  # Forwarded, the standard, wins
    legacy = request("10.0.0.2", ("X-Forwarded-Proto", "https"))
    assert forwarded_proto(legacy, PROXIES) == "https"
    assert forwarded_proto(request("10.0.0.2", ("Forwarded", "proto=gopher")), PROXIES) == "http"
