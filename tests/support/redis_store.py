"""Redis for the tests of the shared rate limits: the machine's (WAGW_TEST_REDIS_URL, else
127.0.0.1:6379), with a key prefix of each test's own, whose keys are deleted afterwards
(others may use that Redis at the same time: never FLUSHALL). Tests skip on a machine without
Redis, with the reason; CI sets WAGW_TEST_REQUIRE_REDIS=1, which turns that skip into a
failure."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from tests.support.requirements import missing

REDIS_URL = os.environ.get("WAGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _run(command: str, prefix: str = "") -> int:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        if command == "ping":
            await redis.ping()
            return 0
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


@dataclass(frozen=True)
class RedisStore:
    url: str
    prefix: str


def redis_store() -> Iterator[RedisStore]:
    """Redis and a fresh key prefix (skip or fail when Redis is not there); a fixture's body."""
    try:
        asyncio.run(_run("ping"))
    except Exception as exc:  # any failure to reach it means "not available here"
        missing(f"Redis not reachable at {REDIS_URL}: {exc}", "WAGW_TEST_REQUIRE_REDIS")
    prefix = f"wagw_t_{uuid.uuid4().hex[:12]}:"
    yield RedisStore(REDIS_URL, prefix)
    asyncio.run(_run("clean", prefix))
