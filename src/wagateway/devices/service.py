"""Device lifecycle rules (CONTRACT §2). Routes, the CLI and the dashboard all come here.

Engines are only ever called outside a database transaction: an engine call may wait on
the network, and its events come back through the runtime in transactions of their own.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps import service as apps
from wagateway.apps.limits import too_many_devices
from wagateway.apps.models import App
from wagateway.apps.service import KEEP, Keep
from wagateway.audit import service as audit
from wagateway.audit.service import Actor
from wagateway.core.addresses import normalise_phone
from wagateway.core.db import Database, lock_rows, locks_rows, utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.devices import events
from wagateway.devices.models import Device
from wagateway.devices.policies import CallPolicy, validated_presence_mode
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.sink import DeletionHook
from wagateway.devices.state import Connection, Status, check_transition
from wagateway.engines.base import EngineError
from wagateway.media.store import MediaStore
from wagateway.webhooks.models import Event

log = structlog.get_logger(__name__)


def device_destroyed_error() -> ApiError:
    return ApiError(410, "device_destroyed", "this device was deleted; create a new one")


def qr_reset_conflict(device: Device) -> ApiError:
    if device.status == Status.CONNECTED:
        reason = "the device is connected: disconnect it first"
    else:
        reason = "the current QR is still valid: wait until it expires or disconnect first"
    return ApiError(409, "qr_reset_not_allowed", reason, {"status": device.status})


class DeviceService:
    def __init__(
        self,
        db: Database,
        runtime: SessionRuntime,
        qr_wait_timeout: float,
        name_max: int,
        media: MediaStore | None = None,
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._qr_wait_timeout = qr_wait_timeout
        self._name_max = name_max
        self._media = media
        self._deletion_hooks: list[DeletionHook] = []

    def add_deletion_hook(self, hook: DeletionHook) -> None:
        """`hook` runs in every device deletion's transaction (`devices/sink.py`)."""
        self._deletion_hooks.append(hook)

    # --- reads ------------------------------------------------------------------------------

    @staticmethod
    async def load(
        session: AsyncSession,
        app_id: str,
        device_id: str,
        *,
        for_update: bool = False,
        allow_destroyed: bool = False,
    ) -> Device:
        """The app's device, or 404 (unknown or another app's) / 410 (destroyed)."""
        # By primary key: within one session (a group commit) a device is read only once.
        device = await session.get(
            Device, device_id, with_for_update=for_update and locks_rows(session)
        )
        if device is None or device.app_id != app_id:
            raise not_found("device")
        if device.status == Status.DESTROYED and not allow_destroyed:
            raise device_destroyed_error()
        return device

    async def get(self, app_id: str, device_id: str, *, allow_destroyed: bool = False) -> Device:
        return await stored_device(self._db, app_id, device_id, allow_destroyed=allow_destroyed)

    async def showing(
        self, *, qr: str | None = None, pairing_code: str | None = None
    ) -> str | None:
        """The pairing device that shows this QR or pairing code now, whichever node opened
        its window (the codes are stored with the device)."""
        stmt = select(Device.id, Device.qr, Device.pairing_code).where(
            Device.status == Status.QR_GENERATED
        )
        stmt = (
            stmt.where(Device.qr == qr)
            if qr is not None
            else stmt.where(Device.pairing_code.is_not(None))
        )
        wanted = _plain_code(pairing_code) if pairing_code is not None else None
        async with self._db.read() as session:
            for device_id, _, code in await session.execute(stmt):
                if wanted is None or _plain_code(code or "") == wanted:
                    return str(device_id)
        return None

    async def list(self, app_id: str, include_destroyed: bool = False) -> list[Device]:
        stmt = select(Device).where(Device.app_id == app_id).order_by(Device.created_at, Device.id)
        if not include_destroyed:
            stmt = stmt.where(Device.status != Status.DESTROYED)
        async with self._db.read() as session:
            return list((await session.execute(stmt)).scalars())

    # --- create / pairing --------------------------------------------------------------------

    def _validate_name(self, name: str) -> str:
        name = (name or "").strip()
        if not name:
            raise validation_error("device_name is required", "device_name")
        if len(name) > self._name_max:
            raise validation_error(
                f"device_name is longer than {self._name_max} characters", "device_name"
            )
        if any(ord(ch) < 32 for ch in name):
            raise validation_error("device_name must not contain control characters", "device_name")
        return name

    async def update(
        self,
        app_id: str,
        device_id: str,
        device_name: str | None = None,
        pacing: dict[str, Any] | None = None,
        *,
        call_policy: dict[str, Any] | None | Keep = KEEP,
        presence_mode: str | None | Keep = KEEP,
        history_sync: bool | None = None,
        actor: Actor | None = None,
    ) -> Device:
        """Rename, change pacing, or set the device's own call policy / presence mode (None
        clears them: the app's apply; checked by `devices/policies.py`), or whether its next
        link imports history. An operator's change (`actor`) is audited in the same
        transaction."""
        name = self._validate_name(device_name) if device_name is not None else None
        if presence_mode is not KEEP:
            presence_mode = validated_presence_mode(presence_mode)
        history_changed = False
        try:
            async with self._db.transaction() as session:
                device = await self.load(session, app_id, device_id, for_update=True)
                if name is not None and name != device.name:
                    await self._ensure_name_free(session, app_id, name)
                    device.name = name
                if pacing is not None:
                    device.pacing = {**(device.pacing or {}), **pacing}
                if call_policy is not KEEP:
                    device.call_policy = call_policy
                if presence_mode is not KEEP:
                    device.presence_mode = presence_mode
                if history_sync is not None and history_sync != device.history_sync:
                    device.history_sync = history_sync
                    history_changed = True
                device.updated_at = utcnow()
                if actor is not None:
                    _record(
                        session,
                        actor,
                        "device.settings",
                        device,
                        call_policy=device.call_policy,
                        presence_mode=device.presence_mode,
                    )
        except IntegrityError as exc:
            raise self._name_conflict(name or "") from exc
        if presence_mode is not KEEP:
            await self._runtime.push_presence_mode(device.id)  # at once, not at the next connect
        if history_changed:
            await self._runtime.push_history_limit(device.id)  # the open window's link
        return device

    async def app_presence_mode_changed(self, app_id: str) -> None:
        """The app's presence_mode changed: its connected devices apply what now holds for
        them (a device's own mode still wins) at once, not at their next connection."""
        async with self._db.read() as session:
            device_ids = (
                await session.scalars(
                    select(Device.id).where(
                        Device.app_id == app_id, Device.status == Status.CONNECTED
                    )
                )
            ).all()
        for device_id in device_ids:
            await self._runtime.push_presence_mode(device_id)

    async def create(
        self,
        app_id: str,
        engine: str,
        device_name: str,
        pacing: dict[str, Any] | None = None,
        quota: int | None = None,
        *,
        history_sync: bool = False,
        actor: Actor | None = None,
    ) -> Device:
        """Create a device and open its first pairing window (201 with the first QR); 409
        `too_many_devices` when the app already has `quota` devices that are not destroyed.
        An operator's or the CLI's action (`actor`) is audited in the creating transaction."""
        name = self._validate_name(device_name)
        try:
            async with self._db.transaction() as session:
                await self._ensure_app_not_archived(session, app_id)
                if quota is not None:
                    await self._ensure_below_quota(session, app_id, quota)
                await self._ensure_name_free(session, app_id, name)
                device = Device(
                    app_id=app_id,
                    name=name,
                    engine=engine,
                    status=Status.QR_GENERATED,
                    connection=Connection.OFFLINE,
                    session_epoch=1,
                    pacing=pacing or None,
                    history_sync=history_sync,
                )
                session.add(device)
                await session.flush()  # the device's id
                token = await self._runtime.own_for_session(session, device.id)
                if actor is not None:
                    _record(session, actor, "device.create", device, name=device.name)
        except IntegrityError as exc:  # a concurrent create won the race for the name
            raise self._name_conflict(name) from exc
        self._runtime.hold(device.id, token)
        return await self._pair(device)

    @staticmethod
    async def _ensure_app_not_archived(session: AsyncSession, app_id: str) -> None:
        # The app's row locked (PostgreSQL; SQLite's writes already take turns), as its
        # archiving locks it (`archive_app`): a create that passed its token check just before
        # the archive committed finds the app gone (404) instead of leaving a live device.
        stmt = lock_rows(select(App.archived_at).where(App.id == app_id), session)
        row = (await session.execute(stmt)).first()
        if row is None or row[0] is not None:
            raise not_found("app")

    @staticmethod
    async def _ensure_below_quota(session: AsyncSession, app_id: str, quota: int) -> None:
        # Creates of one app take turns on its row (PostgreSQL; SQLite's writes already do),
        # so two at once cannot both see room for one more.
        await session.execute(lock_rows(select(App.id).where(App.id == app_id), session))
        live = await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.app_id == app_id, Device.status != Status.DESTROYED)
        )
        if (live or 0) >= quota:
            raise too_many_devices(quota)

    async def _ensure_name_free(self, session: AsyncSession, app_id: str, name: str) -> None:
        taken = await session.execute(
            select(Device.id).where(
                Device.app_id == app_id, Device.name == name, Device.status != Status.DESTROYED
            )
        )
        if taken.first() is not None:
            raise self._name_conflict(name)

    @staticmethod
    def _name_conflict(name: str) -> ApiError:
        return ApiError(
            409,
            "conflict",
            f"a device named {name!r} already exists in this app",
            {"field": "device_name"},
        )

    async def _pair(self, device: Device) -> Device:
        """Open a pairing window for a device already in `qr_generated` without a QR.

        If no QR arrives in the bounded wait, the device is kept, `disconnected`, with the
        reason in last_error: never lost, never a hang.
        """
        try:
            await self._runtime.begin_pairing_and_wait(device, self._qr_wait_timeout)
        except (EngineError, TimeoutError) as exc:
            reason = (
                exc.message
                if isinstance(exc, EngineError)
                else (f"the engine produced no QR within {self._qr_wait_timeout:g} s")
            )
            await self._fail_pairing(device, reason)
        return await self.get(device.app_id, device.id)

    async def _fail_pairing(self, device: Device, reason: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(Device, device.id, with_for_update=locks_rows(session))
            if (
                row is None
                or row.session_epoch != device.session_epoch
                or row.status != Status.QR_GENERATED
            ):
                return
            row.status = check_transition(row.status, Status.DISCONNECTED)
            row.session_epoch += 1
            row.last_error = reason
            row.qr = row.qr_expires_at = None
            events.disconnected(session, row, "pairing_failed")
        try:
            await self._runtime.engine_for(device.engine).close(device.id)
        except (EngineError, ApiError):  # as in `_end_engine_session`
            pass

    async def _start_new_window(
        self, app_id: str, device_id: str, actor: Actor | None = None
    ) -> Device:
        """expired/disconnected → qr_generated with a fresh session epoch (409 otherwise)."""
        async with self._db.transaction() as session:
            device = await self.load(session, app_id, device_id, for_update=True)
            if device.status in (Status.CONNECTED, Status.QR_GENERATED):
                raise qr_reset_conflict(device)
            if actor is not None:
                _record(session, actor, "device.regenerate_qr", device)
            device.status = check_transition(device.status, Status.QR_GENERATED)
            device.session_epoch += 1
            device.qr = device.qr_expires_at = device.pairing_code = device.pairing_phone = None
            device.last_error = None
            device.connection = Connection.OFFLINE
            token = await self._runtime.own_for_session(session, device.id)
        self._runtime.hold(device.id, token)
        return device

    async def regenerate_qr(
        self, app_id: str, device_id: str, *, actor: Actor | None = None
    ) -> Device:
        device = await self._start_new_window(app_id, device_id, actor)
        return await self._pair(device)

    async def request_pairing_code(
        self, app_id: str, device_id: str, phone: str, *, actor: Actor | None = None
    ) -> Device:
        """Link by an 8-character code typed on the phone.

        Inside an open pairing window the code joins that window (as whatsmeow requires); from
        `expired`/`disconnected` a new window is opened first. A window that already issued a
        code, or a connected device, gets 409 like a QR reset. `actor`'s entry is written with
        the code (or, when the new window made none, once that window is settled).
        """
        phone = normalise_phone(phone)
        async with self._db.transaction() as session:
            device = await self.load(session, app_id, device_id)
        if device.status == Status.CONNECTED or (
            device.status == Status.QR_GENERATED and (device.pairing_code or device.qr is None)
        ):
            raise qr_reset_conflict(device)
        if device.status != Status.QR_GENERATED:
            device = await self._pair(await self._start_new_window(app_id, device_id))
            if device.status != Status.QR_GENERATED:
                if actor is not None:
                    # The window and its failure committed in transactions of their own.
                    await audit.record_done(
                        self._db,
                        actor,
                        "device.pairing_code",
                        app_id=app_id,
                        device_id=device_id,
                    )
                return device
        try:
            code = await self._runtime.engine_for(device.engine).request_pairing_code(
                device.id, device.session_epoch, phone
            )
        except EngineError as exc:
            raise ApiError(
                409, "qr_reset_not_allowed", f"cannot issue a pairing code: {exc.message}"
            ) from exc
        async with self._db.transaction() as session:
            row = await self.load(session, app_id, device_id, for_update=True)
            if row.session_epoch == device.session_epoch and row.status == Status.QR_GENERATED:
                row.pairing_code = code
                row.pairing_phone = phone
                row.updated_at = utcnow()
            if actor is not None:
                _record(session, actor, "device.pairing_code", row)
            return row

    # --- disconnect / delete -----------------------------------------------------------------

    async def disconnect(
        self, app_id: str, device_id: str, *, actor: Actor | None = None
    ) -> Device:
        """Unlink the session (logout) → `disconnected`. Already unlinked: nothing to do."""
        async with self._db.transaction() as session:
            device = await self.load(session, app_id, device_id, for_update=True)
            if actor is not None:
                _record(session, actor, "device.disconnect", device)
            if device.status in (Status.DISCONNECTED, Status.EXPIRED):
                return device
            was_linked = device.status == Status.CONNECTED
            device.status = check_transition(device.status, Status.DISCONNECTED)
            device.session_epoch += 1
            device.connection = Connection.OFFLINE
            device.qr = device.qr_expires_at = device.pairing_code = device.pairing_phone = None
            device.last_error = None
            device.updated_at = utcnow()
            events.disconnected(session, device, "disconnect")
        await self._end_engine_session(device, logout=was_linked)
        return device

    async def delete(
        self,
        app_id: str,
        device_id: str,
        *,
        actor: Actor | None = None,
        confirm_name: str | None = None,
    ) -> Device:
        """→ `destroyed`: logged out, key material erased, its records archived. 410 after.
        With `confirm_name` (the dashboard's), only when it is the device's name exactly."""
        async with self._db.transaction() as session:
            device = await self.load(session, app_id, device_id, for_update=True)
            if confirm_name is not None and confirm_name.strip() != device.name:
                raise validation_error("type the device's name exactly to confirm the deletion")
            if actor is not None:
                _record(session, actor, "device.delete", device, name=device.name)
            device.status = check_transition(device.status, Status.DESTROYED)
            device.session_epoch += 1
            device.connection = Connection.OFFLINE
            device.qr = device.qr_expires_at = device.pairing_code = device.pairing_phone = None
            device.destroyed_at = device.updated_at = utcnow()
            events.destroyed(session, device)
            media_keys = [
                key for hook in self._deletion_hooks for key in await hook(session, device.id)
            ]
            # Archived: still stored and readable, but out of the live listings.
            await session.execute(
                update(Event).where(Event.device_id == device.id).values(archived=True)
            )
        await self._end_engine_session(device, logout=True)
        if self._media is not None:
            for key in media_keys:
                try:
                    await self._media.delete(key)
                except (OSError, ValueError) as exc:
                    log.warning("media_delete_failed", device_id=device.id, error=str(exc))
        return device

    async def archive_app(self, actor: Actor, app_id: str) -> None:
        """Delete an app (the admin API): every device of it destroyed as `delete` does (each
        with its entry), then, with no live device left, its tokens revoked and the app
        archived (`apps.archive`): 404 everywhere afterwards, its records kept. The app's row
        is locked for the last step, as a device's creation locks it (PostgreSQL; SQLite's
        writes take turns), so a device created meanwhile is found and destroyed too."""
        while True:
            async with self._db.read() as session:
                await apps.get_app(session, app_id)
                live = await self._live_device_ids(session, app_id)
            for device_id in live:
                try:
                    await self.delete(app_id, device_id, actor=actor)
                except ApiError as exc:
                    if exc.code != "device_destroyed":  # by another caller meanwhile: gone
                        raise
            async with self._db.transaction() as session:
                await session.execute(lock_rows(select(App.id).where(App.id == app_id), session))
                app = await apps.get_app(session, app_id)
                if await self._live_device_ids(session, app_id):
                    continue  # one was created meanwhile: destroy it too
                apps.archive(session, app, await apps.tokens_of(session, app_id), actor)
                return

    @staticmethod
    async def _live_device_ids(session: AsyncSession, app_id: str) -> tuple[str, ...]:
        stmt = select(Device.id).where(Device.app_id == app_id, Device.status != Status.DESTROYED)
        return tuple((await session.execute(stmt)).scalars())

    async def _end_engine_session(self, device: Device, *, logout: bool) -> None:
        try:
            engine = self._runtime.engine_for(device.engine)
            await (engine.logout(device.id) if logout else engine.close(device.id))
        except (EngineError, ApiError) as exc:
            # ApiError: the node that holds the session did not answer in time. The device
            # has no session any more: that node closes it at its next placement pass.
            log.warning("engine_session_end_failed", device_id=device.id, error=exc.message)


def _plain_code(code: str) -> str:
    return code.replace("-", "").strip().upper()


def _record(
    session: AsyncSession, actor: Actor, action: str, device: Device, **detail: Any
) -> None:
    audit.record(session, actor, action, app_id=device.app_id, device_id=device.id, detail=detail)


async def stored_device(
    db: Database, app_id: str, device_id: str, *, allow_destroyed: bool = False
) -> Device:
    """The app's device as stored (`DeviceService.load`'s rules: 404, or 410 when destroyed
    unless `allow_destroyed`), for callers without the gateway, such as the CLI."""
    async with db.read() as session:
        return await DeviceService.load(session, app_id, device_id, allow_destroyed=allow_destroyed)


async def change_project_settings(
    db: Database,
    actor: Actor,
    app_id: str,
    *,
    name: str,
    engine: str,
    webhook_url: str,
    domain_url: str,
    pacing: dict[str, Any],
    call_policy: CallPolicy | None | Keep = KEEP,
    presence_mode: str | None | Keep = KEEP,
) -> App:
    """The dashboard's settings form: engine (only while the app has no devices), name,
    webhook target and the pacing that replaces the app's overrides, the call policy and
    presence mode (None: the defaults), with its entry."""
    if presence_mode is not KEEP:
        presence_mode = validated_presence_mode(presence_mode)
    async with db.transaction() as session:
        app = await apps.get_app(session, app_id)
        await change_engine(session, app, engine)
        await apps.update_app(
            session,
            app,
            name=name,
            webhook_url=webhook_url,
            domain_url=domain_url,
            pacing=pacing,
            replace_pacing=True,
            call_policy=(
                call_policy.stored() if isinstance(call_policy, CallPolicy) else call_policy
            ),
            presence_mode=presence_mode,
        )
        apps.record_settings_changed(session, actor, app, pacing)
    return app


async def device_counts(db: Database) -> dict[str, int]:
    """Devices of every app by status (the metrics)."""
    async with db.read() as session:
        stmt = select(Device.status, func.count()).group_by(Device.status)
        return {status: count for status, count in (await session.execute(stmt)).all()}


async def change_engine(session: AsyncSession, app: App, engine: str) -> App:
    """Only while the app has no devices: a device keeps the engine it was made with, and
    an app's sandbox controls must not point at devices of another engine."""
    if engine not in apps.ENGINES:
        raise validation_error(f"engine must be one of {', '.join(apps.ENGINES)}", "engine")
    if engine == app.engine:
        return app
    live = await session.scalar(
        select(Device.id).where(Device.app_id == app.id, Device.status != Status.DESTROYED)
    )
    if live is not None:
        raise ApiError(
            409,
            "conflict",
            "the engine can only change while the app has no devices",
            {"field": "engine"},
        )
    app.engine = engine
    app.updated_at = utcnow()
    return app
