"""An app's webhook endpoints as rows: the `default` endpoint following the app's
`webhook_url`, and what enabling, disabling or deleting one does to its delivery state.

The rules an operator or an app sees (validation, secrets, the API's answers) are in
`apps/endpoints.py`; this module keeps the rows consistent for it and for `apps.service`.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import table_of, utcnow
from wagateway.core.deferred_writes import write_deferred
from wagateway.webhooks.models import (
    DEFAULT_ENDPOINT,
    Event,
    WebhookEndpoint,
    WebhookRedelivery,
    WebhookStream,
)


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
