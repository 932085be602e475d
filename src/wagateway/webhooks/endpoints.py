"""An app's webhook endpoints as rows: the `default` endpoint following the app's
`webhook_url`, and what enabling, disabling or deleting one does to its delivery state.

The rules an operator or an app sees (validation, secrets, the API's answers) are in
`apps/endpoints.py`; this module keeps the rows consistent for it and for `apps.service`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import table_of, utcnow
from wagateway.core.deferred_writes import write_deferred
from wagateway.webhooks.event_names import TEST_EVENT
from wagateway.webhooks.models import (
    APP_LEVEL,
    DEFAULT_ENDPOINT,
    Event,
    WebhookEndpoint,
    WebhookRedelivery,
    WebhookStream,
)


def stream_events(
    endpoint: WebhookEndpoint,
    device_key: str,
    after: int,
    *columns: Any,
    up_to: int | None = None,
) -> Select[Any]:
    """`columns` of a stream's events after `after` (its position), through the endpoint's
    filter, in order: what the dispatcher delivers and what a redelivery looks for. Test
    events are never part of a stream: they go to the endpoint they are sent to."""
    device = Event.device_id.is_(None) if device_key == APP_LEVEL else Event.device_id == device_key
    stmt = (
        select(*columns)
        .where(Event.app_id == endpoint.app_id, device, Event.seq > after)
        .where(Event.event != TEST_EVENT)
        .order_by(Event.seq)
    )
    if up_to is not None:
        stmt = stmt.where(Event.seq <= up_to)
    if endpoint.events:
        stmt = stmt.where(Event.event.in_(endpoint.events))
    return stmt


async def newest_seq(session: AsyncSession) -> int:
    """The newest event's `seq` (0 for none): an endpoint created or enabled now gets the
    events after it."""
    await session.run_sync(write_deferred, table_of(Event))
    return int(await session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)


async def endpoints_of(session: AsyncSession, app_id: str) -> list[WebhookEndpoint]:
    """The app's endpoints, `default` first, then oldest first."""
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.app_id == app_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.endpoint_id)
    )
    return sorted(rows, key=lambda e: e.endpoint_id != DEFAULT_ENDPOINT)


async def endpoint_of(
    session: AsyncSession, app_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, (app_id, endpoint_id))


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Add `endpoint`: it starts with the events after the newest one."""
    endpoint.announced_seq = await newest_seq(session)
    endpoint.created_at = endpoint.updated_at = utcnow()
    session.add(endpoint)
    await session.flush()
    return endpoint


async def follow_webhook_url(session: AsyncSession, app_id: str, webhook_url: str) -> None:
    """The endpoint `default` exists exactly while the app has a `webhook_url` (CONTRACT §10):
    setting one creates it, clearing it removes it with what it had still to deliver."""
    current = await endpoint_of(session, app_id, DEFAULT_ENDPOINT)
    if webhook_url and current is None:
        await add_endpoint(session, WebhookEndpoint(app_id=app_id, endpoint_id=DEFAULT_ENDPOINT))
    elif not webhook_url and current is not None:
        await remove_endpoint(session, current)


async def remove_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery state; its attempts stay in the log. (The
    foreign keys cascade too; SQLite enforces them only where the connection says so.)"""
    await drop_delivery_state(session, endpoint)
    await session.delete(endpoint)
    await session.flush()


async def drop_delivery_state(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Forget what the endpoint had still to deliver (it is disabled or deleted)."""
    for model in (WebhookStream, WebhookRedelivery):
        await session.execute(
            delete(model).where(
                model.app_id == endpoint.app_id, model.endpoint_id == endpoint.endpoint_id
            )
        )


async def restart_from_now(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """An endpoint enabled again gets the events from now on, not those of while it was off."""
    await drop_delivery_state(session, endpoint)
    endpoint.announced_seq = await newest_seq(session)
