"""Device ownership's rules (cluster/ownership.py), against real SQLite and PostgreSQL: a
free device goes to one taker only, a node found dead loses its devices and learns it at its
next beat, a node acts for a device only while its last renewal is fresh, and a node handing
devices over releases them only once their sessions' ends are recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from structlog.testing import capture_logs

from tests.support.databases import DatabaseProvider, pg_admin
from tests.support.migrated import migrated_url
from tests.support.seeds import inbound_sink, linked_device, shop_app
from wagateway.apps.models import App
from wagateway.cluster.membership import Membership
from wagateway.cluster.models import ClusterNode, DeviceOwner
from wagateway.cluster.ownership import (
    FENCE_FRACTION,
    Ownership,
    connections_label,
    expel_dead,
)
from wagateway.core.db import Database, database_now, utcnow
from wagateway.devices.models import Device
from wagateway.devices.placement import Placement
from wagateway.devices.runtime import SessionRuntime
from wagateway.engines.base import Engine


async def _age_last_beat(db: Database, node_id: str) -> None:
    """The node's last beat over a lease (15 s) old by the database's clock: the next look
    finds it dead."""
    async with db.transaction() as session:
        now = await database_now(session)
        await session.execute(
            update(ClusterNode)
            .where(ClusterNode.node_id == node_id)
            .values(last_seen=now - timedelta(seconds=16))
        )


async def _node(db: Database, name: str, tmp_path: Path, lease: float = 15) -> Ownership:
    membership = Membership(db, name, tmp_path / name, lease)
    await membership.join()
    return Ownership(membership)


def test_a_free_device_goes_to_one_taker_and_each_change_of_owner_counts(
    migrated_db_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            one, two = await _node(db, "one", tmp_path), await _node(db, "two", tmp_path)
            async with db.transaction() as session:
                assert await one.take_free(session, [("dev-1", None)], utcnow()) == {"dev-1": 1}
            async with db.transaction() as session:  # seen free (never owned) too late
                assert await two.take_free(session, [("dev-1", None)], utcnow()) == {}
                # Seen with the wrong owner: the compare-and-set leaves it alone.
                assert await two.take_free(session, [("dev-1", "gone")], utcnow()) == {}
                # Several seen free at once, one of them too late: the others are taken.
                seen = [("dev-0", None), ("dev-1", None), ("dev-2", None)]
                assert await two.take_free(session, seen, utcnow()) == {"dev-0": 1, "dev-2": 1}
            async with db.transaction() as session:
                assert await one.owned(session) == {"dev-1": 1}
                await one.release(session, ["dev-1"])
            async with db.transaction() as session:  # released: free, from the owner ""
                assert await two.take_free(session, [("dev-1", "")], utcnow()) == {"dev-1": 2}
                assert await one.owned(session) == {}
            # A session starting on a node takes the device whoever owned it.
            async with db.transaction() as session:
                assert await one.take_for_session(session, "dev-1", utcnow()) == 3
                assert await two.owned(session) == {"dev-0": 1, "dev-2": 1}
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_node_found_dead_loses_its_devices_and_learns_it_at_its_next_beat(
    migrated_db_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            survivor = await _node(db, "survivor", tmp_path)
            frozen = await _node(db, "frozen", tmp_path)
            old_instance = frozen.instance
            async with db.transaction() as session:
                await frozen.take_free(session, [("dev-1", None)], utcnow())
            expelled: list[str] = []

            async def on_expelled() -> None:
                expelled.append(frozen.instance)

            frozen._membership.on_expelled = on_expelled
            # Its last beat is over a lease old (by the database's clock): found dead.
            await _age_last_beat(db, "frozen")
            async with db.transaction() as session:
                assert await expel_dead(session, await database_now(session), 15) == ["frozen"]
            async with db.transaction() as session:
                # Its owner row names an instance without a node row: free to take.
                taken = await survivor.take_free(session, [("dev-1", old_instance)], utcnow())
                assert taken == {"dev-1": 2}
            assert await frozen._membership._beat()
            assert expelled == [old_instance]  # told before it joins again...
            assert frozen.instance != old_instance  # ...as a new instance
            async with db.transaction() as session:
                assert await frozen.owned(session) == {}
            assert {n.node_id for n in await survivor._membership.view()} == {
                "survivor",
                "frozen",
            }
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_node_acts_for_a_device_only_while_its_last_renewal_is_fresh(
    migrated_db_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            lease = 3.0
            node = await _node(db, "node", tmp_path, lease)
            node.add("dev-1", 1)
            assert node.holds("dev-1") and not node.holds("dev-2")
            # The renewal began longer ago than the fenced part of the lease: not held,
            # though still listed (its session is being stopped).
            node._membership.renewed_at = time.monotonic() - lease * FENCE_FRACTION - 0.01
            assert not node.holds("dev-1") and node.has("dev-1")
            assert await node._membership._beat()
            assert node.holds("dev-1")
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_takeover_waits_for_the_owners_claim_under_way(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """The send queue claims a device's messages with its owner row locked (`owns_locked`):
    a node taking the device over meanwhile waits for that claim to commit (on SQLite the
    single writer orders them already), and the old owner owns nothing after."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            old, new = await _node(db, "old", tmp_path), await _node(db, "new", tmp_path)
            async with db.transaction() as session:
                await old.take_for_session(session, "dev-1", utcnow())
            claim_open, claim_done = asyncio.Event(), asyncio.Event()
            order: list[str] = []

            async def claim() -> None:
                async with db.transaction() as session:
                    assert await old.owns_locked(session, "dev-1")
                    claim_open.set()
                    await asyncio.sleep(0.3)  # the claim's work
                    order.append("claim committed")
                claim_done.set()

            async def take_over() -> None:
                await claim_open.wait()
                async with db.transaction() as session:
                    await new.take_for_session(session, "dev-1", utcnow())
                order.append("taken")

            if db.dialect == "sqlite":  # one writer: the take cannot even start meanwhile
                await claim()
                await take_over()
            else:
                await asyncio.gather(claim(), take_over())
            assert order == ["claim committed", "taken"]
            async with db.transaction() as session:
                assert not await old.owns_locked(session, "dev-1")
                assert await new.owns_locked(session, "dev-1")
        finally:
            await db.dispose()

    asyncio.run(go())


