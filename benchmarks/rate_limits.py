"""What one rate-limit `take` costs (issue 20, "limits for the gateway as a whole"): this node's
in-memory buckets against buckets shared by the nodes, in Redis or in PostgreSQL.

Every variant applies the same token buckets to the same requests: each request takes from
its app's bucket and its device's (200 apps x 10 devices, picked at random; the limits are
roomy, so nothing is refused and every take writes both buckets):

- `memory`: `core/rate_limit.py`'s `RateLimiter` (today's, per node): the baseline;
- `redis-py`: `cluster/rate_limits.py`'s `SharedRateLimiter` (one Lua script per take, with
  redis-py's asyncio client);
- `coredis`: the same Lua script run with coredis (when installed);
- `postgresql`: one statement per take, a PL/pgSQL function on an UNLOGGED table that locks
  both buckets' rows (inserted when missing), refills, and takes from both or neither, in a
  fresh database (dropped afterwards), with asyncpg and a pool of `--pg-pool` connections.

For each: one take at a time (`concurrency 1`: latency p50/p99, µs) and `--concurrency`
tasks taking at once (takes/s, and each take's latency p50/p99 under that load), and the
ratios against `memory`. Redis is the machine's (`--redis-url`, a key prefix of the run's
own, its keys deleted afterwards).

    .venv/bin/python benchmarks/rate_limits.py
    .venv/bin/python benchmarks/rate_limits.py --takes 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from wagateway.cluster.rate_limits import TAKE, SharedRateLimiter, bucket_key
from wagateway.core.rate_limit import Limits, RateLimiter, wanted_buckets

LIMITS = Limits(app_rate=1e6, app_burst=10**9, device_rate=1e6, device_burst=10**9)
APPS, DEVICES = 200, 10

Take = Callable[[str, str | None], Awaitable[Any]]

PG_SETUP = """
CREATE UNLOGGED TABLE rl_buckets (key text PRIMARY KEY, tokens float8 NOT NULL,
                                  stamp float8 NOT NULL);
CREATE FUNCTION rl_take(keys text[], rates float8[], bursts float8[], spend boolean)
RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
  now float8 := extract(epoch FROM clock_timestamp());
  t float8[] := '{}';
  cur record;
  v float8;
  w float8;
  refused int := 0;
  refused_wait float8 := 0;
