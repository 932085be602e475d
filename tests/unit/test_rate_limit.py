"""The token buckets behind 429 `rate_limit_exceeded`, on a fake clock: the same rules for
this node's own buckets (core/rate_limit.py) and the gateway's, shared in Redis
(cluster/rate_limits.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.redis_store import redis_store
from wagateway.cluster.rate_limits import SharedRateLimiter
from wagateway.core import rate_limit
from wagateway.core.rate_limit import Limits, RateLimiter, Refusal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LIMITS = Limits(app_rate=10.0, app_burst=5, device_rate=2.0, device_burst=2)


class Limiter:
    """A limiter driven from a plain test: each `take` runs to its end on the test's loop."""

    def __init__(self, limiter: RateLimiter, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = limiter
        self._loop = loop

    def take(self, *args: Any, **kwargs: Any) -> Refusal | None:
        return self._loop.run_until_complete(self.inner.take(*args, **kwargs))

    def remember(self, app_id: str, limits: Limits) -> None:
        self.inner.remember(app_id, limits)

    def limits_of(self, app_id: str) -> Limits | None:
        return self.inner.limits_of(app_id)


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[[Clock], Limiter]]:
    """Makes the limiter under test on a clock: this node's, or the shared one (a key prefix
    of the test's own)."""
    loop = asyncio.new_event_loop()
    made: list[RateLimiter] = []
    store = redis_store() if request.param == "redis" else None
    where = next(store) if store is not None else None

    def make(clock: Clock) -> Limiter:
        limiter = (
            RateLimiter(clock)
            if where is None
            else SharedRateLimiter(where.url, where.prefix, clock=clock)
        )
        made.append(limiter)
        return Limiter(limiter, loop)

    yield make
    for limiter in made:
        assert loop.run_until_complete(limiter.health())["ok"], (
            "the shared limiter fell back to its own buckets"
        )
        loop.run_until_complete(limiter.close())
    loop.close()
    if store is not None:
        next(store, None)


def test_a_burst_then_the_rate(make: Callable[[Clock], Limiter]) -> None:
    clock = Clock()
    limiter = make(clock)
    assert [limiter.take("a", None, LIMITS) for _ in range(5)] == [None] * 5
    refused = limiter.take("a", None, LIMITS)
    assert refused is not None and refused.scope == "app"
    assert refused.retry_after == pytest.approx(0.1)
    clock.now += 0.1  # one more request's worth at 10/s
    assert limiter.take("a", None, LIMITS) is None
    assert limiter.take("a", None, LIMITS) is not None
    clock.now += 10  # refills to the burst, never past it
    assert [limiter.take("a", None, LIMITS) is None for _ in range(6)] == [True] * 5 + [False]


def test_the_429_says_when_to_come_back(make: Callable[[Clock], Limiter]) -> None:
    limiter = make(Clock())
    slow = Limits(app_rate=0.25, app_burst=1, device_rate=0, device_burst=1)
    assert limiter.take("a", None, slow) is None
    error = limiter.take("a", None, slow).error()  # type: ignore[union-attr]
    assert (error.status, error.code) == (429, "rate_limit_exceeded")
    assert error.headers["Retry-After"] == "4"  # whole seconds, rounded up
    assert error.headers["RateLimit-Remaining"] == "0"
    assert error.details == {"scope": "app", "retry_after": 4.0}


def test_device_bucket_and_app_bucket_are_both_needed_and_both_spent_or_neither(
    make: Callable[[Clock], Limiter],
) -> None:
    limiter = make(Clock())
    assert limiter.take("a", "d1", LIMITS) is None
    assert limiter.take("a", "d1", LIMITS) is None
    refused = limiter.take("a", "d1", LIMITS)
    assert refused is not None and refused.scope == "device"
    # The refused request took nothing from the app: 3 more app-wide requests remain.
    assert [limiter.take("a", None, LIMITS) is None for _ in range(4)] == [True] * 3 + [False]
    # An empty app bucket refuses a device that still has room.
    refused = limiter.take("a", "d2", LIMITS)
    assert refused is not None and refused.scope == "app"


def test_apps_do_not_share_buckets_even_naming_the_same_device(
    make: Callable[[Clock], Limiter],
) -> None:
    limiter = make(Clock())
    for _ in range(2):
        assert limiter.take("a", "d1", LIMITS) is None
    assert limiter.take("a", "d1", LIMITS) is not None
    # Another app naming that device id (e.g. probing it) has a budget of its own.
    assert limiter.take("b", "d1", LIMITS) is None
    assert limiter.take("b", None, LIMITS) is None


def test_a_rate_of_zero_is_no_limit(make: Callable[[Clock], Limiter]) -> None:
    limiter = make(Clock())
    off = Limits(app_rate=0, app_burst=1, device_rate=0, device_burst=1)
    assert all(limiter.take("a", "d", off) is None for _ in range(1000))


def test_a_lowered_burst_applies_at_once(make: Callable[[Clock], Limiter]) -> None:
    limiter = make(Clock())
    assert limiter.take("a", None, LIMITS) is None  # 4 left of 5
    lowered = Limits(app_rate=10.0, app_burst=2, device_rate=0, device_burst=1)
    assert [limiter.take("a", None, lowered) is None for _ in range(3)] == [True, True, False]


def test_limits_read_with_the_row_are_trusted_for_a_while(
    make: Callable[[Clock], Limiter],
) -> None:
    clock = Clock()
    limiter = make(clock)
    assert limiter.limits_of("a") is None
    limiter.remember("a", LIMITS)
    assert limiter.limits_of("a") == LIMITS
    clock.now += rate_limit.LIMITS_TTL_SECONDS + 1
    assert limiter.limits_of("a") is None


def test_idle_buckets_are_swept_when_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "_SWEEP_ABOVE", 11)
    clock = Clock()
    limiter = RateLimiter(clock)  # this node's buckets (Redis expires the shared ones)
    roomy = Limits(app_rate=1.0, app_burst=100, device_rate=2.0, device_burst=2)
    limiter.remember("a", roomy)
    for i in range(10):
        assert limiter.take_here("a", f"d{i}", roomy) is None  # 11 buckets: the app's and 10
    assert limiter.take_here("a", "d0", roomy) is None  # d0 is empty now
    clock.now += 0.6  # d1..d9 refill to full (2/s); d0 and the app do not
    assert limiter.take_here("a", "new", roomy) is None
    assert set(limiter._buckets) == {("a", None), ("a", "d0"), ("a", "new")}
