"""Calls for a device carried to the node that holds it (cluster/calls.py, engines/routed.py),
between two nodes in one process on a real PostgreSQL database, each with its own signals
connection: results and engine errors come back as the owner's engine gave them, a
device's calls are carried out in the order they were made, a call waits for the new owner
of a moving device, an owner that does not answer makes it 408 (and a call it never took is
withdrawn), and the signals alone wake both sides (polls turned off)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.databases import DatabaseProvider
from tests.support.migrated import migrated_url
from wagateway.cluster import calls as calls_module
from wagateway.cluster.calls import NodeCalls, OwnerDidNotAnswer
from wagateway.cluster.membership import Membership
from wagateway.cluster.models import NodeCall
from wagateway.cluster.ownership import Ownership
from wagateway.cluster.signals import Signals, listen_dsn
from wagateway.core.db import Database, utcnow
from wagateway.engines.base import EngineError, GroupInfo, GroupMember, SendError
from wagateway.engines.fenced import FencedEngine, NotHeld
from wagateway.engines.routed import RemoteCalls

GROUP = GroupInfo(
    jid="1@g.us",
    name="caf\u00e9",
    participants=("62811@s.whatsapp.net",),
    members=(GroupMember(jid="62811@s.whatsapp.net", admin=True),),
    created_at=datetime(2026, 1, 2, tzinfo=UTC),
)


class Phone:
    """What a node's engine did, and what it answers."""

    name = "sandbox"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.slow = 0.0
        self.refuse: EngineError | None = None
        self.running = self.most_at_once = 0

    async def groups(self, device_id: str) -> list[GroupInfo]:
        self.calls.append(("groups", device_id, None))
        return [GROUP]

    async def send_presence(self, device_id: str, state: str) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.slow)
            if self.refuse is not None:
                raise self.refuse
            self.calls.append(("send_presence", device_id, state))
        finally:
            self.running -= 1

    async def logout(self, device_id: str) -> None:
        self.calls.append(("logout", device_id, None))

    async def close(self, device_id: str) -> None:
        self.calls.append(("close", device_id, None))

    async def closes_recorded(self, timeout: float) -> None:
        return None


@dataclass
class Node:
    ownership: Ownership
    signals: Signals
    calls: NodeCalls
    phone: Phone
    engine: FencedEngine


@pytest.fixture
def database_url(postgresql: DatabaseProvider, tmp_path: Path) -> Iterator[str]:
    yield migrated_url(postgresql, tmp_path)


@asynccontextmanager
async def two_nodes(db: Database, tmp_path: Path, timeout: float) -> AsyncIterator[list[Node]]:
    nodes = []
    for name in ("one", "two"):
        membership = Membership(db, name, tmp_path / name, 15)
        await membership.join()
        ownership = Ownership(membership)
        signals = Signals(listen_dsn(db.url))
        calls = NodeCalls(db, signals, ownership, timeout=timeout)
        remote = RemoteCalls(calls)
        phone = Phone()
        engine = FencedEngine(phone, ownership.holds, remote.route)
        remote.add_target(engine)
        await signals.start()
        await calls.start()
        nodes.append(Node(ownership, signals, calls, phone, engine))
    try:
        for node in nodes:
            await asyncio.wait_for(node.signals.connected.wait(), 10)
        yield nodes
    finally:
        for node in nodes:
            await node.calls.stop()
            await node.signals.stop()


async def _own(db: Database, node: Node, device_id: str) -> None:
    async with db.transaction() as session:
        token = await node.ownership.take_for_session(session, device_id, utcnow())
    node.ownership.add(device_id, token)


def _run(database_url: str, tmp_path: Path, body: Callable[..., Any], timeout: float = 5) -> None:
    async def go() -> None:
        db = Database(database_url)
        try:
            async with two_nodes(db, tmp_path, timeout) as nodes:
                await body(db, *nodes)
        finally:
            await db.dispose()

    asyncio.run(go())


