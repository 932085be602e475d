from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.support.harness import free_port
from wagateway.core.guarded_http import GuardedConnector, OutboundAddressRefused, guarded_session
from wagateway.core.netguard import is_allowed, published_egress

REFUSED = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "224.0.0.1",
    "ff0e::1",  # global-scope multicast
    "100.100.100.200",
    "fd00:ec2::254",
]
# IPv6 forms that stand for (or tunnel to) an IPv4 address: judged as that address.
REFUSED_EMBEDDED = [
    "::127.0.0.1",  # IPv4-compatible (::/96, deprecated)
    "::10.0.0.1",
    "::169.254.169.254",
    "::ffff:0:127.0.0.1",  # IPv4-translated (::ffff:0:0:0/96, SIIT)
    "::ffff:0:192.168.1.1",
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:100.100.100.200",
    "64:ff9b::7f00:1",  # NAT64 well-known prefix
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::808:808",  # NAT64 local-use prefix: the site's own translator, never public
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo, server 10.0.0.1, client 8.8.8.8
]
# Special-purpose ranges that are not globally reachable, though some Python versions'
# `is_global` says they are.
REFUSED_SPECIAL = [
    "192.88.99.1",  # 6to4 relay anycast (deprecated)
    "fec0::1",  # site-local (deprecated)
    "feff:ffff::1",
    "100:0:0:1::1",  # dummy prefix
    "5f00::1",  # SRv6 SIDs
    "3fff::1",  # documentation
    "2001:db8::1",  # documentation
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "::ffff:0:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 well-known prefix
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, server 65.54.227.120, client 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED + REFUSED_EMBEDDED + REFUSED_SPECIAL)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert is_allowed(address, []) is False
    assert is_allowed(ipaddress.ip_address(address), []) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(address, []) is True
    assert is_allowed(ipaddress.ip_address(address), []) is True


def test_link_local_with_scope_id_is_refused() -> None:
    assert is_allowed("fe80::1%eth0", []) is False


def test_ipv4_allowlist_opens_only_its_range() -> None:
    allow = [ipaddress.ip_network("127.0.0.0/8")]
    assert is_allowed("127.0.0.1", allow) is True
    assert is_allowed("127.5.6.7", allow) is True
    assert is_allowed("10.0.0.1", allow) is False
    assert is_allowed("::1", allow) is False
    # Public addresses stay allowed with an allowlist present.
    assert is_allowed("8.8.8.8", allow) is True


def test_an_ipv4_allowlist_entry_covers_the_ipv4_mapped_form_only() -> None:
    """`::ffff:a.b.c.d` is how a dual-stack socket names the IPv4 address itself: the same
    destination, so the entry covers it. The other embeddings reach a translator or relay
    (or nothing), another destination: they are judged on their own."""
    allow = [ipaddress.ip_network("127.0.0.2/32")]
    assert is_allowed("::ffff:127.0.0.2", allow) is True
    assert is_allowed("::ffff:127.0.0.1", allow) is False
    for address in ("::127.0.0.2", "::ffff:0:127.0.0.2", "64:ff9b::7f00:2", "2002:7f00:2::1"):
        assert is_allowed(address, allow) is False, address


def test_ipv6_allowlist() -> None:
    allow = [ipaddress.ip_network("::1/128")]
    assert is_allowed("::1", allow) is True
    assert is_allowed("127.0.0.1", allow) is False
    assert is_allowed("fc00::1", allow) is False


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe"])
def test_nat64_embedded_private_ipv4_is_refused(address: str) -> None:
    assert is_allowed(address, []) is False


# --- real sockets ----------------------------------------------------------------------


async def _with_local_server(check: Callable[[int, list[str]], Awaitable[None]]) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.method)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        await check(port, hits)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_guarded_session_refuses_loopback(host: str) -> None:
    async def check(port: int, hits: list[str]) -> None:
        async with guarded_session([], timeout=5) as session:
            with pytest.raises(OutboundAddressRefused):
                async with session.post(f"http://{host}:{port}/", json={"x": 1}):
                    pass
        # The request never reached the server.
        assert hits == []

    asyncio.run(_with_local_server(check))


