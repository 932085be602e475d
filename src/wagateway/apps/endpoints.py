"""An app's webhook endpoints (CONTRACT §10), for the API and the dashboard: each opens its
own transaction; an operator's action (`actor`) writes its audit entry in it, an app acting
with its own token (None) none.

The endpoint `default` is the app's `webhook_url` and secret: changing its URL changes the
app's, deleting it clears it, rotating its secret rotates the app's. Every other endpoint
has a URL and a secret of its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps import service as apps
from wagateway.apps.models import App
from wagateway.audit import service as audit
from wagateway.audit.service import Actor
from wagateway.core.db import Database, new_id, utcnow
from wagateway.core.errors import not_found, validation_error
from wagateway.core.secrets import SecretBox, new_webhook_secret
from wagateway.webhooks import endpoints as rows
from wagateway.webhooks.event_names import EVENT_NAMES
from wagateway.webhooks.models import DEFAULT_ENDPOINT, WebhookEndpoint
from wagateway.webhooks.targets import validate_webhook_target

MAX_ENDPOINTS = 20
MAX_FILTER_ITEMS = 100


@dataclass
class EndpointView:
    endpoint_id: str
    url: str
    description: str
    events: list[str]
    device_ids: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_valid_until: datetime | None

    @classmethod
    def of(cls, app: App, endpoint: WebhookEndpoint, now: datetime | None = None) -> EndpointView:
        now = now or utcnow()
        default = endpoint.endpoint_id == DEFAULT_ENDPOINT
        until = app.webhook_secret_prev_until if default else endpoint.secret_prev_until
        return cls(
            endpoint_id=endpoint.endpoint_id,
            url=app.webhook_url if default else endpoint.url or "",
            description=endpoint.description,
            events=list(endpoint.events),
            device_ids=list(endpoint.device_ids),
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
            previous_secret_valid_until=until if until and until > now else None,
        )


@dataclass
class EndpointChanges:
    """What a create or an update sets (None: left as it is)."""

    url: str | None = None
    description: str | None = None
    events: list[str] | None = None
    device_ids: list[str] | None = None
    enabled: bool | None = None


def _events(names: list[str]) -> list[str]:
    if len(names) > MAX_FILTER_ITEMS:
        raise validation_error(f"events names at most {MAX_FILTER_ITEMS} events", "events")
    unknown = sorted({n for n in names if n not in EVENT_NAMES})
    if unknown:
        raise validation_error(
            f"unknown event name(s): {', '.join(unknown)[:200]}; see GET /openapi.json or "
            "the contract for the names",
            "events",
        )
    return sorted(set(names))


def _device_ids(ids: list[str], app_devices: Collection[str]) -> list[str]:
    if len(ids) > MAX_FILTER_ITEMS:
        raise validation_error(f"device_ids names at most {MAX_FILTER_ITEMS} devices", "device_ids")
    unknown = [i for i in ids if i not in app_devices]
    if unknown:
        raise validation_error(
            f"device_ids names a device this app does not have: {unknown[0][:40]}", "device_ids"
        )
    return sorted(set(ids))


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > 200:
        raise validation_error("description is longer than 200 characters", "description")
    return text


def _url(value: str) -> str:
    url = validate_webhook_target(value, "url")
    if not url:
        raise validation_error("url is required: an http(s) URL or a /path", "url")
    return url


async def list_endpoints(db: Database, app_id: str) -> list[EndpointView]:
    async with db.read() as session:
        app = await apps.get_app(session, app_id)
        now = utcnow()
        return [EndpointView.of(app, e, now) for e in await rows.endpoints_of(session, app_id)]


async def get_endpoint(db: Database, app_id: str, endpoint_id: str) -> EndpointView:
    async with db.read() as session:
        app = await apps.get_app(session, app_id)
        return EndpointView.of(app, await _found(session, app_id, endpoint_id))


async def _found(session: AsyncSession, app_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await rows.endpoint_of(session, app_id, endpoint_id)
    if endpoint is None:
        raise not_found("endpoint")
    return endpoint


async def create_endpoint(
    db: Database,
    box: SecretBox,
    actor: Actor | None,
    app_id: str,
    changes: EndpointChanges,
    app_devices: Collection[str],
) -> tuple[EndpointView, str]:
    """A new endpoint and its secret (shown this once; rotate it to get a new one)."""
    endpoint = WebhookEndpoint(
        app_id=app_id,
        endpoint_id=new_id(),
        url=_url(changes.url or ""),
        description=_description(changes.description or ""),
        events=_events(changes.events or []),
        device_ids=_device_ids(changes.device_ids or [], app_devices),
        enabled=True if changes.enabled is None else changes.enabled,
    )
    secret = new_webhook_secret()
    endpoint.secret_enc = box.encrypt(secret)
    async with db.transaction() as session:
        app = await apps.get_app(session, app_id)
        if len(await rows.endpoints_of(session, app_id)) >= MAX_ENDPOINTS:
            raise validation_error(
                f"an app has at most {MAX_ENDPOINTS} webhook endpoints; delete one first", "url"
            )
        await rows.add_endpoint(session, endpoint)
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook_endpoint.create",
                app_id=app_id,
                detail={"endpoint_id": endpoint.endpoint_id, "url": endpoint.url},
            )
        return EndpointView.of(app, endpoint), secret


async def update_endpoint(
    db: Database,
    actor: Actor | None,
    app_id: str,
    endpoint_id: str,
    changes: EndpointChanges,
    app_devices: Collection[str],
) -> EndpointView:
    async with db.transaction() as session:
        app = await apps.get_app(session, app_id)
        endpoint = await _found(session, app_id, endpoint_id)
        if changes.url is not None:
            url = _url(changes.url)
            if endpoint_id == DEFAULT_ENDPOINT:
                await apps.update_app(session, app, webhook_url=url)
            else:
                endpoint.url = url
        if changes.description is not None:
            endpoint.description = _description(changes.description)
        if changes.events is not None:
            endpoint.events = _events(changes.events)
        if changes.device_ids is not None:
            endpoint.device_ids = _device_ids(changes.device_ids, app_devices)
        if changes.enabled is not None and changes.enabled != endpoint.enabled:
            endpoint.enabled = changes.enabled
            if changes.enabled:
                await rows.restart_from_now(session, endpoint)
            else:
                await rows.drop_delivery_state(session, endpoint)
        endpoint.updated_at = utcnow()
        await session.flush()
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook_endpoint.update",
                app_id=app_id,
                detail={"endpoint_id": endpoint_id}
                | {k: v for k, v in vars(changes).items() if v is not None},
            )
        return EndpointView.of(app, endpoint)


async def delete_endpoint(db: Database, actor: Actor | None, app_id: str, endpoint_id: str) -> None:
    """Delete an endpoint and what it had still to deliver; its attempts stay in the log.
    Deleting `default` clears the app's webhook_url."""
    async with db.transaction() as session:
        app = await apps.get_app(session, app_id)
        endpoint = await _found(session, app_id, endpoint_id)
        if endpoint_id == DEFAULT_ENDPOINT:
            await apps.update_app(session, app, webhook_url="")
        else:
            await rows.remove_endpoint(session, endpoint)
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook_endpoint.delete",
                app_id=app_id,
                detail={"endpoint_id": endpoint_id},
            )