BEGIN
  INSERT INTO rl_buckets (key, tokens, stamp)
    SELECT k, b, now FROM unnest(keys, bursts) AS u(k, b)
    ON CONFLICT (key) DO NOTHING;
  FOR i IN 1 .. array_length(keys, 1) LOOP
    SELECT tokens, stamp INTO cur FROM rl_buckets WHERE key = keys[i] FOR UPDATE;
    v := least(bursts[i], cur.tokens + greatest(0, now - cur.stamp) * rates[i]);
    t := t || v;
    IF v < 1 THEN
      w := (1 - v) / rates[i];
      IF refused = 0 OR w > refused_wait THEN refused := i; refused_wait := w; END IF;
    END IF;
  END LOOP;
  IF refused > 0 THEN RETURN ARRAY[refused, refused_wait]; END IF;
  IF spend THEN
    FOR i IN 1 .. array_length(keys, 1) LOOP
      UPDATE rl_buckets SET tokens = t[i] - 1, stamp = now WHERE key = keys[i];
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
"""


def _requests(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"app{rng.randrange(APPS)}", f"dev{rng.randrange(DEVICES)}") for _ in range(count)]


async def _measure(take: Take, takes: int, concurrency: int) -> dict[str, float]:
    """Warm up, then `takes` takes by `concurrency` tasks: rate and per-take latency."""
    for app, device in _requests(min(2000, takes), 1):
        await take(app, device)
    work = _requests(takes, 2)
    latencies: list[float] = []

    async def worker(share: list[tuple[str, str]]) -> None:
        clock = time.perf_counter
        for app, device in share:
            started = clock()
            await take(app, device)
            latencies.append(clock() - started)

    shares = [work[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(share) for share in shares))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "rate": takes / elapsed,
        "p50": quantiles[49] * 1e6,
        "p99": quantiles[98] * 1e6,
    }


async def _memory() -> tuple[Take, Callable[[], Awaitable[None]]]:
    limiter = RateLimiter()

    async def take(app: str, device: str | None) -> Any:
        return await limiter.take(app, device, LIMITS)

    return take, limiter.close


async def _redis_py(url: str, prefix: str) -> tuple[Take, Callable[[], Awaitable[None]]]:
    limiter = SharedRateLimiter(url, prefix)
    await limiter.ping()

    async def take(app: str, device: str | None) -> Any:
        refusal = await limiter.take(app, device, LIMITS)
        assert limiter.scope == "gateway", "Redis did not answer"
        return refusal

    return take, limiter.close


async def _coredis(url: str, prefix: str) -> tuple[Take, Callable[[], Awaitable[None]]]:
    import coredis

    client: Any = coredis.Redis.from_url(url)
    await client.__aenter__()
    script = client.register_script(TAKE)

    async def take(app: str, device: str | None) -> Any:
        wanted = wanted_buckets(app, device, LIMITS)
        args: list[Any] = ["", 1]
        for _, _, rate, burst in wanted:
            args += [repr(float(rate)), burst]
        return await script(keys=[bucket_key(prefix, key) for _, key, _, _ in wanted], args=args)

    async def close() -> None:
        await client.__aexit__(None, None, None)

    return take, close


async def _postgresql(admin_url: str, pool_size: int) -> tuple[Take, Callable[[], Awaitable[None]]]:
    import asyncpg

    name = f"wagw_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(
        admin_url.rsplit("/", 1)[0] + f"/{name}", min_size=pool_size, max_size=pool_size
    )
    await pool.execute(PG_SETUP)

    async def take(app: str, device: str | None) -> Any:
        wanted = wanted_buckets(app, device, LIMITS)
        return await pool.fetchval(
            "SELECT rl_take($1, $2, $3, true)",
            [bucket_key("", key) for _, key, _, _ in wanted],
            [rate for _, _, rate, _ in wanted],
            [float(burst) for _, _, _, burst in wanted],
        )

    async def close() -> None:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return take, close


async def _delete_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])
    await client.aclose()


async def main(args: argparse.Namespace) -> None:
    prefix = f"wagw_bench_{uuid.uuid4().hex[:8]}:"
    variants: dict[str, Callable[[], Awaitable[tuple[Take, Callable[[], Awaitable[None]]]]]] = {
        "memory": _memory,
        "redis-py": lambda: _redis_py(args.redis_url, prefix + "r:"),
        "coredis": lambda: _coredis(args.redis_url, prefix + "c:"),
        "postgresql": lambda: _postgresql(args.postgres_admin_url, args.pg_pool),
    }
    chosen = args.variants.split(",") if args.variants else list(variants)
    rows: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for name in chosen:
            try:
                take, close = await variants[name]()
            except ImportError as exc:
                print(f"{name}: skipped ({exc})")
                continue
            try:
                single = await _measure(take, args.takes // 4, 1)
                loaded = await _measure(take, args.takes, args.concurrency)
            finally:
                await close()
            rows[name] = {"c1": single, "cN": loaded}
    finally:
        await _delete_keys(args.redis_url, prefix)
    base = rows.get("memory")
    n = args.concurrency
    print(
        f"\n{args.takes} takes (app + device bucket each) at concurrency {n}, "
        f"{args.takes // 4} one at a time; µs per take"
    )
    header = (
        f"{'variant':<11} {'c1 p50':>8} {'c1 p99':>8} {'takes/s c1':>11} "
        f"{f'c{n} p50':>8} {f'c{n} p99':>8} {f'takes/s c{n}':>12} {'p50 ×mem':>9} {'rate ÷mem':>10}"
    )
    print(header)
    for name, row in rows.items():
        c1, cn = row["c1"], row["cN"]
        ratio_p50 = f"{c1['p50'] / base['c1']['p50']:.0f}" if base else "-"
        ratio_rate = f"{base['cN']['rate'] / cn['rate']:.0f}" if base else "-"
        print(
            f"{name:<11} {c1['p50']:>8.1f} {c1['p99']:>8.1f} {c1['rate']:>11,.0f} "
            f"{cn['p50']:>8.1f} {cn['p99']:>8.1f} {cn['rate']:>12,.0f} {ratio_p50:>9} {ratio_rate:>10}"
        )
    print(
        "\np50 ×mem: one take's p50 (concurrency 1) as a multiple of memory's; "
        f"rate ÷mem: memory's takes/s at concurrency {n} over the variant's"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--variants", default="", help="comma-separated; default all")
    parser.add_argument(
        "--redis-url", default=os.environ.get("WAGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get(
            "WAGW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--pg-pool", type=int, default=16, help="PostgreSQL connections")
    asyncio.run(main(parser.parse_args()))
