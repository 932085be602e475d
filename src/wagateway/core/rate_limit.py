"""API rate limits: token buckets per app and per (app, device).

A bucket holds up to `burst` requests and refills at `rate` per second; a request takes one
from its app's bucket and, on a device-scoped route, one from that device's bucket too. Both
must have one, or neither is taken and the request gets 429 `rate_limit_exceeded` with the
wait until the emptier bucket has one again (`Retry-After`). Device buckets are keyed by app
*and* device, so an app naming another app's device id spends only its own budget.

`RateLimiter` keeps the buckets in this process's memory: behind a load balancer with N
gateway nodes an app can get up to N times its limit. With `WAGW_REDIS_URL` set, the nodes
share their buckets in Redis instead (`cluster/rate_limits.py`), by the same rules.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from wagateway.core.errors import ApiError


@dataclass(frozen=True)
class Limits:
    """An app's effective API limits; a rate of 0 turns that bucket off."""

    app_rate: float
    app_burst: int
    device_rate: float
    device_burst: int


@dataclass(frozen=True)
class Refusal:
    scope: str  # "app" or "device"
    retry_after: float  # seconds until the bucket holds a request again
    rate: float
    burst: int

    def error(self) -> ApiError:
        wait = max(1, math.ceil(self.retry_after))
        return ApiError(
            429,
            "rate_limit_exceeded",
            f"too many requests for this {self.scope}: at most {self.rate:g} per second "
            f"(bursts of {self.burst}); retry after {wait} s",
            {"scope": self.scope, "retry_after": round(self.retry_after, 3)},
            headers={
                "Retry-After": str(wait),
                "RateLimit-Limit": str(self.burst),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
            },
        )


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


# How long an app's limits, read with its row, are trusted by requests that do not read the
# row (the send route's fast path): a change made elsewhere (CLI, another node) applies
# within this time.
LIMITS_TTL_SECONDS = 30.0
# Past this many buckets, full ones (idle long enough to refill) are dropped: a full bucket
# and a missing one behave the same.
_SWEEP_ABOVE = 50_000


Scope = Literal["app", "device"]


def wanted_buckets(
    app_id: str, device_id: str | None, limits: Limits
) -> list[tuple[Scope, tuple[str, str | None], float, int]]:
    """The buckets a request takes from, as (scope, key, rate, burst): the app's, and the
    device's on a device route, each only when its rate is not 0 (off)."""
    wanted: list[tuple[Scope, tuple[str, str | None], float, int]] = []
    if limits.app_rate > 0:
        wanted.append(("app", (app_id, None), limits.app_rate, limits.app_burst))
    if device_id is not None and limits.device_rate > 0:
        wanted.append(("device", (app_id, device_id), limits.device_rate, limits.device_burst))
    return wanted


class RateLimiter:
    """The limits of this node alone: buckets in this process's memory. The shared limiter
    (`cluster/rate_limits.py`) is one of these whose `take` asks Redis first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        self._limits: dict[str, tuple[Limits, float]] = {}

    # --- the apps' limits, as last read -------------------------------------------------------

    def remember(self, app_id: str, limits: Limits) -> None:
        self._limits[app_id] = (limits, self._clock())

    def limits_of(self, app_id: str) -> Limits | None:
        """The app's limits if read within LIMITS_TTL_SECONDS, else None (read them again)."""
        known = self._limits.get(app_id)
        if known is None or self._clock() - known[1] > LIMITS_TTL_SECONDS:
            return None
        return known[0]

    # --- taking -------------------------------------------------------------------------------

    @property
    def scope(self) -> Literal["node", "gateway"]:
        """Whom the limits hold for now: this node alone, or the gateway as a whole."""
        return "node"

    async def health(self) -> dict[str, Any]:
        """`/health`'s `checks.rate_limits`."""
        return {"ok": True, "scope": self.scope}

    async def close(self) -> None:
        """Let go of what the limiter holds (the shared one's connections)."""

    async def take(
        self, app_id: str, device_id: str | None, limits: Limits, spend: bool = True
    ) -> Refusal | None:
        """Take one request from the app's bucket and the device's; None when allowed.
        With `spend` False, only say whether it would be allowed."""
        return self.take_here(app_id, device_id, limits, spend)

    def take_here(
        self, app_id: str, device_id: str | None, limits: Limits, spend: bool = True
    ) -> Refusal | None:
        """`take` with this process's buckets."""
        now = self._clock()
        wanted = [
            (scope, self._filled(key, now, rate, burst), rate, burst)
            for scope, key, rate, burst in wanted_buckets(app_id, device_id, limits)
        ]
        refusal: Refusal | None = None
        for scope, bucket, rate, burst in wanted:
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) / rate
                if refusal is None or wait > refusal.retry_after:
                    refusal = Refusal(scope, wait, rate, burst)
        if refusal is None and spend:
            for _, bucket, _, _ in wanted:
                bucket.tokens -= 1.0
        return refusal

    def _filled(self, key: tuple[str, str | None], now: float, rate: float, burst: int) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _SWEEP_ABOVE:
                self._sweep(now)
            bucket = self._buckets[key] = _Bucket(float(burst), now)
            return bucket
        # A lowered burst applies at once; a raised one fills in at the rate.
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        return bucket

    def _sweep(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            limits = self._limits.get(key[0])
            if limits is None:
                del self._buckets[key]
                continue
            rate, burst = (
                (limits[0].app_rate, limits[0].app_burst)
                if key[1] is None
                else (limits[0].device_rate, limits[0].device_burst)
            )
            if rate <= 0 or bucket.tokens + (now - bucket.stamp) * rate >= burst:
                del self._buckets[key]
