"""several nodes (CONTRACT §9): the sandbox's record of each device's live sessions
(sandbox_session_records)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = wagateway.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    # Empty at first: the sessions live at the upgrade are recorded as their nodes open them
    # again (every node restarts to upgrade).
    op.create_table(
        "sandbox_session_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sandbox_session_records_device", "sandbox_session_records", ["device_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_session_records_device", table_name="sandbox_session_records")
    op.drop_table("sandbox_session_records")
