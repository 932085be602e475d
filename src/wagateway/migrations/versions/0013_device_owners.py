"""several nodes (CONTRACT §9): which node holds each device's session (device_owners)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = wagateway.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    # Empty at first: a node takes the devices with a session (connected, or pairing) as
    # its first placement pass finds them unowned, as a restart restored them before.
    op.create_table(
        "device_owners",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("since", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_index("ix_device_owners_instance", "device_owners", ["instance"])


def downgrade() -> None:
    op.drop_index("ix_device_owners_instance", table_name="device_owners")
    op.drop_table("device_owners")
