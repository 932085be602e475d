"""Rate limits for the gateway as a whole (CONTRACT §9): the token buckets of
`core/rate_limit.py`, kept in Redis (`WAGW_REDIS_URL`) so that every node takes from the same
ones.

One request is one Lua script (`TAKE`), atomic in Redis: it refills the request's buckets (the
app's, and the device's on a device route) by Redis's own clock, so the nodes' clocks need not
agree, and takes one from each or from none, by the same arithmetic as the in-memory buckets
(tests/unit/test_rate_limit.py runs the same rules against both). A bucket's key expires
once it would be full again: a full bucket and a missing one behave the same, so idle
buckets cost nothing (the in-memory limiter sweeps them instead).

Redis not answering does not take the API down: that request, and every request for the next
`RETRY_SECONDS`, is decided by this node's own buckets (the in-memory limiter's), so each node
still holds an app to its limit (the gateway to at most N times it) while Redis is away;
`/health` says so (`checks.rate_limits`, `degraded`), the log says when it starts and ends,
and `wagateway_rate_limit_local_total` counts the requests so decided.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

import structlog
from prometheus_client import Counter

from wagateway.core.rate_limit import Limits, RateLimiter, Refusal, wanted_buckets

log = structlog.get_logger(__name__)

LOCAL_DECISIONS = Counter(
    "wagateway_rate_limit_local",
    "API requests whose rate limit this node decided alone because Redis did not answer",
)

# After Redis failed to answer, how long this node decides alone before it asks Redis again:
# while Redis is away, one request per this long waits for its timeout, not every one.
RETRY_SECONDS = 1.0
# How long one take may wait for Redis (a connection included) before this node decides it.
TIMEOUT_SECONDS = 0.5

# KEYS: the buckets' keys. ARGV[1]: now, in seconds ("" = Redis's clock); ARGV[2]: "1" to
# spend; then each bucket's rate and burst. Returns 0 when allowed, else {the refusing
# bucket's index (1-based), the wait until it holds a request again}: of the buckets without
# one, the first whose wait is the longest, as `RateLimiter.take_here` chooses.
TAKE = """
local now
if ARGV[1] == '' then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local tokens = {}
local refused, refused_wait = 0, 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('HMGET', key, 't', 's')
  local t = burst
  if state[1] then
    t = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
  end
  tokens[i] = t
  if t < 1 then
    local wait = (1 - t) / rate
    if refused == 0 or wait > refused_wait then
      refused, refused_wait = i, wait
    end
  end
end
if refused > 0 then
  return {refused, string.format('%.17g', refused_wait)}
end
if ARGV[2] == '1' then
  for i, key in ipairs(KEYS) do
    local rate = tonumber(ARGV[1 + 2 * i])
    local burst = tonumber(ARGV[2 + 2 * i])
    local left = tokens[i] - 1
    redis.call('HSET', key, 't', left, 's', now)
    redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
  end
end
return 0
"""


def bucket_key(prefix: str, key: tuple[str, str | None]) -> str:
    """A bucket's Redis key. The app's id is its hash tag: an app's buckets, which one script
    takes from together, are in one slot of a Redis Cluster."""
    app_id, device_id = key
    app_key = f"{prefix}rl:{{{app_id}}}"
    return app_key if device_id is None else f"{app_key}:d:{device_id}"


class SharedRateLimiter(RateLimiter):
    """The buckets in Redis, shared by every node that names the same Redis and prefix.

    `clock` (tests) gives the buckets' time instead of Redis's clock; the apps' limits as last
    read (`remember`, `limits_of`) stay in this process, as they are a cache of its reads."""

    def __init__(
        self,
        url: str,
        prefix: str,
        clock: Callable[[], float] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(clock or time.monotonic)
        self._server_clock = clock is None
        self._prefix = prefix
        self._timeout = timeout
        # Imported here: a node without Redis starts sooner.
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        # What Redis not answering raises.
        self._unanswered = (RedisError, OSError, TimeoutError)
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
        )
        self._take = self._redis.register_script(TAKE)
        self._alone_until: float | None = None  # time.monotonic() while Redis is away

    @property
    def scope(self) -> Literal["node", "gateway"]:
        return "node" if self._alone_until is not None else "gateway"

    async def health(self) -> dict[str, Any]:
        """Deciding alone, and due to ask Redis again: asked now (a ping), so that `/health`
        turns ok once Redis is back even when no request has come since."""
        if self._alone_until is not None and time.monotonic() >= self._alone_until:
            try:
                await self.ping()
            except self._unanswered as exc:
                self._decide_alone(exc)
            else:
                self._shared_again()
        return {"ok": self._alone_until is None, "scope": self.scope, "store": "redis"}

    async def close(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> None:
        """Raise when Redis does not answer (start-up's check)."""
        async with asyncio.timeout(self._timeout):
            await self._redis.ping()

    async def take(
        self, app_id: str, device_id: str | None, limits: Limits, spend: bool = True
    ) -> Refusal | None:
        wanted = wanted_buckets(app_id, device_id, limits)
        if not wanted:
            return None
        if self._alone_until is not None and time.monotonic() < self._alone_until:
            LOCAL_DECISIONS.inc()
            return self.take_here(app_id, device_id, limits, spend)
        args: list[str | float | int] = ["" if self._server_clock else repr(self._clock())]
        args.append(1 if spend else 0)
        for _, _, rate, burst in wanted:
            args += [repr(float(rate)), burst]
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._take(
                    keys=[bucket_key(self._prefix, key) for _, key, _, _ in wanted], args=args
                )
        except self._unanswered as exc:
            self._decide_alone(exc)
            LOCAL_DECISIONS.inc()
            return self.take_here(app_id, device_id, limits, spend)
        self._shared_again()
        if not answer:
            return None
        scope, _, rate, burst = wanted[int(answer[0]) - 1]
        return Refusal(scope, float(answer[1]), rate, burst)

    def _shared_again(self) -> None:
        if self._alone_until is not None:
            self._alone_until = None
            log.info("rate_limits_shared_again")

    def _decide_alone(self, exc: BaseException) -> None:
        if self._alone_until is None:
            log.warning(
                "rate_limits_per_node",
                reason=f"Redis did not answer ({type(exc).__name__}: {exc})",
                detail="each node holds apps to their limits alone until Redis answers again",
            )
        self._alone_until = time.monotonic() + RETRY_SECONDS
