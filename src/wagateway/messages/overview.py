"""The overview's figures per project: devices by status, messages sent and failed over the
last 24 hours (by hour, for the chart), webhook success rate, and queue depth. Counted in
the database with GROUP BY, so the page costs the same at ten messages or ten million."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, utc_hour_of, utcnow
from wagateway.devices.models import Device
from wagateway.devices.state import Status
from wagateway.messages.models import Message
from wagateway.messages.states import PENDING, MessageStatus
from wagateway.webhooks.models import Event, WebhookAttempt, WebhookFailure

HOURS = 24


@dataclass
class Overview:
    devices: dict[str, int] = field(default_factory=dict)
    sent_24h: int = 0
    failed_24h: int = 0
    # Oldest hour first: (hour label "HH", sent, failed).
    hourly: list[tuple[str, int, int]] = field(default_factory=list)
    webhooks_delivered_24h: int = 0
    webhooks_failed_24h: int = 0
    queue_depth: int = 0

    @property
    def webhook_success_rate(self) -> float | None:
        done = self.webhooks_delivered_24h + self.webhooks_failed_24h
        return self.webhooks_delivered_24h / done if done else None

    @property
    def device_total(self) -> int:
        return sum(self.devices.values())


def _hour_labels(now: datetime) -> list[str]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    return [(start + timedelta(hours=i)).strftime("%Y-%m-%d %H") for i in range(HOURS)]


async def project_overviews(
    db: Database, app_ids: list[str], now: datetime | None = None
) -> dict[str, Overview]:
    async with db.read() as session:
        return await _overviews(session, db.dialect, app_ids, now or utcnow())


async def _overviews(
    session: AsyncSession, dialect: str, app_ids: list[str], now: datetime
) -> dict[str, Overview]:
    since = now - timedelta(hours=HOURS)
    overviews = {app_id: Overview() for app_id in app_ids}
    if not app_ids:
        return overviews

    devices = select(Device.app_id, Device.status, func.count()).where(
        Device.app_id.in_(app_ids), Device.status != Status.DESTROYED
    )
    for app_id, status, count in await session.execute(
        devices.group_by(Device.app_id, Device.status)
    ):
        overviews[app_id].devices[status] = count

    hourly: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    sent_hour = utc_hour_of(Message.sent_at, dialect)
    sent = (
        select(Message.app_id, sent_hour, func.count())
        .where(
            Message.app_id.in_(app_ids),
            Message.direction == "outbound",
            Message.sent_at >= since,
        )
        .group_by(Message.app_id, sent_hour)
    )
    for app_id, hour, count in await session.execute(sent):
        hourly[app_id][hour][0] += count
    failed_hour = utc_hour_of(Message.updated_at, dialect)
    failed = (
        select(Message.app_id, failed_hour, func.count())
        .where(
            Message.app_id.in_(app_ids),
            Message.direction == "outbound",
            Message.status == MessageStatus.FAILED,
            Message.updated_at >= since,
        )
        .group_by(Message.app_id, failed_hour)
    )
    for app_id, hour, count in await session.execute(failed):
        hourly[app_id][hour][1] += count
    labels = _hour_labels(now)
    for app_id, overview in overviews.items():
        by_hour = hourly.get(app_id, {})
        counts = [by_hour.get(label, [0, 0]) for label in labels]
        overview.hourly = [
            (label[-2:], sent, failed) for label, (sent, failed) in zip(labels, counts, strict=True)
        ]
        overview.sent_24h = sum(by_hour[h][0] for h in by_hour)
        overview.failed_24h = sum(by_hour[h][1] for h in by_hour)

    delivered = (
        select(Event.app_id, func.count(func.distinct(WebhookAttempt.event_seq)))
        .join(Event, Event.seq == WebhookAttempt.event_seq)
        .where(
            Event.app_id.in_(app_ids),
            WebhookAttempt.started_at >= since,
            WebhookAttempt.succeeded.is_(True),
        )
        .group_by(Event.app_id)
    )
    for app_id, count in await session.execute(delivered):
        overviews[app_id].webhooks_delivered_24h = count
    failed_hooks = (
        select(WebhookFailure.app_id, func.count())
        .where(WebhookFailure.app_id.in_(app_ids), WebhookFailure.failed_at >= since)
        .group_by(WebhookFailure.app_id)
    )
    for app_id, count in await session.execute(failed_hooks):
        overviews[app_id].webhooks_failed_24h = count

    queue = (
        select(Message.app_id, func.count())
        .where(Message.app_id.in_(app_ids), Message.status.in_(PENDING))
        .group_by(Message.app_id)
    )
    for app_id, count in await session.execute(queue):
        overviews[app_id].queue_depth = count
    return overviews