@pytest.fixture
def signals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fallback polls: only a signal can wake either side in time."""
    monkeypatch.setattr(calls_module, "ANSWER_POLL_SECONDS", 60.0)
    monkeypatch.setattr(calls_module, "CALLS_POLL_SECONDS", 60.0)


@pytest.mark.usefixtures("signals_only")
def test_a_call_for_a_device_another_node_holds_is_carried_out_there(
    database_url: str, tmp_path: Path
) -> None:
    async def body(db: Database, one: Node, two: Node) -> None:
        await _own(db, one, "dev-1")
        started = time.monotonic()
        groups = await two.engine.groups("dev-1")  # on two, which does not hold dev-1
        assert time.monotonic() - started < 5  # woken by signals, not by a 60 s poll
        assert groups == [GROUP]
        assert one.phone.calls == [("groups", "dev-1", None)] and two.phone.calls == []
        await two.engine.send_presence("dev-1", state="available")
        assert one.phone.calls[-1] == ("send_presence", "dev-1", "available")

        # The owner's engine error comes back as that error, kind included.
        one.phone.refuse = SendError(
            "provider_rate_limit", "slow down", permanent=False, retry_after=3.0
        )
        with pytest.raises(SendError) as refused:
            await two.engine.send_presence("dev-1", "available")
        assert (refused.value.code, refused.value.retry_after) == ("provider_rate_limit", 3.0)
        one.phone.refuse = None

        # The caller cleaned up after itself: no call rows are left.
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(NodeCall)) == 0

    _run(database_url, tmp_path, body)


def test_a_devices_calls_are_carried_out_in_the_order_they_were_made(
    database_url: str, tmp_path: Path
) -> None:
    async def body(db: Database, one: Node, two: Node) -> None:
        await _own(db, one, "dev-1")
        one.phone.slow = 0.05
        states = [f"s{n}" for n in range(8)]
        for state in states:  # one after another, each answered before the next is made
            await two.engine.send_presence("dev-1", state)
        # Made together: each waits its turn on the owner.
        calls = [asyncio.create_task(two.engine.send_presence("dev-1", f"t{n}")) for n in range(8)]
        await asyncio.gather(*calls)
        done = [state for op, _, state in one.phone.calls if op == "send_presence"]
        assert done[:8] == states
        # Made at once, by a task each: their order is the order their rows were written,
        # and the owner never ran two of them side by side.
        assert sorted(done[8:]) == [f"t{n}" for n in range(8)]
        assert one.phone.most_at_once == 1

    _run(database_url, tmp_path, body)


def test_a_call_for_a_moving_device_waits_for_its_new_owner_then_fails_not_held(
    database_url: str, tmp_path: Path
) -> None:
    async def body(db: Database, one: Node, two: Node) -> None:
        # Nobody holds dev-2: the call waits, and someone takes it meanwhile.
        async def take_later() -> None:
            await asyncio.sleep(0.5)
            await _own(db, one, "dev-2")

        taker = asyncio.create_task(take_later())
        assert len(await two.engine.groups("dev-2")) == 1
        await taker
        # Nobody ever takes dev-3: `device_not_held` at the deadline.
        started = time.monotonic()
        with pytest.raises(NotHeld):
            await two.engine.groups("dev-3")
        assert 1.5 <= time.monotonic() - started < 5
        # Ending a session nobody holds is done where it was asked, at once.
        await two.engine.logout("dev-3")
        assert two.phone.calls == [("logout", "dev-3", None)]
        # ... and by the owner when there is one.
        await two.engine.logout("dev-2")
        assert one.phone.calls[-1] == ("logout", "dev-2", None)

    _run(database_url, tmp_path, body, timeout=2)


def test_an_owner_that_does_not_answer_makes_the_call_408_and_an_untaken_call_is_withdrawn(
    database_url: str, tmp_path: Path
) -> None:
    async def body(db: Database, one: Node, two: Node) -> None:
        await _own(db, one, "dev-1")
        # Taken but not finished in time: 408, and the action may still happen.
        one.phone.slow = 2.0
        with pytest.raises(OwnerDidNotAnswer) as late:
            await two.engine.send_presence("dev-1", "late")
        assert (late.value.status, late.value.code) == (408, "request_canceled")
        assert "may still take effect" in late.value.message
        await asyncio.sleep(1.5)
        assert ("send_presence", "dev-1", "late") in one.phone.calls
        one.phone.slow = 0.0

        # The owner stops taking calls: the call is withdrawn, and never carried out.
        await one.calls.stop()
        with pytest.raises(OwnerDidNotAnswer) as untaken:
            await two.engine.send_presence("dev-1", "never")
        assert "nothing was done" in untaken.value.message
        async with db.read() as session:
            pending = await session.scalar(
                select(func.count()).select_from(NodeCall).where(NodeCall.state == "pending")
            )
        assert pending == 0
        await one.calls.start()
        await two.engine.send_presence("dev-1", "again")
        assert [s for op, _, s in one.phone.calls if op == "send_presence"] == ["late", "again"]

    _run(database_url, tmp_path, body, timeout=1)