class _QuietEngine:
    name = "sandbox"

    async def start(self, sink: object) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def restore(self, device_id: str, epoch: int) -> None:
        pass


def test_no_send_is_claimed_for_a_device_until_its_takeover_put_back_the_old_owners(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """Between taking a device and putting its previous owner's unfinished sends back in the
    queue (the takeover listeners), the new owner claims none of its sends: a claim then
    would send the messages after those first."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            ownership = await _node(db, "new", tmp_path)
            async with db.transaction() as session:
                session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
                session.add(
                    Device(
                        id="dev-1",
                        app_id="app",
                        name="desk",
                        engine="sandbox",
                        status="connected",
                        connection="online",
                        session_epoch=1,
                    )
                )
            runtime = SessionRuntime(
                db,
                [cast(Engine, _QuietEngine())],
                inbound_sink(tmp_path / "m"),
                ownership=ownership,
            )
            seen: list[bool] = []

            async def put_back(device_ids: list[str]) -> None:
                seen.append(runtime.may_send("dev-1"))

            runtime.on_takeover(put_back)
            async with db.transaction() as session:
                token = await ownership.take_for_session(session, "dev-1", utcnow())
            ownership.add("dev-1", token)
            await runtime.take_over(["dev-1"])
            assert seen == [False]  # held, but mid-takeover
            assert runtime.holds("dev-1") and runtime.may_send("dev-1")
        finally:
            await db.dispose()

    asyncio.run(go())


def test_devices_whose_takeover_failed_are_not_held_so_the_next_pass_takes_them_again(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """A takeover the database failed half-way (PostgreSQL restarting) restored nothing: its
    devices must not stay held, or the next placement pass would count them as running and
    no pass would ever restore them."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            ownership = await _node(db, "new", tmp_path)
            async with db.transaction() as session:
                session.add(shop_app())
                session.add(linked_device("dev-1", "6281200000001"))
            runtime = SessionRuntime(
                db,
                [cast(Engine, _QuietEngine())],
                inbound_sink(tmp_path / "m"),
                ownership=ownership,
            )

            async def database_gone(device_ids: list[str]) -> None:
                raise OSError("connection refused")

            runtime.on_takeover(database_gone)
            async with db.transaction() as session:
                token = await ownership.take_for_session(session, "dev-1", utcnow())
            ownership.add("dev-1", token)
            with pytest.raises(OSError):
                await runtime.take_over(["dev-1"])
            assert not ownership.has("dev-1") and not runtime.may_send("dev-1")
        finally:
            await db.dispose()

    asyncio.run(go())


class _HandingOverEngine(_QuietEngine):
    """Notes its closes, and who owned the device when the closes' record was waited for."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: list[tuple[str, str]] = []

    async def close(self, device_id: str) -> None:
        self.events.append(("closed", device_id))

    async def closes_recorded(self, timeout: float) -> None:
        async with self.db.read() as session:
            owner = await session.get(DeviceOwner, "dev-1")
        self.events.append(("recorded, owner then", owner.instance if owner else "none"))


async def _holder_of_dev_1(
    db: Database, engine: _HandingOverEngine, tmp_path: Path
) -> tuple[Membership, Ownership, SessionRuntime]:
    """A node "old" holding the linked device dev-1 (its session started there), its runtime
    on `engine`."""
    membership = Membership(db, "old", tmp_path / "old", 15)
    await membership.join()
    ownership = Ownership(membership)
    async with db.transaction() as session:
        session.add(shop_app())
        session.add(linked_device("dev-1", "6281200000001"))
    async with db.transaction() as session:
        ownership.add("dev-1", await ownership.take_for_session(session, "dev-1", utcnow()))
    runtime = SessionRuntime(
        db, [cast(Engine, engine)], inbound_sink(tmp_path / "m"), ownership=ownership
    )
    return membership, ownership, runtime


def test_a_drain_releases_its_devices_only_once_their_sessions_ends_are_recorded(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """Released first, the next owner could open a session while this one's end was still
    being written: the sandbox would call that a replacement (sandbox/witness.py)."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            engine = _HandingOverEngine(db)
            membership, ownership, runtime = await _holder_of_dev_1(db, engine, tmp_path)
            await Placement(db, runtime, ownership, membership).drain()

            assert engine.events == [
                ("closed", "dev-1"),
                ("recorded, owner then", membership.instance),  # still held: not released
            ]
            async with db.read() as session:
                owner = await session.get(DeviceOwner, "dev-1")
            assert owner is not None and owner.instance == ""  # released after
        finally:
            await db.dispose()

    asyncio.run(go())


class _SlowRestoreEngine(_HandingOverEngine):
    """Its restores of the devices in `slow` wait for `opened` (WhatsApp's servers, slow to
    answer); a session counts as open from then until it is closed."""

    def __init__(self, db: Database, slow: set[str]) -> None:
        super().__init__(db)
        self.slow = slow
        self.opened = asyncio.Event()
        self.open: set[str] = set()

    async def restore(self, device_id: str, epoch: int) -> None:
        self.events.append(("restoring", device_id))
        if device_id in self.slow:
            await self.opened.wait()
        self.open.add(device_id)
        self.events.append(("restored", device_id))

    async def close(self, device_id: str) -> None:
        self.open.discard(device_id)
        await super().close(device_id)


def test_a_slow_restore_does_not_hold_up_the_next_pass_that_takes_a_dead_nodes_devices(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """A restore can wait a minute on WhatsApp (whatsmeow's connect): the pass that took the
    device must not wait for it, or a node dying meanwhile would keep its devices offline
    past the contract's takeover bound."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            membership = Membership(db, "new", tmp_path / "new", 15)
            await membership.join()
            ownership = Ownership(membership)
            dying = await _node(db, "dying", tmp_path)
            async with db.transaction() as session:
                session.add(shop_app())
                session.add(linked_device("dev-1", "6281200000001"))
                session.add(linked_device("dev-2", "6281200000002"))
            async with db.transaction() as session:
                await dying.take_free(session, [("dev-2", None)], utcnow())
            engine = _SlowRestoreEngine(db, slow={"dev-1"})
            runtime = SessionRuntime(
                db, [cast(Engine, engine)], inbound_sink(tmp_path / "m"), ownership=ownership
            )
            placement = Placement(db, runtime, ownership, membership)
            placement._started = True  # its passes alone: no first pass, no fence watch

            async with asyncio.timeout(5):
                await placement.place()  # its share of two live nodes: the free dev-1
            assert engine.events == [("restoring", "dev-1")]  # under way, not waited for

            await _age_last_beat(db, "dying")  # the other node dies
            async with asyncio.timeout(5):
                await placement.place()
            assert ownership.has("dev-2")
            assert ("restored", "dev-2") in engine.events
            assert "dev-1" not in engine.open  # its restore still waits on the network

            engine.opened.set()
            async with asyncio.timeout(5):
                await runtime.restores_settled()
            assert engine.open == {"dev-1", "dev-2"}
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_drain_during_a_restore_waits_for_it_and_closes_the_session_it_opened(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """Let go of while its restore is under way, a device's close can come before its
    session exists; the restore ending later must not leave that session open, and the
    device is released only after it (else the next owner's session meets this one's)."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            engine = _SlowRestoreEngine(db, slow={"dev-1"})
            membership, ownership, runtime = await _holder_of_dev_1(db, engine, tmp_path)
            await runtime.begin_take_over(["dev-1"])
            asyncio.get_running_loop().call_later(0.3, engine.opened.set)
            async with asyncio.timeout(10):
                await Placement(db, runtime, ownership, membership).drain()

            assert engine.events == [
                ("restoring", "dev-1"),
                ("closed", "dev-1"),  # let go of: nothing open to close yet
                ("restored", "dev-1"),
                ("closed", "dev-1"),  # the session the restore opened, closed at once
                ("recorded, owner then", membership.instance),
            ]
            assert engine.open == set()
            async with db.read() as session:
                owner = await session.get(DeviceOwner, "dev-1")
            assert owner is not None and owner.instance == ""
        finally:
            await db.dispose()

    asyncio.run(go())


def test_the_first_pass_lets_the_calls_held_while_the_node_started_go_first(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """The starting front (core/starting_front.py) releases the calls it held in the step
    that ends the gateway's start, the one that started the first pass: they are answered
    before the pass takes the loop (with 10,000 devices, tens of milliseconds)."""

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            engine = _HandingOverEngine(db)
            membership, ownership, runtime = await _holder_of_dev_1(db, engine, tmp_path)
            placement = Placement(db, runtime, ownership, membership)
            order: list[str] = []
            place = placement.place

            async def recorded_pass() -> None:
                order.append("pass")
                await place()

            placement.place = recorded_pass  # type: ignore[method-assign]
            released = asyncio.Event()

            async def held_call() -> None:
                await released.wait()
                order.append("held call")

            call = asyncio.create_task(held_call())
            await asyncio.sleep(0)  # waiting, as a call the front holds
            placement.start()  # the gateway's start, then the front's release: one step
            released.set()
            async with asyncio.timeout(5):
                await call
                assert placement._first_pass is not None
                await placement._first_pass
            await placement.stop()
            await runtime.shutdown()
            assert order == ["held call", "pass"]
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_lone_node_gives_back_nothing_when_a_device_is_unlinked_during_its_pass(
    postgresql: DatabaseProvider, tmp_path: Path
) -> None:
    """A node's sessions and its share of all sessions are read from one snapshot: a device
    unlinked in between counted among this node's sessions but not among all of them, and a
    lone node gave a live session back (its calls failed until the next pass took it again;
    seen in the API fuzz test on PostgreSQL)."""
    url = migrated_url(postgresql, tmp_path)
    unlinked: list[str] = []

    def unlink_dev_2_after_the_statuses_are_read(
        _conn: object, _cursor: object, statement: str, *_: object
    ) -> None:
        if unlinked or not statement.startswith("SELECT devices.id, devices.status"):
            return
        unlink = "UPDATE devices SET status = 'disconnected' WHERE id = 'dev-2'"
        with ThreadPoolExecutor(1) as another_connection:  # committed meanwhile, elsewhere
            another_connection.submit(
                asyncio.run, pg_admin(unlink, database=make_url(url).database)
            ).result()
        unlinked.append("dev-2")

    async def go() -> None:
        db = Database(url)
        try:
            engine = _HandingOverEngine(db)
            membership, ownership, runtime = await _holder_of_dev_1(db, engine, tmp_path)
            async with db.transaction() as session:
                session.add(linked_device("dev-2", "6281200000002"))
            async with db.transaction() as session:
                ownership.add("dev-2", await ownership.take_for_session(session, "dev-2", utcnow()))
            placement = Placement(db, runtime, ownership, membership)
            placement._started = True  # its pass alone: no first pass, no fence watch
            event.listen(
                db.engine.sync_engine,
                "after_cursor_execute",
                unlink_dev_2_after_the_statuses_are_read,
            )
            async with asyncio.timeout(10):
                await placement.place()
            assert unlinked == ["dev-2"]  # the pass read the statuses before the unlink
            assert ownership.has("dev-1")
            assert ("closed", "dev-1") not in engine.events
            async with db.read() as session:
                owner = await session.get(DeviceOwner, "dev-1")
            assert owner is not None and owner.instance == membership.instance
        finally:
            await db.dispose()

    asyncio.run(go())


def test_finding_a_node_dead_ends_its_connections_and_the_row_locks_they_held(
    postgresql: DatabaseProvider, tmp_path: Path
) -> None:
    """A node frozen inside a transaction keeps its row locks until the server ends that
    transaction; one frozen in the middle of a statement's messages is not idle, so the
    server's idle-in-transaction timeout (5 s) never ends it. The node that finds it dead
    ends its connections, so the takeover waits for nothing: here well under that timeout."""
    url = migrated_url(postgresql, tmp_path)

    async def go() -> None:
        frozen_db = Database(url, application_name=connections_label("frozen"))
        survivor_db = Database(url)
        try:
            frozen = await _node(frozen_db, "frozen", tmp_path)
            survivor = await _node(survivor_db, "survivor", tmp_path)
            async with frozen_db.transaction() as session:
                await frozen.take_free(session, [("dev-1", None)], utcnow())
            locked, thawed = asyncio.Event(), asyncio.Event()

            async def claim_then_freeze() -> None:
                async with frozen_db.transaction() as session:
                    assert await frozen.owns_locked(session, "dev-1")  # its row locked
                    locked.set()
                    await thawed.wait()
                    await session.execute(select(1))  # its connection was ended meanwhile

            claim = asyncio.create_task(claim_then_freeze())
            await locked.wait()
            await _age_last_beat(survivor_db, "frozen")
            async with survivor_db.transaction() as session:
                assert await expel_dead(session, await database_now(session), 15) == ["frozen"]
            async with asyncio.timeout(2):  # not the 5 s the server's timeout would take
                async with survivor_db.transaction() as session:
                    taken = await survivor.take_free(
                        session, [("dev-1", frozen.instance)], utcnow()
                    )
            assert taken == {"dev-1": 2}
            thawed.set()
            with pytest.raises(DBAPIError):
                await claim
        finally:
            await frozen_db.dispose()
            await survivor_db.dispose()

    asyncio.run(go())


def test_a_node_that_may_not_end_the_dead_nodes_connections_still_expels_it(
    postgresql: DatabaseProvider, tmp_path: Path
) -> None:
    """Nodes connecting as roles that may not end each other's connections: the dead node is
    removed all the same (its connections are left to the server's timeouts), with a
    warning."""
    url = migrated_url(postgresql, tmp_path)
    role = f"wagw_plain_{uuid.uuid4().hex[:8]}"
    database = make_url(url).database

    async def go() -> None:
        await pg_admin(f"CREATE ROLE {role} LOGIN")
        await pg_admin(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}", database=database)
        frozen_db = Database(url, application_name=connections_label("frozen"))  # a superuser
        survivor_db = Database(url.replace("//postgres@", f"//{role}@"))
        try:
            await _node(frozen_db, "frozen", tmp_path)
            await _age_last_beat(frozen_db, "frozen")
            with capture_logs() as logs:
                async with survivor_db.transaction() as session:
                    dead = await expel_dead(session, await database_now(session), 15)
            assert dead == ["frozen"]
            assert [e["event"] for e in logs] == ["dead_node_connections_not_ended"]
            async with survivor_db.read() as session:
                assert await session.get(ClusterNode, "frozen") is None  # removed all the same
        finally:
            await frozen_db.dispose()
            await survivor_db.dispose()
            await pg_admin(f"DROP OWNED BY {role}", database=database)
            await pg_admin(f"DROP ROLE {role}")

    asyncio.run(go())