async def rotate_endpoint_secret(
    db: Database,
    box: SecretBox,
    actor: Actor | None,
    app_id: str,
    endpoint_id: str,
    grace_seconds: int = apps.WEBHOOK_SECRET_GRACE_SECONDS,
) -> tuple[str, datetime | None]:
    """A new secret for the endpoint; the previous one signs too for `grace_seconds` (both
    signatures are sent meanwhile). `default`: the app's webhook secret."""
    async with db.transaction() as session:
        endpoint = await _found(session, app_id, endpoint_id)
        if endpoint_id == DEFAULT_ENDPOINT:
            secret = await apps.rotate_webhook_secret(session, box, app_id, grace_seconds)
            until = (await apps.get_app(session, app_id)).webhook_secret_prev_until
        else:
            secret = new_webhook_secret()
            until = utcnow() + timedelta(seconds=grace_seconds) if grace_seconds else None
            endpoint.secret_prev_enc = endpoint.secret_enc if grace_seconds else None
            endpoint.secret_prev_until = until
            endpoint.secret_enc = box.encrypt(secret)
            endpoint.updated_at = utcnow()
            await session.flush()
        if actor is not None:
            audit.record(
                session,
                actor,
                "webhook_endpoint.rotate_secret",
                app_id=app_id,
                detail={"endpoint_id": endpoint_id, "grace_hours": grace_seconds / 3600},
            )
        return secret, until
