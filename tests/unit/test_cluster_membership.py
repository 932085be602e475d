"""Nodes on one database (CONTRACT §9), against real SQLite and PostgreSQL: the master key's
check, joining, beating, leaving, and a copied data dir refused while its original lives
(cluster/membership.py)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.databases import DatabaseProvider
from tests.support.migrated import migrated_url
from wagateway.cluster.keys import RefusedToJoin, check_master_key, check_media_store
from wagateway.cluster.membership import Membership
from wagateway.cluster.models import ClusterNode
from wagateway.core.db import Database, utcnow


def test_a_node_with_another_master_key_is_refused(migrated_db_url: str) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            await check_master_key(db, b"k" * 32)  # the first one records its check
            await check_master_key(db, b"k" * 32)
            with pytest.raises(RefusedToJoin, match="WAGW_SECRET_KEY"):
                await check_master_key(db, b"x" * 32)
        finally:
            await db.dispose()

    asyncio.run(go())


def test_nodes_share_one_media_store_and_a_node_alone_may_change_it(
    migrated_db_url: str, tmp_path: Path
) -> None:
    s3 = "s3 http://127.0.0.1:9000 media/"

    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            await check_media_store(db, "local node-one", "node-one", 15)  # alone: recorded
            await check_media_store(db, s3, "node-one", 15)  # alone again: it may change
            one = Membership(db, "node-one", tmp_path / "one", 15)
            await one.join()
            await check_media_store(db, s3, "node-two", 15)  # the same store: joins
            for other in ("local node-two", "s3 http://127.0.0.1:9000 other/"):
                with pytest.raises(RefusedToJoin, match="several nodes need one shared media"):
                    await check_media_store(db, other, "node-two", 15)
            # node-one itself restarting with its own local store while no other runs
            await check_media_store(db, "local node-one", "node-one", 15)
        finally:
            await db.dispose()

    asyncio.run(go())


def _owned() -> int:
    return 4


def test_nodes_join_beat_and_leave(migrated_db_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            one = Membership(db, "node-one", tmp_path / "one", 15, devices_owned=_owned)
            two = Membership(db, "node-two", tmp_path / "two", 15)
            await one.join()
            await two.join()
            assert [(n.node_id, n.devices_owned) for n in await one.view()] == [
                ("node-one", 4),
                ("node-two", 0),
            ]
            # A node whose heartbeats stopped longer than the lease is not live.
            async with db.transaction() as session:
                row = await session.get(ClusterNode, "node-two")
                assert row is not None
                row.last_seen = utcnow() - timedelta(seconds=16)
            assert [n.node_id for n in await one.view()] == ["node-one"]
            await one.stop()  # leaving: gone at once
            assert [n.node_id for n in await two.view()] == []
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_copied_data_dir_is_refused_while_its_original_beats(
    migrated_db_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            original = Membership(db, "same-id", tmp_path / "original", 3)
            await original.join()
            original.start()  # beats every second
            copy = Membership(db, "same-id", tmp_path / "copy", 3)
            with pytest.raises(RefusedToJoin, match="copy of another node"):
                await copy.join()
            assert original.alive
            await original.stop()
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_restart_takes_its_row_over_and_a_dead_originals_copy_waits_for_it_to_lapse(
    migrated_db_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        db = Database(migrated_db_url)
        try:
            crashed = Membership(db, "node-id", tmp_path / "dir", 2)
            await crashed.join()  # and never beats again: killed
            restarted = Membership(db, "node-id", tmp_path / "dir", 2)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await restarted.join()  # the same data dir: at once
            assert loop.time() - started < 1
            # Its old self, still running somehow, learns it was displaced and says so.
            crashed.start()
            await asyncio.sleep(1.0)
            assert crashed.displaced and not crashed.alive
            await crashed.stop()
            # A copy elsewhere while the original is dead: it joins once the row lapses.
            moved = Membership(db, "node-id", tmp_path / "elsewhere", 2)
            started = loop.time()
            await moved.join()
            # It waited for the row to lapse (two seconds after the restart's join, one of
            # which had passed), not the whole lease again.
            assert 0.5 < loop.time() - started < 2.5
            rows = [n.node_id for n in await moved.view()]
            assert rows == ["node-id"]
        finally:
            await db.dispose()

    asyncio.run(go())


def test_a_nodes_connections_say_which_process_they_are_and_end_its_frozen_transactions(
    postgresql: DatabaseProvider, tmp_path: Path
) -> None:
    """`pg_stat_activity` names the process behind each connection (a failed cluster test's
    report lists them), and a transaction left open by a frozen node ends by itself."""

    url = migrated_url(postgresql, tmp_path)

    async def go() -> None:
        db = Database(url)
        try:
            async with db.read() as session:
                name = await session.scalar(text("SHOW application_name"))
                idle = await session.scalar(text("SHOW idle_in_transaction_session_timeout"))
            assert name == f"wagateway pid {os.getpid()}"
            assert idle == "5s"
        finally:
            await db.dispose()

    asyncio.run(go())
