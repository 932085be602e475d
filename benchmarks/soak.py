"""Soak: a steady load at half the measured capacity on 2 nodes for 20 minutes (issue 20).

Is anything growing? Starts `--nodes` gateways (default 2) on one fresh PostgreSQL
database with the shared S3 media store, as `messaging.py --nodes` does (its pieces are
imported, not copied), links `--devices` sandbox devices through the nodes in turn and waits
until they are spread and online. Then:

1. Capacity: `--rate` msg/s if given, else a calibration burst (saturation, `--devices` x
   `--calibration-messages` messages at `--concurrency`), whose end-to-end msg/s is taken as
   the capacity; its backlog is drained before the soak starts.
2. Soak: an open-loop schedule at `--load-fraction` (0.5) x capacity for `--minutes`
   (default 20), the API calls round-robin over the nodes, to `--recipients` recipients in
   turn (bounded, so a growing RSS is not merely more chats).
3. Every `--interval` seconds (default 60) one line: elapsed, msg/s accepted (202s in the
   interval), msg/s read (read receipts at the webhook receiver in the interval), p50/p99
   of 202 -> read receipt (as messaging.py) for the messages read in the interval, p99 of
   POST -> 202 and the most requests in flight, per node its devices, CPU (% of a core),
   RSS (MiB, the process tree: server, webhook worker, engine workers) and open
   descriptors (/proc/PID/fd, the tree), and the PostgreSQL connections to the database.
4. At the end (after waiting up to `--drain` s for the last receipts): the last interval
   against the first for RSS, descriptors and p99 (flat = close to 1), and the totals:
   accepted, read, failed, lost (accepted, never read).

    .venv/bin/python benchmarks/soak.py                        # 20 min, calibrated
    .venv/bin/python benchmarks/soak.py --rate 400 --minutes 20
    .venv/bin/python benchmarks/soak.py --minutes 2 --interval 20   # a short check

Everything started is stopped, the temp dir removed and the database dropped on exit,
Ctrl-C or error. Run it with nothing else on the machine: it measures drift, and anything
else running drifts too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from loopback import open_fds, rss_bytes, tree_cpu_seconds, tree_pids
from messaging import (
    PG_ADMIN_URL_DEFAULT,
    SERVER_ENV,
    Gateway,
    Receiver,
    Sent,
    _get_json,
    _key_value,
    _post_message,
    _session,
    _sigterm_to_interrupt,
    _wait_reads,
    cluster_env,
    database_name,
    devices_owned,
    link_devices,
    percentile,
    postgres_database,
    start_nodes,
    wait_connected_webhooks,
    wait_spread,
    warm_up,
)

MIB = 1024 * 1024


@dataclass
class NodeSample:
    owned: int | None
    rss_mib: float
    fds: int
    cpu: float | None  # CPU seconds of the tree so far
    cpu_pct: float = math.nan  # in the interval, % of one core


@dataclass
class Interval:
    elapsed: float
    seconds: float
    accepted: int
    errors: int
    read: int
    p50_ms: float
    p99_ms: float
    api_p99_ms: float  # POST -> 202 of the messages accepted in the interval
    max_in_flight: int
    nodes: list[NodeSample]
    pg_connections: int | None


@dataclass
class Soak:
    """What the sender and the monitor share."""

    accepted: dict[str, float] = field(default_factory=dict)  # message id -> 202 arrival
    accepted_count: int = 0
    errors: int = 0
    error_sample: str = ""
    sent: int = 0
    in_flight: int = 0
    max_in_flight: int = 0  # in the current interval
    api_latencies: list[float] = field(default_factory=list)  # ms, current interval
    stopped: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the sender has finished


def node_sample(node: Gateway) -> NodeSample:
    assert node.proc is not None
    pids = tree_pids(node.proc.pid)
    return NodeSample(
        owned=devices_owned(node),
        rss_mib=sum(rss_bytes(p) for p in pids) / MIB,
        fds=sum(open_fds(p) for p in pids),
        cpu=tree_cpu_seconds(node.proc.pid),
    )


async def pg_connections(admin_url: str, database: str) -> int | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            value = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    return int(value)


def _fmt_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}"


def print_interval(iv: Interval) -> None:
    nodes = "  ".join(
        f"n{n}:{s.owned if s.owned is not None else '?'}d {_fmt_ms(s.cpu_pct):>3}% "
        f"{s.rss_mib:6.1f}MiB {s.fds:4d}fd"
        for n, s in enumerate(iv.nodes)
    )
    print(
        f"{iv.elapsed:7.0f}s {iv.accepted / iv.seconds:8.1f} {iv.read / iv.seconds:8.1f} "
        f"{_fmt_ms(iv.p50_ms):>6} {_fmt_ms(iv.p99_ms):>6} {_fmt_ms(iv.api_p99_ms):>6} "
        f"{iv.max_in_flight:>5} {iv.errors:>4}  {nodes}  pg {iv.pg_connections if iv.pg_connections is not None else '?'}",
        flush=True,
    )


async def calibrate(
    args: argparse.Namespace,
    api: aiohttp.ClientSession,
    hooks: aiohttp.ClientSession,
    bases: Sequence[str],
    receiver: Receiver,
    devices: Sequence[str],
) -> float:
    """A saturation burst like messaging.py's; its end-to-end msg/s."""
    total = len(devices) * args.calibration_messages
    items = [Sent(i, devices[i % len(devices)], 0.0, 0.0) for i in range(total)]
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await _post_message(api, bases[item.index % len(bases)], item)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    ids = {s.message_id for s in items if s.message_id}
    reads, _, timed_out = await _wait_reads(hooks, receiver.base_url, ids, 300, True)
    if timed_out or not reads:
        raise RuntimeError(f"calibration: {len(reads)} of {len(ids)} read within 300 s")
    first = min(s.started for s in items)
    rate = len(reads) / (max(reads.values()) - first)
    print(
        f"calibration: {total} messages, {len(ids)} accepted, end to end {rate:.1f} msg/s "
        "(taken as the capacity)",
        flush=True,
    )
    return rate


