"""API rate limits: token buckets per app and per (app, device), in this process's memory.

A bucket holds up to `burst` requests and refills at `rate` per second; a request takes one
from its app's bucket and, on a device-scoped route, one from that device's bucket too. Both
must have one, or neither is taken and the request gets 429 `rate_limit_exceeded` with the
wait until the emptier bucket has one again (`Retry-After`).

The buckets are per process: behind a load balancer with N gateway nodes an app can get up
to N times its limit (docs/limits.md). Device buckets are keyed by app *and* device, so an
app naming another app's device id spends only its own budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

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


class RateLimiter:
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

    def take(
        self, app_id: str, device_id: str | None, limits: Limits, spend: bool = True
    ) -> Refusal | None:
        """Take one request from the app's bucket and the device's; None when allowed.
        With `spend` False, only say whether it would be allowed."""
        now = self._clock()
        wanted: list[tuple[str, _Bucket, float, int]] = []
        if limits.app_rate > 0:
            wanted.append(
                (
                    "app",
                    self._filled((app_id, None), now, limits.app_rate, limits.app_burst),
                    limits.app_rate,
                    limits.app_burst,
                )
            )
        if device_id is not None and limits.device_rate > 0:
            bucket = self._filled((app_id, device_id), now, limits.device_rate, limits.device_burst)
            wanted.append(("device", bucket, limits.device_rate, limits.device_burst))
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
