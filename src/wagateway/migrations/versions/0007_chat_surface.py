"""the chat surface: where a message came from (`source`), and the call and presence
policies of apps and devices

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Before 0007 every outbound message went through the API and every inbound one came
    # from a contact: that is what the existing rows become.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=10), server_default="api", nullable=False)
        )
    op.execute("UPDATE messages SET source = 'contact' WHERE direction = 'inbound'")
    for table in ("apps", "devices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("call_policy", sa.JSON(), nullable=True))
            batch_op.add_column(sa.Column("presence_mode", sa.String(length=20), nullable=True))


def downgrade() -> None:
    for table in ("apps", "devices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("presence_mode")
            batch_op.drop_column("call_policy")
    # Messages the account sent from its phone, or the gateway sent by itself, were not
    # known before 0007; they stay, as outbound messages.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("source")
