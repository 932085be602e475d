"""What every node on a database must share: the master key it was set up with (and every CLI
command too), and one media store. Kept apart from `membership.py` (and its logging): the
CLI imports it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import func, select

from wagateway.cluster.models import ClusterNode, ClusterSetting
from wagateway.core.db import Database, database_now

KEY_CHECK = "key_check"
MEDIA_STORE = "media_store"


class RefusedToJoin(RuntimeError):
    """This node must not run against this database; the message says why and what to do."""


def key_check_of(master_key: bytes) -> str:
    """A digest that tells whether two nodes use the same master key, and nothing of it."""
    digest = hmac.new(master_key, b"wagateway: key check", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def check_master_key(db: Database, master_key: bytes) -> None:
    """The first node (or CLI) to use a database records its key's check; any later one
    with another key is refused: every secret in the database would be unreadable to it,
    and what it wrote unreadable to the others."""
    ours = key_check_of(master_key)
    async with db.transaction() as session:
        row = await session.get(ClusterSetting, KEY_CHECK)
        if row is None:
            session.add(ClusterSetting(name=KEY_CHECK, value=ours))
            return
        if not hmac.compare_digest(row.value, ours):
            raise RefusedToJoin(
                "the master key (WAGW_SECRET_KEY, or the data dir's key file) is not the one "
                "this database was set up with: every node and the CLI must use the same "
                "WAGW_SECRET_KEY"
            )


async def check_media_store(
    db: Database, media_store: str, node_id: str, lease_seconds: float
) -> None:
    """Media one node stored must be readable on every other: the nodes share one media store.
    `media_store` names this node's (`local <node id>`: its own data dir; `s3 <endpoint>
    <bucket>/<prefix>`). A node alone on the database records its own (an operator may change
    stores between runs); a node joining live nodes must name the one they recorded, so a
    second node with local media, or any node beside one, is refused."""
    async with db.transaction() as session:
        row = await session.get(ClusterSetting, MEDIA_STORE, with_for_update=True)
        if row is not None and row.value == media_store:
            return
        since = await database_now(session) - timedelta(seconds=lease_seconds)
        others = await session.scalar(
            select(func.count())
            .select_from(ClusterNode)
            .where(ClusterNode.last_seen > since, ClusterNode.node_id != node_id)
        )
        if row is None:
            session.add(ClusterSetting(name=MEDIA_STORE, value=media_store))
        elif not others:
            row.value = media_store
        else:
            raise RefusedToJoin(
                f"this node's media store ({media_store}) is not the one the running nodes "
                f"use ({row.value}): several nodes need one shared media store, "
                "WAGW_MEDIA_STORE=s3 with the same WAGW_S3_BUCKET, WAGW_S3_PREFIX and "
                "WAGW_S3_ENDPOINT_URL on every node"
            )
