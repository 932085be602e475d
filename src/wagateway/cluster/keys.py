"""The master key's check: every node and CLI command on a database must use the key it was
set up with. Kept apart from `membership.py` (and its logging): the CLI imports it."""

from __future__ import annotations

import base64
import hashlib
import hmac

from wagateway.cluster.models import ClusterSetting
from wagateway.core.db import Database

KEY_CHECK = "key_check"


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
