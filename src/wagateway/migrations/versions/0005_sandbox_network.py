"""the sandbox's network log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_network",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", wagateway.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("sandbox_network", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_network_device_seq", ["device_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sandbox_network", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_network_device_seq")
    op.drop_table("sandbox_network")
