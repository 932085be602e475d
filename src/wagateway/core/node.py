"""This installation's node id: the tag of its leases."""

from __future__ import annotations

import uuid
from pathlib import Path

from wagateway.core.secrets import create_private_dir


def node_id(data_dir: Path) -> str:
    """A stable id for this installation's process slot, kept in the data dir.

    Webhook leases are tagged with it, so a restarted process can take its own leases back
    at once instead of waiting for them to time out.
    """
    path = data_dir / "node-id"
    if not path.exists():
        create_private_dir(data_dir)
        path.write_text(uuid.uuid4().hex)
    return path.read_text().strip()
