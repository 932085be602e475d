"""Events written straight into the outbox, as the hot path writes them (Core, no delivery
row), for tests of the queries that read them."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from wagateway.core.db import table_of, utcnow
from wagateway.webhooks.models import Event


def insert_events(
    session: Session, devices: list[str | None], name: str = "message", app_id: str = "app"
) -> list[int]:
    """One event per entry of `devices` (None: an event of no device), in order; their
    seqs."""
    now = utcnow()
    first = len(list(session.execute(select(Event.seq)).scalars()))
    rows = [
        {
            "id": f"evt-{app_id}-{first + index}",
            "app_id": app_id,
            "device_id": device,
            "event": name,
            "payload": {"n": first + index},
            "occurred_at": now,
            "archived": False,
        }
        for index, device in enumerate(devices)
    ]
    session.execute(insert(table_of(Event)), rows)
    return list(
        session.execute(
            select(Event.seq).where(Event.id.in_([r["id"] for r in rows])).order_by(Event.seq)
        ).scalars()
    )
