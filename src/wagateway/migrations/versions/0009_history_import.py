"""history import: a device's `history_sync` choice and count, and an index on its chats

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Devices linked before 0009 imported no history; they keep not importing it.
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("history_sync", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("history_imported", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.create_index("ix_messages_device_chat", "messages", ["device_id", "chat", "seq"])


def downgrade() -> None:
    op.drop_index("ix_messages_device_chat", table_name="messages")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("history_imported")
        batch_op.drop_column("history_sync")
