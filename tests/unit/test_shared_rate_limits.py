"""The rate limits shared in Redis (cluster/rate_limits.py) beyond the rules every limiter
follows (test_rate_limit.py): two limiters (two nodes) take from the same buckets, idle
buckets expire, and Redis away (not listening, or not answering) leaves each node deciding
alone, within a bounded wait, until Redis answers again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from tests.support.harness import free_port
from tests.support.redis_store import RedisStore, redis_store
from wagateway.cluster import rate_limits
from wagateway.cluster.rate_limits import LOCAL_DECISIONS, SharedRateLimiter, bucket_key
from wagateway.core.rate_limit import Limits, RateLimiter
from wagateway.gateway import Gateway

# Three requests, then (almost) none: what was spent stays spent for the test's length.
THREE = Limits(app_rate=0.001, app_burst=3, device_rate=0.002, device_burst=2)
TIMEOUT = 0.3


class Hop:
    """A TCP hop to Redis that can stop answering: while down, connections (new and open
    ones) are accepted and what they send is swallowed, as by a Redis that hangs."""

    def __init__(self, port: int) -> None:
        self.up = True
        self._target = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        to_reader, to_writer = await asyncio.open_connection("127.0.0.1", self._target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if self.up:
                    dst.write(data)
                    await dst.drain()

        tasks = [
            asyncio.create_task(pump(reader, to_writer)),
            asyncio.create_task(pump(to_reader, writer)),
        ]
        self._tasks.update(tasks)
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        writer.close()
        to_writer.close()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        assert self._server is not None
        self._server.close()


@pytest.fixture
def redis() -> Iterator[RedisStore]:
    yield from redis_store()


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def test_two_nodes_take_from_the_same_buckets_which_expire_when_full(redis: RedisStore) -> None:
    async def run() -> None:
        a = SharedRateLimiter(redis.url, redis.prefix)
        b = SharedRateLimiter(redis.url, redis.prefix)
        client = Redis.from_url(redis.url)
        try:
            assert await a.take("app", "d1", THREE) is None
            assert await b.take("app", "d1", THREE) is None
            refused = await a.take("app", "d1", THREE)  # the device's 2 spent, by two nodes
            assert refused is not None and refused.scope == "device"
            assert await a.take("app", None, THREE) is None  # the app's third
            refused = await b.take("app", None, THREE)
            assert refused is not None and refused.scope == "app"
            assert refused.retry_after == pytest.approx(1000.0, rel=0.01)  # 1 / 0.001 per s
            assert (
                await a.health()
                == await b.health()
                == {"ok": True, "scope": "gateway", "store": "redis"}
            )
            # A bucket's key lives until it would be full again (and a second more): the
            # device's, empty at 0.002 per s, for 1000 s; the app's, empty, for 3000 s.
            device_ttl = await client.pttl(bucket_key(redis.prefix, ("app", "d1")))
            app_ttl = await client.pttl(bucket_key(redis.prefix, ("app", None)))
            assert 990_000 < device_ttl <= 1_001_000
            assert 2_990_000 < app_ttl <= 3_001_000
            # Another app's buckets are its own.
            assert await b.take("other", "d1", THREE) is None
        finally:
            await client.aclose()
            await a.close()
            await b.close()

    asyncio.run(run())


def test_redis_not_listening_leaves_each_node_its_own_limits() -> None:
    async def run() -> None:
        limiter = SharedRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "wagw_t_none:")
        before = LOCAL_DECISIONS._value.get()
        try:
            taken = [await limiter.take("app", None, THREE) for _ in range(4)]
            # Allowed (fail open), but within this node's own buckets: the fourth is refused.
            assert [t is None for t in taken] == [True, True, True, False]
            assert taken[3] is not None and taken[3].scope == "app"
            assert await limiter.health() == {"ok": False, "scope": "node", "store": "redis"}
            assert LOCAL_DECISIONS._value.get() - before == 4
        finally:
            await limiter.close()

    asyncio.run(run())


def test_redis_that_stops_answering_costs_a_bounded_wait_and_sharing_resumes(
    redis: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_limits, "RETRY_SECONDS", 0.5)

    async def run() -> None:
        hop = Hop(_port_of(redis.url))
        a = SharedRateLimiter(await hop.start(), redis.prefix, timeout=TIMEOUT)
        b = SharedRateLimiter(redis.url, redis.prefix)
        try:
            assert await a.take("app", None, THREE) is None
            assert await b.take("app", None, THREE) is None  # 1 of 3 left, shared
            hop.up = False
            started = time.monotonic()
            assert await a.take("app", None, THREE) is None  # decided by A alone
            assert time.monotonic() - started < TIMEOUT + 1.0
            assert await a.health() == {"ok": False, "scope": "node", "store": "redis"}
            # Until RETRY_SECONDS have passed, A does not wait for Redis again: its own
            # buckets (3, one spent just above) decide at once.
            started = time.monotonic()
            assert await a.take("app", None, THREE) is None
            assert await a.take("app", None, THREE) is None
            assert await a.take("app", None, THREE) is not None
            assert time.monotonic() - started < TIMEOUT
            hop.up = True
            await asyncio.sleep(rate_limits.RETRY_SECONDS)
            # Redis answers again: `/health`'s check asks it (no request has come since),
            # and the shared bucket, where B's and A's first two requests left one, decides
            # (A's requests decided alone were not spent there).
            assert await a.health() == {"ok": True, "scope": "gateway", "store": "redis"}
            assert await a.take("app", None, THREE) is None
            assert await b.take("app", None, THREE) is not None
        finally:
            await a.close()
            await b.close()
            await hop.stop()

    asyncio.run(run())


def test_a_node_without_redis_that_sees_other_nodes_says_its_limits_are_its_own() -> None:
    async def say(others: int, limiter: RateLimiter) -> list[dict[str, object]]:
        views = [SimpleNamespace(node_id=f"n{i}") for i in range(others + 1)]

        async def view() -> list[SimpleNamespace]:
            return views

        gateway = SimpleNamespace(
            rate_limiter=limiter, node_id="n0", membership=SimpleNamespace(view=view)
        )
        with capture_logs() as logs:
            await Gateway._say_whom_limits_hold_for(gateway)  # type: ignore[arg-type]
        return [entry for entry in logs if entry["log_level"] == "warning"]

    async def run() -> None:
        assert await say(0, RateLimiter()) == []  # alone: nothing to say
        (warning,) = await say(2, RateLimiter())
        assert (warning["event"], warning["nodes"]) == ("rate_limits_per_node", 3)
        assert "WAGW_REDIS_URL" in str(warning["detail"])

    asyncio.run(run())
