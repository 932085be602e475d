"""login_failures also counts wrong rotation PINs: a `kind`, and `email` becomes `subject`

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_email_at")
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="password", nullable=False)
        )
        batch_op.alter_column(
            "email",
            new_column_name="subject",
            existing_type=sa.String(length=320),
            existing_nullable=False,
        )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_failures_kind_subject_at", ["kind", "subject", "at"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM login_failures WHERE kind <> 'password'")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_kind_subject_at")
        batch_op.alter_column(
            "subject",
            new_column_name="email",
            existing_type=sa.String(length=320),
            existing_nullable=False,
        )
        batch_op.drop_column("kind")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_email_at", ["email", "at"], unique=False)
