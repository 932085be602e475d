"""A TCP proxy on a loopback port that a test can cut off, as a network partition would.

`TcpProxy(target_port).start()` forwards every connection made to `proxy.port` to
`127.0.0.1:target_port`. `blackhole()` stops forwarding in both directions while every
socket stays open: no RST, no FIN, nothing arrives on either side, as when the network
between them is cut (a new connection is accepted, as a kernel's backlog would, but never
reaches the target). `heal()` lets everything through again: what was sent meanwhile then
arrives, as TCP's retransmissions would deliver it after a short partition; a side that
gave up and closed meanwhile has its close passed on then.

The proxy runs its own event loop in a daemon thread, so synchronous tests can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.harness import free_port

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.connections = 0  # accepted so far
        self._loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    @property
    def cut(self) -> bool:
        return self._flowing is not None and not self._flowing.is_set()

    def blackhole(self) -> None:
        """From now on nothing passes, either way; every socket stays open."""
        self._call(lambda flowing: flowing.clear())

    def heal(self) -> None:
        self._call(lambda flowing: flowing.set())

    def _call(self, change: object) -> None:
        async def apply() -> None:
            assert self._flowing is not None
            change(self._flowing)  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(apply(), self._loop).result(10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            for writer in list(self._writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # --- one connection -------------------------------------------------------------------

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._flowing is not None
        self._tasks.add(task)
        self._writers.add(client_w)
        self.connections += 1
        upstream_w: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # a connection made during a cut waits for the heal
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_w)
            await asyncio.gather(self._pipe(client_r, upstream_w), self._pipe(upstream_r, client_w))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_w, upstream_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.transport.abort()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        while True:
            await self._flowing.wait()
            data = await reader.read(CHUNK)
            # Read just as the cut began: held until the heal, as the network would hold it.
            await self._flowing.wait()
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()  # a close is passed on as a FIN (half-close)
                return
            writer.write(data)
            await writer.drain()
