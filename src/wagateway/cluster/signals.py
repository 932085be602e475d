"""Wake-ups between the nodes on one PostgreSQL database: LISTEN/NOTIFY on a connection of
their own (CONTRACT §9).

A signal says "look again", never what to do: the receiver reads the database, where the
work is. So a signal lost while the connection was down costs only a poll's delay (every
user of these signals keeps polling as its fallback), and on reconnecting every listener
is told to look again at once.

Sending is batched: signals published while one NOTIFY round trip is under way go out
together in the next, the same payloads once, joined in one payload per channel up to
PostgreSQL's limit. On SQLite (one node) there is nobody to tell: publishing does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.engine import make_url

from wagateway.core.db import connection_label

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

# NOTIFY payloads must be under 8000 bytes; several signals of one channel share one.
MAX_PAYLOAD = 7000
SEPARATOR = " "
RECONNECT_SECONDS = 1.0

# A listener gets each payload published on its channel by another process, or None after
# a reconnect (signals may have been missed meanwhile: look again at everything).
Listener = Callable[[str | None], None]


def listen_dsn(database_url: str) -> str | None:
    """The plain PostgreSQL URL asyncpg connects to, or None for SQLite."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Signals:
    def __init__(self, dsn: str | None, application_name: str | None = None) -> None:
        self._dsn = dsn
        self._application_name = application_name or connection_label()
        self._listeners: defaultdict[str, list[Listener]] = defaultdict(list)
        self._outbox: dict[str, dict[str, None]] = {}  # channel → payloads (ordered set)
        self._outbox_ready = asyncio.Event()
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._own_pid = 0
        self.connected = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self._dsn is not None

    def subscribe(self, channel: str, listener: Listener) -> None:
        """Before `start`: listen on `channel`."""
        self._listeners[channel].append(listener)

    def publish(self, channel: str, payload: str) -> None:
        """Tell the other nodes (after the work it points at has committed)."""
        if self._dsn is None:
            return
        if SEPARATOR in payload or not payload:
            raise ValueError("a signal's payload is one non-empty word")
        self._outbox.setdefault(channel, {})[payload] = None
        self._outbox_ready.set()

    async def start(self) -> None:
        if self._dsn is not None:
            self._task = asyncio.create_task(self._run(), name="cluster-signals")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _close(self) -> None:
        self.connected.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)
            connection.terminate()

    async def _run(self) -> None:
        import asyncpg  # here: only PostgreSQL needs it, and SQLite nodes start sooner

        while True:
            try:
                await self._connect()
                await self._send_forever()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("cluster_signals_lost", error=repr(exc))
            await self._close()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _connect(self) -> None:
        assert self._dsn is not None
        import asyncpg

        connection = await asyncio.wait_for(
            asyncpg.connect(
                self._dsn, server_settings={"application_name": self._application_name}
            ),
            10,
        )
        self._connection = connection
        self._own_pid = connection.get_server_pid()
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        connection.add_termination_listener(lambda _: _settle(lost))
        for channel in self._listeners:
            await connection.add_listener(channel, self._received)
        self.connected.set()
        for channel, listeners in self._listeners.items():
            for listener in listeners:  # what was published while we were away
                self._tell(channel, listener, None)
        self._lost = lost

    async def _send_forever(self) -> None:
        assert self._lost is not None
        while True:
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self._outbox_ready.wait())
            lost: asyncio.Future[Any] = self._lost
            done, _ = await asyncio.wait({waiter, lost}, return_when=asyncio.FIRST_COMPLETED)
            if lost in done:
                waiter.cancel()
                raise OSError("the signals connection closed")
            self._outbox_ready.clear()
            outbox, self._outbox = self._outbox, {}
            channels, payloads = [], []
            for channel, words in outbox.items():
                for payload in _joined(list(words)):
                    channels.append(channel)
                    payloads.append(payload)
            assert self._connection is not None
            await asyncio.wait_for(
                self._connection.execute(
                    "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS s(c, p)",
                    channels,
                    payloads,
                ),
                10,
            )

    def _received(self, _connection: object, pid: int, channel: str, payload: str) -> None:
        if pid == self._own_pid:
            return  # this node's own: it told itself already
        for listener in self._listeners.get(channel, []):
            for word in payload.split(SEPARATOR):
                self._tell(channel, listener, word)

    @staticmethod
    def _tell(channel: str, listener: Listener, payload: str | None) -> None:
        try:
            listener(payload)
        except Exception:
            log.exception("cluster_signal_listener_failed", channel=channel)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _joined(words: list[str]) -> list[str]:
    """Words joined into as few payloads as fit."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for word in words:
        if current and size + len(word) + 1 > MAX_PAYLOAD:
            payloads.append(SEPARATOR.join(current))
            current, size = [], 0
        current.append(word)
        size += len(word) + 1
    if current:
        payloads.append(SEPARATOR.join(current))
    return payloads
