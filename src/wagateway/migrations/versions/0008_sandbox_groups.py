"""the sandbox's group world: the groups each device's account is in, and their members

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_groups",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("jid", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=120), nullable=True),
        sa.Column("announce", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("created_at", wagateway.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("invite_code", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "jid"),
    )
    op.create_table(
        "sandbox_group_members",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("group_jid", sa.String(length=120), nullable=False),
        sa.Column("jid", sa.String(length=120), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "group_jid", "jid"),
    )
    # Devices linked before 0008 have their group world seeded at their next group call.
    with op.batch_alter_table("sandbox_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("groups_seeded", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sandbox_sessions", schema=None) as batch_op:
        batch_op.drop_column("groups_seeded")
    op.drop_table("sandbox_group_members")
    op.drop_table("sandbox_groups")