async def send_open_loop(
    api: aiohttp.ClientSession,
    bases: Sequence[str],
    devices: Sequence[str],
    rate: float,
    seconds: float,
    recipients: int,
    state: Soak,
) -> None:
    """Message i at t0 + i / rate, whatever the earlier ones are doing, until `seconds`."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        # The recipient index cycles over `recipients`; the device and node follow i.
        item = Sent(i % recipients, devices[i % len(devices)], 0.0, 0.0)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await _post_message(api, bases[i % len(bases)], item)
        finally:
            state.in_flight -= 1
        if item.message_id:
            state.accepted[item.message_id] = item.accepted
            state.accepted_count += 1
            state.api_latencies.append((item.accepted - item.started) * 1000)
        else:
            state.errors += 1
            state.error_sample = state.error_sample or item.error

    i = 0
    while True:
        due = t0 + i / rate
        if due - t0 >= seconds:
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        state.sent += 1
        i += 1
    if tasks:
        await asyncio.gather(*tasks)


async def monitor(
    args: argparse.Namespace,
    hooks: aiohttp.ClientSession,
    receiver: Receiver,
    nodes: Sequence[Gateway],
    pg: tuple[str, str],
    state: Soak,
    start: float,
) -> list[Interval]:
    """One line per interval while the sender runs (and one for the part after it)."""
    intervals: list[Interval] = []
    last_t, last_acc, last_err = start, 0, 0
    last_cpu = [tree_cpu_seconds(n.proc.pid) if n.proc else None for n in nodes]
    while True:
        end_of_sending = start + args.minutes * 60
        wake = min(last_t + args.interval, end_of_sending) if not state.stopped else time.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.done.wait(), timeout=max(wake - time.time(), 0))
        now = time.time()
        if now - last_t < 1:
            break
        data = await _get_json(hooks, f"{receiver.base_url}/reads?since={last_t}")
        lat = [
            (t - state.accepted[m]) * 1000
            for m, t in data["read"].items()
            if t < now and m in state.accepted
        ]
        samples = await asyncio.gather(*(asyncio.to_thread(node_sample, n) for n in nodes))
        for n, sample in enumerate(samples):
            before = last_cpu[n]
            if before is not None and sample.cpu is not None:
                sample.cpu_pct = (sample.cpu - before) / (now - last_t) * 100
            last_cpu[n] = sample.cpu
        api_p99 = percentile(state.api_latencies, 99)
        max_in_flight = state.max_in_flight
        state.api_latencies = []
        state.max_in_flight = state.in_flight
        iv = Interval(
            elapsed=now - start,
            seconds=now - last_t,
            accepted=state.accepted_count - last_acc,
            errors=state.errors - last_err,
            read=len(lat),
            p50_ms=percentile(lat, 50),
            p99_ms=percentile(lat, 99),
            api_p99_ms=api_p99,
            max_in_flight=max_in_flight,
            nodes=list(samples),
            pg_connections=await pg_connections(*pg),
        )
        intervals.append(iv)
        print_interval(iv)
        last_t, last_acc, last_err = now, state.accepted_count, state.errors
        if state.stopped or now >= end_of_sending:
            return intervals
    return intervals


def _ratio(first: float, last: float) -> str:
    if math.isnan(first) or math.isnan(last) or first == 0:
        return "n/a"
    return f"{last / first:.2f}"


def print_summary(
    intervals: list[Interval], state: Soak, reads: dict[str, float], failed: int
) -> None:
    # The last full interval: a short tail after the sender stopped is not compared.
    full = [iv for iv in intervals if iv.seconds >= 0.9 * intervals[0].seconds]
    first, last = full[0], full[-1]
    print()
    print(
        f"first interval (ending {first.elapsed:.0f}s) against the last (ending "
        f"{last.elapsed:.0f}s), last / first; flat = close to 1:"
    )
    for n, (a, b) in enumerate(zip(first.nodes, last.nodes, strict=True)):
        print(
            f"  node {n}: RSS {a.rss_mib:.1f} -> {b.rss_mib:.1f} MiB ({_ratio(a.rss_mib, b.rss_mib)}), "
            f"descriptors {a.fds} -> {b.fds} ({_ratio(a.fds, b.fds)})"
        )
    rss_a = sum(s.rss_mib for s in first.nodes)
    rss_b = sum(s.rss_mib for s in last.nodes)
    fd_a = sum(s.fds for s in first.nodes)
    fd_b = sum(s.fds for s in last.nodes)
    print(
        f"  all nodes: RSS {rss_a:.1f} -> {rss_b:.1f} MiB ({_ratio(rss_a, rss_b)}), descriptors "
        f"{fd_a} -> {fd_b} ({_ratio(fd_a, fd_b)})"
    )
    print(
        f"  p99 202 -> read {_fmt_ms(first.p99_ms)} -> {_fmt_ms(last.p99_ms)} ms "
        f"({_ratio(first.p99_ms, last.p99_ms)}); p50 {_fmt_ms(first.p50_ms)} -> "
        f"{_fmt_ms(last.p50_ms)} ms ({_ratio(first.p50_ms, last.p50_ms)})"
    )
    pg_a, pg_b = first.pg_connections, last.pg_connections
    print(f"  PostgreSQL connections {pg_a} -> {pg_b}")
    read = sum(1 for m in state.accepted if m in reads)
    lost = len(state.accepted) - read - failed
    print(
        f"totals: sent {state.sent}, accepted {len(state.accepted)}, not accepted "
        f"{state.errors}, read {read}, failed receipts {failed}, lost (accepted, never read) "
        f"{lost}"
    )
    if state.errors:
        print(f"WARNING: {state.errors} sends not accepted; e.g. {state.error_sample}")
    if lost:
        print(f"WARNING: {lost} accepted messages got no read receipt")


async def stand_in_for_autovacuum(pg: tuple[str, str], every: float) -> None:
    """PostgreSQL with `autovacuum = off` (this build machine's) never gathers statistics:
    the planner then scans whole tables that grow for the whole soak, and the latency drift
    measured is the server's, not the gateway's (seen here: 202 -> read p99 723 -> 1,615 ms
    in 11 minutes, back to 788 ms after one `VACUUM (ANALYZE)`). Every `every` seconds, what
    autovacuum would do."""
    import asyncpg

    admin_url, database = pg
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            conn = await asyncpg.connect(url, timeout=10)
            try:
                await conn.execute("VACUUM (ANALYZE)")
            finally:
                await conn.close()


async def autovacuum_is_on(pg: tuple[str, str]) -> bool:
    import asyncpg

    conn = await asyncpg.connect(pg[0], timeout=10)
    try:
        return str(await conn.fetchval("SHOW autovacuum")) == "on"
    finally:
        await conn.close()


async def run(
    args: argparse.Namespace, nodes: Sequence[Gateway], receiver: Receiver, pg: tuple[str, str]
) -> None:
    vacuum: asyncio.Task[None] | None = None
    if args.vacuum_every > 0 and not await autovacuum_is_on(pg):
        print(
            f"PostgreSQL's autovacuum is off: VACUUM (ANALYZE) every {args.vacuum_every:g} s "
            "stands in for it (--vacuum-every 0: not)",
            flush=True,
        )
        vacuum = asyncio.create_task(stand_in_for_autovacuum(pg, args.vacuum_every))
    try:
        await _run(args, nodes, receiver, pg)
    finally:
        if vacuum is not None:
            vacuum.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await vacuum


async def _run(
    args: argparse.Namespace, nodes: Sequence[Gateway], receiver: Receiver, pg: tuple[str, str]
) -> None:
    creds = nodes[0].create_app("soak", receiver.url)
    bases = [n.base_url for n in nodes]
    async with (
        _session(max(args.concurrency, 512), token=creds["app_token"]) as api,
        _session(4) as hooks,
    ):
        started = time.monotonic()
        devices = await link_devices(api, bases, args.devices)
        spread, _ = await wait_spread(api, nodes, devices)
        print(
            f"{len(devices)} devices linked, spread {spread} and online after "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        await wait_connected_webhooks(hooks, receiver, args.devices)
        await warm_up(api, hooks, bases, receiver, devices)
        capacity = args.rate or await calibrate(args, api, hooks, bases, receiver, devices)
        rate = args.load_fraction * capacity
        print(
            f"soak: {rate:.1f} msg/s ({args.load_fraction:g} x {capacity:.1f}) for "
            f"{args.minutes:g} min, a line every {args.interval:g} s\n",
            flush=True,
        )
        print(
            f"{'elapsed':>8} {'acc/s':>8} {'read/s':>8} {'p50ms':>6} {'p99ms':>6} "
            f"{'202p99':>6} {'infl':>5} {'err':>4}  per node: devices, CPU % of a core, "
            "RSS (tree), descriptors (tree)  PostgreSQL connections"
        )
        state = Soak()
        start = time.time()
        sender = asyncio.create_task(
            send_open_loop(api, bases, devices, rate, args.minutes * 60, args.recipients, state)
        )

        def finished(_: object) -> None:
            state.stopped = True
            state.done.set()

        sender.add_done_callback(finished)
        try:
            intervals = await monitor(args, hooks, receiver, nodes, pg, state, start)
            await sender
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        reads, failed, timed_out = await _wait_reads(
            hooks, receiver.base_url, set(state.accepted), args.drain, False
        )
        if timed_out:
            print(f"(waited {args.drain:g} s for the last receipts)")
        print_summary(intervals, state, reads, len(failed))
        for n, node in enumerate(nodes):
            lines = [line for line in node.logs().splitlines() if line.strip()]
            print(f"node {n} log (level warning): {len(lines)} lines; first ones:")
            for line in lines[:10]:
                print("  " + line[:300])


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=2, help="gateway nodes (default 2)")
    parser.add_argument("--devices", type=int, default=10, help="linked devices (default 10)")
    parser.add_argument("--minutes", type=float, default=20.0, help="soak length (default 20)")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="seconds per printed line (default 60)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="the capacity in msg/s (default: measured by a calibration burst)",
    )
    parser.add_argument(
        "--load-fraction", type=float, default=0.5, help="share of the capacity (default 0.5)"
    )
    parser.add_argument(
        "--calibration-messages",
        type=int,
        default=200,
        help="messages per device in the calibration burst (default 200)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="calibration client workers (default 64)"
    )
    parser.add_argument(
        "--recipients", type=int, default=1000, help="distinct recipients (default 1000)"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for the last receipts"
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get("WAGW_TEST_POSTGRES_URL", PG_ADMIN_URL_DEFAULT),
        help=f"where the fresh database is created (default {PG_ADMIN_URL_DEFAULT})",
    )
    parser.add_argument(
        "--server-env",
        type=_key_value,
        action="append",
        default=[],
        metavar="WAGW_NAME=VALUE",
        help="extra environment for every node (repeatable)",
    )
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=60.0,
        help="when the server's autovacuum is off, VACUUM (ANALYZE) this often instead "
        "(default 60 s; 0: never)",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the data dirs and logs")
    args = parser.parse_args(argv)
    if args.nodes < 1 or args.devices < 1 or args.minutes <= 0 or args.interval <= 0:
        parser.error("--nodes, --devices, --minutes and --interval must be positive")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    if not 0 < args.load_fraction <= 1:
        parser.error("--load-fraction must be in (0, 1]")
    if args.recipients < 1 or args.calibration_messages < 1:
        parser.error("--recipients and --calibration-messages must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    print(
        f"python {platform.python_version()} | cpus {os.cpu_count()} | load "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} | {args.nodes} nodes, "
        f"{args.devices} devices, PostgreSQL (fresh db), S3 media store (moto)"
    )
    print(
        "server env: "
        + " ".join(f"{k}={v}" for k, v in {**SERVER_ENV, **dict(args.server_env)}.items())
    )
    with contextlib.ExitStack() as stack:
        try:
            tmp = Path(tempfile.mkdtemp(prefix="wagw-soak-"))
            if args.keep_data:
                print(f"data dirs (kept): {tmp}")
            else:
                stack.callback(shutil.rmtree, tmp, ignore_errors=True)
            database_url = stack.enter_context(postgres_database(args.postgres_admin_url))
            receiver = stack.enter_context(Receiver())
            env = {**cluster_env(stack), **dict(args.server_env)}
            nodes = start_nodes(stack, tmp, database_url, args.nodes, env)
            print(f"nodes {' '.join(n.base_url for n in nodes)} | receiver {receiver.url}")
            pg = (args.postgres_admin_url, database_name(database_url))
            asyncio.run(run(args, nodes, receiver, pg))
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
