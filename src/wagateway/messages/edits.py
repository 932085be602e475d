"""Edit and delete a message (CONTRACT §8.1): `PATCH` and `DELETE
/devices/{id}/messages/{message_id}`.

A message still queued is changed in the database alone (what will be sent changes; a delete
cancels it), under the row's lock, so a send claiming it at the same moment either wins (the
message is `sending`: 409 `conflict`) or finds it changed. A message already sent is edited or
deleted for everyone on WhatsApp first; only what the engine did is then recorded, so a
failed engine call leaves the stored message as it was. `edited_at` and `revoked` live in
the message's content (no column of their own).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, locks_rows, utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.settings import Settings
from wagateway.core.timefmt import rfc3339
from wagateway.devices.models import Device
from wagateway.devices.refusals import engine_failed, not_connected
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Status
from wagateway.engines.base import Engine, EngineError
from wagateway.messages import events
from wagateway.messages.actions import _find
from wagateway.messages.models import Message
from wagateway.messages.states import MessageStatus
from wagateway.messages.status_writes import change_status

# Types whose words can be edited: a text's text, a media message's caption.
EDITABLE = {"text": "text", "image": "caption", "video": "caption", "document": "caption"}
OUT_OF_DEVICE = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.PLAYED,
)
CANCELED = "canceled"


def forbidden(message: str, target: Message, **details: object) -> ApiError:
    return ApiError(403, "forbidden", message, {"message_id": target.id, **details})


def is_group(chat: str) -> bool:
    return chat.endswith("@g.us")


def sender_jid(target: Message) -> str:
    """The JID WhatsApp knows an inbound message's sender by (a revoke names it)."""
    if target.sender:
        return target.sender if "@" in target.sender else f"{target.sender}@s.whatsapp.net"
    return target.sender_lid or target.chat


def conflict(message: str, target: Message, **details: object) -> ApiError:
    return ApiError(409, "conflict", message, {"message_id": target.id, **details})


