"""several nodes (CONTRACT §9): calls for a device carried to the node that holds it
(node_calls)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = wagateway.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    # Empty at first: calls live for seconds, and none can be under way across an upgrade.
    op.create_table(
        "node_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("target", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_node_calls_target_state", "node_calls", ["target", "state"])


def downgrade() -> None:
    op.drop_index("ix_node_calls_target_state", table_name="node_calls")
    op.drop_table("node_calls")
