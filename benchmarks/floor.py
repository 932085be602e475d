"""The CPU floor of one message's HTTP work, measured on this machine.

Every message the gateway carries end to end costs at least one API request (the send)
and four webhook POSTs (`message`, then `sent`, `delivered` and `read` receipts). This module
times exactly that HTTP work with nothing else: a separate process POSTs signed,
webhook-shaped bodies to the benchmark's receiver with aiohttp (on uvloop when installed, as
`wagateway serve` runs), and the CPU time of the sender and of the receiver is read from
/proc. Together with the bare-ASGI baseline's CPU per request, it bounds what any
implementation could reach here: see `ceilings()`.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp
from loopback import cpu_seconds
from webhook_client import _headers, _make_body

WEBHOOKS_PER_MESSAGE = 4  # message + sent, delivered, read receipts


async def _post_all(url: str, posts: int, concurrency: int) -> int:
    body = _make_body()
    connector = aiohttp.TCPConnector(limit=concurrency)
    ok = 0
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(count: int) -> None:
            nonlocal ok
            for _ in range(count):
                async with session.post(url, data=body, headers=_headers(body)) as response:
                    await response.read()
                    ok += response.status == 200

        share, extra = divmod(posts, concurrency)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    return ok


def _sender_main(url: str, posts: int, concurrency: int, conn: Connection) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_post_all(url, concurrency, concurrency))  # warm-up: connections, caches
    cpu_before = time.process_time()
    started = time.perf_counter()
    ok = asyncio.run(_post_all(url, posts, concurrency))
    conn.send((ok, time.perf_counter() - started, time.process_time() - cpu_before))
    conn.close()


@dataclass
class WebhookFloor:
    posts: int
    seconds: float
    sender_cpu_per_post: float  # seconds
    receiver_cpu_per_post: float | None  # seconds

    @property
    def rate(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0


def measure_webhook_floor(
    url: str, receiver_pid: int, posts: int = 4000, concurrency: int = 16
) -> WebhookFloor:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_sender_main, args=(url, posts, concurrency, child), daemon=True)
    receiver_before = cpu_seconds(receiver_pid)
    process.start()
    child.close()
    try:
        if not parent.poll(120):
            raise RuntimeError("the webhook floor sender did not finish within 120 s")
        ok, seconds, sender_cpu = parent.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    receiver_after = cpu_seconds(receiver_pid)
    # The receiver's CPU covers the warm-up too: a slight overestimate of its share.
    receiver_cpu = (
        (receiver_after - receiver_before) / ok
        if ok and receiver_before is not None and receiver_after is not None
        else None
    )
    return WebhookFloor(ok, seconds, sender_cpu / max(ok, 1), receiver_cpu)


@dataclass
class Ceilings:
    gateway_cpu_per_message: float  # seconds, HTTP work only
    one_process: float  # msg/s one gateway process could carry at 100 % of one core
    machine: float  # msg/s all parties together could carry on every core of this machine


def ceilings(
    floor: WebhookFloor, api_server_cpu_per_request: float, client_cpu_per_request: float
) -> Ceilings:
    gateway = api_server_cpu_per_request + WEBHOOKS_PER_MESSAGE * floor.sender_cpu_per_post
    everyone = (
        gateway
        + client_cpu_per_request
        + WEBHOOKS_PER_MESSAGE * (floor.receiver_cpu_per_post or 0.0)
    )
    cores = os.cpu_count() or 1
    return Ceilings(gateway, 1.0 / gateway, cores / everyone)