def test_guarded_session_with_allowlist_connects() -> None:
    async def check(port: int, hits: list[str]) -> None:
        allow = [ipaddress.ip_network("127.0.0.0/8")]
        async with guarded_session(allow, 5) as session:
            async with session.post(f"http://127.0.0.1:{port}/", json={"x": 1}) as resp:
                assert resp.status == 200
                assert await resp.text() == "ok"
        assert hits == ["POST"]

    asyncio.run(_with_local_server(check))


def test_guarded_session_keeps_no_cookies() -> None:
    """Webhook receivers of different apps may share a host: a cookie set by one must not
    be sent to the next request, whoever it is for."""
    cookies_seen: list[str | None] = []

    async def scenario() -> None:
        async def handler(request: web.Request) -> web.Response:
            cookies_seen.append(request.headers.get("Cookie"))
            response = web.Response(text="ok")
            response.set_cookie("session", "app-a-secret", path="/")
            return response

        app = web.Application()
        app.router.add_post("/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            allow = [ipaddress.ip_network("127.0.0.0/8")]
            async with guarded_session(allow, 5) as session:
                for path in ("/app-a", "/app-b"):
                    # A host name: aiohttp's default jar ignores cookies of IP addresses.
                    async with session.post(f"http://localhost:{port}{path}") as resp:
                        assert resp.status == 200
                        assert "session" in resp.cookies  # it was offered
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert cookies_seen == [None, None]


def test_published_egress_shows_hosts_bare_and_ranges_as_cidr() -> None:
    networks = [ipaddress.ip_network(n) for n in ("203.0.113.7/32", "2001:db8::/64", "::1/128")]
    assert published_egress(networks) == ["203.0.113.7", "2001:db8::/64", "::1"]


def test_guarded_session_binds_to_the_source_address() -> None:
    peers: list[str | None] = []

    async def scenario() -> None:
        async def handler(request: web.Request) -> web.Response:
            peers.append(request.remote)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            allow = [ipaddress.ip_network("127.0.0.0/8")]
            for source in (None, ipaddress.ip_address("127.0.0.3")):
                async with guarded_session(allow, 5, source_address=source) as session:
                    # A name: only the source address's family is tried (IPv4 here).
                    async with session.get(f"http://localhost:{port}/") as resp:
                        assert resp.status == 200
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    assert peers == ["127.0.0.1", "127.0.0.3"]


class _StubResolver(AbstractResolver):
    """DNS as an attacker controls it: `rebind.example` answers what `answers` says now."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.lookups = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        assert host == "rebind.example"
        self.lookups += 1
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.answers
        ]

    async def close(self) -> None:
        pass


def test_a_name_rebound_to_a_refused_address_is_refused_at_connect_time() -> None:
    """The check runs on the addresses the connector is about to connect to, on every
    lookup: a name that first resolved to an allowed address and then to loopback (DNS
    rebinding) is refused on the second connect, and nothing reaches the loopback server.
    An answer mixing an allowed and a refused address is refused whole."""
    hits: dict[str, list[str]] = {"127.0.0.2": [], "127.0.0.1": []}

    async def scenario() -> None:
        runners = []
        port = free_port()
        for address in hits:

            async def handler(request: web.Request, address: str = address) -> web.Response:
                hits[address].append(request.path)
                return web.Response(text="ok")

            app = web.Application()
            app.router.add_get("/{tail:.*}", handler)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, address, port).start()
            runners.append(runner)
        resolver = _StubResolver()
        allow = [ipaddress.ip_network("127.0.0.2/32")]  # stands for a public address
        # No DNS cache and no kept-alive connections: every request looks up and connects
        # anew, as after the cache's 10 s in guarded_session.
        connector = GuardedConnector(
            allow, resolver=resolver, use_dns_cache=False, force_close=True
        )
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                resolver.answers = ["127.0.0.2"]
                async with session.get(f"http://rebind.example:{port}/first") as resp:
                    assert resp.status == 200
                for answers in (["127.0.0.1"], ["127.0.0.2", "127.0.0.1"]):
                    resolver.answers = answers
                    with pytest.raises(OutboundAddressRefused, match="127.0.0.1"):
                        async with session.get(f"http://rebind.example:{port}/second"):
                            pass
            assert resolver.lookups == 3
        finally:
            for runner in runners:
                await runner.cleanup()

    asyncio.run(scenario())
    assert hits == {"127.0.0.2": ["/first"], "127.0.0.1": []}
