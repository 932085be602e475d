"""The one transaction rule: an action of the dashboard or the CLI commits together with its
audit entry, in the service's own single transaction, or not at all. Run in process against
a real migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from wagateway.apps import service as apps
from wagateway.apps.limits import LimitsOverride
from wagateway.audit import service as audit
from wagateway.audit.models import AuditEntry
from wagateway.audit.service import Actor
from wagateway.core.db import Database, new_id
from wagateway.core.secrets import SecretBox
from wagateway.core.settings import Settings
from wagateway.devices.account import AccountActions
from wagateway.devices.models import Device
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Connection, Status
from wagateway.operators import service as operators
from wagateway.operators.models import Operator, OperatorSession, ProjectMember
from wagateway.webhooks import service as deliveries
from wagateway.webhooks.models import DEFAULT_ENDPOINT, Event, WebhookFailure

OPERATOR = Actor("operator", "ops@example.com", None, "10.0.0.9")
PASSWORD = "correct horse battery"


class AuditDown(Exception):
    """What the audit log raises in these tests, once the action has made its change."""


class _Engine:
    async def logout(self, device_id: str) -> None:
        return None

    async def close(self, device_id: str) -> None:
        return None

    async def closes_recorded(self, timeout: float) -> None:
        return None

    async def reconnect(self, device_id: str) -> None:
        return None


class _Runtime:
    """The device runtime as far as disconnect and delete reach it, after their transaction:
    an engine that ends the session without a word."""

    def engine_for(self, engine: str) -> _Engine:
        return _Engine()

    async def push_presence_mode(self, device_id: str) -> None:
        """A changed presence_mode reaches a connected device's engine: none is connected."""


@dataclass
class World:
    db: Database
    box: SecretBox
    settings: Settings
    devices: DeviceService
    app_id: str
    device_id: str
    request_id: str


async def _world(url: str) -> World:
    db, settings, box = Database(url), Settings(), SecretBox(b"k" * 32)
    async with db.transaction() as session:
        created = await apps.create_app(session, box, "audited", webhook_url="https://a.example/h")
        device = Device(
            app_id=created.app.id,
            name="phone",
            engine="sandbox",
            status=Status.CONNECTED,
            connection=Connection.ONLINE,
            session_epoch=1,
            wa_number="6281234567890",
        )
        session.add(device)
        await session.flush()
        event = Event(
            id=new_id(),
            app_id=created.app.id,
            device_id=device.id,
            event="message",
            payload={},
        )
        session.add(event)
        await session.flush()
        session.add(
            WebhookFailure(
                app_id=created.app.id,
                endpoint_id=DEFAULT_ENDPOINT,
                event_seq=event.seq,
                device_id=device.id,
            )
        )
        await operators.create_operator(session, settings, OPERATOR.name, PASSWORD, is_admin=True)
    devices = DeviceService(db, _Runtime(), qr_wait_timeout=1.0, name_max=100)  # type: ignore[arg-type]
    return World(db, box, settings, devices, created.app.id, device.id, event.id)


async def _read(db: Database, stmt: Any) -> Any:
    async with db.read() as session:
        return await session.scalar(stmt)


async def _admin(w: World) -> Operator:
    return await _read(w.db, select(Operator).where(Operator.email == OPERATOR.name))


async def _count(w: World, model: Any) -> int:
    return int(await _read(w.db, select(func.count()).select_from(model)))


async def _app_column(w: World, name: str) -> Any:
    async with w.db.read() as session:
        return getattr(await apps.get_app(session, w.app_id), name)


async def _device_status(w: World) -> str:
    return (await w.devices.get(w.app_id, w.device_id, allow_destroyed=True)).status


async def _device_connection(w: World) -> str:
    return (await w.devices.get(w.app_id, w.device_id)).connection


async def _device_policies(w: World) -> tuple[Any, Any]:
    device = await w.devices.get(w.app_id, w.device_id)
    return device.call_policy, device.presence_mode


async def _event_state(w: World) -> str:
    return (await deliveries.delivery(w.db, w.app_id, w.request_id)).state


async def _create_project(w: World) -> object:
    return await operators.create_project(
        w.db, w.box, OPERATOR, await _admin(w), "new one", "sandbox"
    )


