"""several webhook endpoints per app (CONTRACT §10): delivery state moves off the event row
into one position per endpoint and device (webhook_streams)

The app's webhook_url becomes the endpoint "default": its streams start where each device's
oldest pending event was, with that event's retry schedule, so nothing waiting is lost;
failed events are recorded as failed on it, and the attempt log names it. The events' own
delivery columns are kept, frozen, for a downgrade.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wagateway.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = wagateway.core.db.UtcDateTime(timezone=True)
ENDPOINT_KEY = sa.ForeignKeyConstraint(
    ["app_id", "endpoint_id"],
    ["webhook_endpoints.app_id", "webhook_endpoints.endpoint_id"],
    ondelete="CASCADE",
)
FROZEN = (
    ("state", sa.String(length=20)),
    ("attempt_count", sa.Integer()),
    ("next_attempt_at", WHEN),
)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("device_ids", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_enc", sa.String(length=500), nullable=True),
        sa.Column("secret_prev_enc", sa.String(length=500), nullable=True),
        sa.Column("secret_prev_until", WHEN, nullable=True),
        sa.Column("announced_seq", SEQ, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "endpoint_id"),
    )
    op.create_table(
        "webhook_streams",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("device_key", sa.String(length=36), nullable=False),
        sa.Column("position", SEQ, nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", WHEN, nullable=True),
        ENDPOINT_KEY,
        sa.PrimaryKeyConstraint("app_id", "endpoint_id", "device_key"),
    )
    op.create_index("ix_webhook_streams_due", "webhook_streams", ["active", "next_attempt_at"])
    op.create_table(
        "webhook_redeliveries",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", WHEN, nullable=True),
        sa.Column("requested_at", WHEN, nullable=False),
        ENDPOINT_KEY,
        sa.ForeignKeyConstraint(["event_seq"], ["events.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "endpoint_id", "event_seq"),
    )
    op.create_index("ix_webhook_redeliveries_due", "webhook_redeliveries", ["next_attempt_at"])
    op.create_table(
        "webhook_failures",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("failed_at", WHEN, nullable=False),
        ENDPOINT_KEY,
        sa.ForeignKeyConstraint(["event_seq"], ["events.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "endpoint_id", "event_seq"),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("endpoint_id", sa.String(length=36), server_default="default", nullable=False)
        )

    # The app's webhook_url is the endpoint "default"; it has seen every event so far.
    op.execute(
        """
        INSERT INTO webhook_endpoints (app_id, endpoint_id, url, description, events,
            device_ids, enabled, secret_enc, secret_prev_enc, secret_prev_until,
            announced_seq, created_at, updated_at)
        SELECT id, 'default', NULL, '', '[]', '[]', true, NULL, NULL, NULL,
            (SELECT coalesce(max(seq), 0) FROM events), created_at, created_at
        FROM apps WHERE webhook_url != ''
        """
    )
    # A device with pending events goes on from its oldest one (the head), as it was due.
    op.execute(
        """
        INSERT INTO webhook_streams (app_id, endpoint_id, device_key, position,
            attempt_count, next_attempt_at, active, claimed_by, claimed_until)
        SELECT h.app_id, 'default', coalesce(h.device_id, ''), h.seq - 1, h.attempt_count,
            h.next_attempt_at, true, NULL, NULL
        FROM events h
        JOIN webhook_endpoints w ON w.app_id = h.app_id AND w.endpoint_id = 'default'
        WHERE h.state = 'pending' AND h.seq = (
            SELECT min(o.seq) FROM events o WHERE o.state = 'pending'
            AND o.app_id = h.app_id
            AND (o.device_id = h.device_id OR (o.device_id IS NULL AND h.device_id IS NULL)))
        """
    )
    op.execute(
        """
        INSERT INTO webhook_failures (app_id, endpoint_id, event_seq, device_id, failed_at)
        SELECT e.app_id, 'default', e.seq, e.device_id, e.next_attempt_at
        FROM events e
        JOIN webhook_endpoints w ON w.app_id = e.app_id AND w.endpoint_id = 'default'
        WHERE e.state = 'failed'
        """
    )
    # The events' delivery columns: written no more, kept as they were.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_pending")
        for name, type_ in FROZEN:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        batch_op.create_index("ix_events_device_seq", ["app_id", "device_id", "seq"])


def downgrade() -> None:
    # Events written since: a state from what became of them on the endpoint "default".
    op.execute(
        """
        UPDATE events SET
            attempt_count = (SELECT count(*) FROM webhook_attempts a
                WHERE a.event_seq = events.seq AND a.endpoint_id = 'default'),
            next_attempt_at = occurred_at,
            state = CASE
                WHEN EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.event_seq = events.seq
                    AND a.endpoint_id = 'default' AND a.succeeded) THEN 'delivered'
                WHEN EXISTS (SELECT 1 FROM webhook_failures f WHERE f.event_seq = events.seq
                    AND f.endpoint_id = 'default') THEN 'failed'
                WHEN EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.app_id = events.app_id
                    AND w.endpoint_id = 'default' AND events.seq > coalesce(
                        (SELECT s.position FROM webhook_streams s WHERE s.app_id = events.app_id
                            AND s.endpoint_id = 'default'
                            AND s.device_key = coalesce(events.device_id, '')),
                        w.announced_seq)) THEN 'pending'
                ELSE 'skipped'
            END
        WHERE state IS NULL
        """
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_device_seq")
        for name, type_ in FROZEN:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_index("ix_events_pending", ["state", "device_id", "seq"], unique=False)
    op.execute("DELETE FROM webhook_attempts WHERE endpoint_id != 'default'")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_column("endpoint_id")
    op.drop_table("webhook_failures")
    op.drop_index("ix_webhook_redeliveries_due", table_name="webhook_redeliveries")
    op.drop_table("webhook_redeliveries")
    op.drop_index("ix_webhook_streams_due", table_name="webhook_streams")
    op.drop_table("webhook_streams")
    op.drop_table("webhook_endpoints")
