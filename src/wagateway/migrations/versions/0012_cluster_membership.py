"""several nodes (CONTRACT §9): the live nodes (cluster_nodes) and the facts every node must
agree on (cluster_settings: the master key's check)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = wagateway.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("data_dir", sa.String(length=1000), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("last_seen", WHEN, nullable=False),
        sa.Column("devices_owned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node_id"),
    )
    op.create_table(
        "cluster_settings",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("cluster_settings")
    op.drop_table("cluster_nodes")