class MessageEdits:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        runtime: SessionRuntime,
        announce: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._runtime = runtime
        # Wakes a send waiting on the message (`wait=true`) once a cancel is committed.
        self._announce = announce

    async def _target(self, app_id: str, device_id: str, message_id: str) -> tuple[Device, Message]:
        async with self._db.read() as session:
            device = await DeviceService.load(session, app_id, device_id)
            target = await _find(session, app_id, device_id, message_id)
        if target is None:
            raise not_found("message")
        return device, target

    def _engine(self, device: Device) -> Engine:
        if device.status != Status.CONNECTED:
            raise not_connected(device)
        try:
            return self._runtime.engine_for(device.engine)
        except EngineError as exc:
            raise engine_failed(exc) from exc

    async def edit(self, app_id: str, device_id: str, message_id: str, text: str) -> Message:
        """Edit the text (or caption) of a message the device sent; returns it, `edited_at`
        set in its content."""
        if not text:
            raise validation_error("text must not be empty", "text")
        device, target = await self._target(app_id, device_id, message_id)
        if target.direction != "outbound":
            raise forbidden("only a message the device sent can be edited", target)
        field = EDITABLE.get(target.type)
        if field is None:
            raise conflict(
                "only a text or a media message's caption can be edited", target, type=target.type
            )
        if target.content.get("revoked"):
            raise conflict("a message deleted for everyone cannot be edited", target)
        if target.status == MessageStatus.QUEUED:
            return await self._edit_queued(target, field, text)
        self._editable_on_whatsapp(target)
        engine = self._engine(device)
        new_content = {"text": text} if field == "text" else {"caption": text, "type": target.type}
        try:
            await engine.edit_message(
                device.id, target.chat, str(target.wa_message_id), new_content
            )
        except EngineError as exc:
            raise engine_failed(exc) from exc
        async with self._db.transaction() as session:
            row = await _locked(session, target)
            row.content = {**row.content, field: text, "edited_at": rfc3339(utcnow())}
            row.updated_at = utcnow()
        return row

    def _editable_on_whatsapp(self, target: Message) -> None:
        if target.status not in OUT_OF_DEVICE or target.sent_at is None:
            raise conflict(
                f"a {target.status} message cannot be edited", target, status=target.status
            )
        window = timedelta(seconds=self._settings.edit_window_seconds)
        if utcnow() > target.sent_at + window:
            raise conflict("the edit window is over", target, window_seconds=window.total_seconds())

    async def _edit_queued(self, target: Message, field: str, text: str) -> Message:
        async with self._db.transaction() as session:
            row = await _locked(session, target)
            if row.status != MessageStatus.QUEUED:  # the queue claimed it first
                raise conflict(
                    "the message is being sent; try again once it is sent",
                    row,
                    status=row.status,
                )
            row.content = {**row.content, field: text, "edited_at": rfc3339(utcnow())}
            row.updated_at = utcnow()
        return row

    async def delete(self, app_id: str, device_id: str, message_id: str) -> Message:
        """Cancel a queued message of the device's, or delete a sent one for everyone;
        returns it (`failed` with error `canceled`, or `revoked: true` in its content)."""
        device, target = await self._target(app_id, device_id, message_id)
        refusal = self.delete_refusal(target)
        if refusal is not None:
            raise refusal
        if target.status == MessageStatus.QUEUED:
            return await self._cancel(target)
        if target.content.get("revoked"):
            return target
        engine = self._engine(device)
        if target.direction == "outbound":
            sender = f"{device.wa_number}@s.whatsapp.net" if device.wa_number else target.chat
        else:
            # Another member's message in a group: WhatsApp lets a group admin delete it.
            await self._require_group_admin(engine, device, target)
            sender = sender_jid(target)
        try:
            await engine.revoke_message(device.id, target.chat, sender, str(target.wa_message_id))
        except EngineError as exc:
            raise engine_failed(exc) from exc
        async with self._db.transaction() as session:
            row = await _locked(session, target)
            row.content = {**row.content, "revoked": True}
            row.updated_at = utcnow()
        return row

    def delete_refusal(self, target: Message) -> ApiError | None:
        """Why `delete` refuses this message of the device's, or None when it cancels it
        (queued), deletes it for everyone (sent, within the window), or finds it already
        deleted. The one statement of the rule, for `delete` and for callers that only ask
        (the dashboard offers its delete button where this is None)."""
        if target.direction != "outbound" and not is_group(target.chat):
            return forbidden("only a message the device sent can be deleted", target)
        # Another member's message in a group: `delete` asks WhatsApp whether the account
        # is an admin of the group (not_group_admin otherwise), within the same window.
        if target.status == MessageStatus.QUEUED:
            return None
        if target.direction == "outbound" and (
            target.status not in OUT_OF_DEVICE or target.sent_at is None
        ):
            return conflict(
                f"a {target.status} message cannot be deleted", target, status=target.status
            )
        if target.content.get("revoked"):
            return None
        window = timedelta(seconds=self._settings.revoke_window_seconds)
        if utcnow() > (target.sent_at or target.created_at) + window:
            return conflict(
                "the delete window is over", target, window_seconds=window.total_seconds()
            )
        return None

    async def _require_group_admin(self, engine: Engine, device: Device, target: Message) -> None:
        """403 `not_group_admin` unless WhatsApp lists the account as an admin of the group
        the message is in (a group the account is not in counts as not admin)."""
        try:
            groups = await engine.groups(device.id)
        except EngineError as exc:
            raise engine_failed(exc) from exc
        own = (device.wa_number or "").partition("@")[0]
        group = next((g for g in groups if g.jid == target.chat), None)
        admins = {admin.partition("@")[0] for admin in group.admins} if group else set()
        if not own or own not in admins:
            raise forbidden(
                "only a group admin can delete another member's message",
                target,
                reason="not_group_admin",
            )

    def deletable(self, target: Message) -> bool:
        """Whether `delete` would cancel or delete this message now (not one already
        deleted for everyone: there is nothing left to do)."""
        return self.delete_refusal(target) is None and not target.content.get("revoked")

    async def _cancel(self, target: Message) -> Message:
        async with self._db.transaction() as session:
            row = await _locked(session, target)
            # Only while queued: the state machine would let a `sending` message fail too,
            # but then the queue has claimed it and may be handing it to WhatsApp.
            if row.status != MessageStatus.QUEUED or not change_status(
                session,
                row,
                MessageStatus.FAILED,
                error_code=CANCELED,
                error_message="canceled by the app before it was sent",
                claimed_by=None,
                claimed_until=None,
                updated_at=utcnow(),
            ):
                raise conflict(
                    f"the message is {row.status} and can no longer be canceled",
                    row,
                    status=row.status,
                )
            events.receipt_event(session, row)
        self._announce(row.id)
        return row


async def _locked(session: AsyncSession, target: Message) -> Message:
    row = await session.get(
        Message, target.seq, with_for_update=locks_rows(session), populate_existing=True
    )
    if row is None:  # deleted with its device meanwhile
        raise not_found("message")
    return row