# (audit action, the action, what it changes as stored)
CASES: list[tuple[str, Callable[[World], Awaitable[object]], Callable[[World], Awaitable[Any]]]] = [
    (
        "project.create",
        _create_project,
        lambda w: _count(w, ProjectMember),
    ),
    (
        "project.settings",
        lambda w: apps.change_app(w.db, OPERATOR, w.app_id, webhook_url="https://example.com/h"),
        lambda w: _app_column(w, "webhook_url"),
    ),
    (
        "project.rotation_policy",
        lambda w: apps.set_rotation_policy_as(w.db, OPERATOR, w.app_id, enabled=False),
        lambda w: _app_column(w, "rotation_enabled"),
    ),
    (
        "app.set_limits",
        lambda w: apps.set_limits_as(
            w.db,
            w.settings,
            OPERATOR,
            w.app_id,
            LimitsOverride(requests_per_second=5),
            None,
            False,
        ),
        lambda w: _app_column(w, "limits"),
    ),
    (
        "webhook_secret.rotate",
        lambda w: apps.rotate_webhook_secret_as(w.db, w.box, OPERATOR, w.app_id, 3600),
        lambda w: _app_column(w, "webhook_secret_enc"),
    ),
    (
        "operator.create",
        lambda w: operators.create_operator_as(
            w.db, w.settings, OPERATOR, "new@example.com", PASSWORD, is_admin=False
        ),
        lambda w: _count(w, Operator),
    ),
    (
        "login",
        lambda w: operators.log_in(w.db, w.settings, OPERATOR.name, PASSWORD, "10.0.0.9"),
        lambda w: _count(w, OperatorSession),
    ),
    (
        "webhook.redeliver",
        lambda w: deliveries.redeliver_as(w.db, OPERATOR, w.app_id, w.request_id),
        _event_state,
    ),
    (
        "webhook.test",
        lambda w: deliveries.send_test_event_as(w.db, OPERATOR, w.app_id),
        lambda w: _count(w, Event),
    ),
    (
        "device.settings",
        lambda w: w.devices.update(
            w.app_id,
            w.device_id,
            call_policy={"reject": True, "reply_text": "Maaf"},
            presence_mode="always_online",
            actor=OPERATOR,
        ),
        lambda w: _device_policies(w),
    ),
    (
        "device.restart",
        lambda w: AccountActions(w.db, _Runtime()).restart(  # type: ignore[arg-type]
            w.app_id, w.device_id, actor=OPERATOR
        ),
        _device_connection,
    ),
    (
        "device.disconnect",
        lambda w: w.devices.disconnect(w.app_id, w.device_id, actor=OPERATOR),
        _device_status,
    ),
    (
        "device.delete",
        lambda w: w.devices.delete(w.app_id, w.device_id, actor=OPERATOR, confirm_name="phone"),
        _device_status,
    ),
]


def _counting_transactions(monkeypatch: pytest.MonkeyPatch, db: Database) -> list[int]:
    """How many transactions `db` opens from now on."""
    opened: list[int] = []
    original = db.transaction

    @asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        opened.append(1)
        async with original() as session:
            yield session

    monkeypatch.setattr(db, "transaction", counted)
    return opened


def test_an_action_and_its_audit_entry_commit_together_or_not_at_all(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each action twice on one database: with the audit log failing once the change is
    made, nothing of it is stored; then, working, the change and its one entry are stored
    by a single transaction."""

    def audit_down(*args: Any, **kwargs: Any) -> None:
        raise AuditDown

    async def scenario() -> None:
        w = await _world(migrated_db_url)
        try:
            for action, act, observe in CASES:
                before, entries = await observe(w), await _audit_rows(w.db)
                with monkeypatch.context() as patched:
                    patched.setattr(audit, "record", audit_down)
                    with pytest.raises(AuditDown):
                        await act(w)
                assert await observe(w) == before, f"{action}: stored without its entry"
                assert await _audit_rows(w.db) == entries, action

                with monkeypatch.context() as patched:
                    opened = _counting_transactions(patched, w.db)
                    await act(w)
                assert len(opened) == 1, f"{action}: {len(opened)} transactions"
                assert await observe(w) != before, f"{action}: not stored"
                assert await _audit_rows(w.db) == [*entries, action]
        finally:
            await w.db.dispose()

    asyncio.run(scenario())


async def _audit_rows(db: Database) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))
        return list(rows.scalars())
