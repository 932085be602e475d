"""Playing the phone and the network for sandbox apps (CONTRACT §6): the rules the REST
routes and the dashboard's sandbox buttons share."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

import segno
from pydantic import BaseModel, Field

from wagateway.apps.models import App
from wagateway.core.addresses import MAX_MENTIONS, normalise_phone, normalise_recipient
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.devices.models import Device
from wagateway.devices.service import DeviceService
from wagateway.devices.state import Status
from wagateway.engines.base import CHAT_PRESENCE_STATES, PRESENCE_STATES, EngineError
from wagateway.sandbox.engine import SandboxEngine
from wagateway.sandbox.models import SandboxNetworkEntry, SandboxReceived, SandboxSessionRecord


class InboundRequest(BaseModel):
    from_: str = Field(
        "", alias="from", description="the contact's phone number (not with `from_me`)"
    )
    type: Literal[
        "text",
        "image",
        "document",
        "location",
        "chat_presence",
        "revoke",
        "edit",
        "poll_vote",
        "button_reply",
        "list_reply",
        "presence",
        "read",
    ] = Field(
        "text",
        description="a message (text, image, document, location), or what the contact does "
        "besides writing: chat_presence (starts / stops typing, needs `state`), revoke "
        "(deletes its message `wa_message_id` for everyone), edit (changes the text of its "
        "message `wa_message_id` to `text`), poll_vote (chooses `options` of the device's "
        "poll `poll_message_id`), button_reply (taps `selected_id` / `selected_text` of the "
        "message `reply_to`), list_reply (picks `selected_row_id` / `title` of `reply_to`), "
        "presence (comes online or goes offline: `state` available / unavailable, optional "
        "`last_seen`; a `presence` event follows only when the device subscribed to the contact "
        "and shows online, as on WhatsApp); read (the account's owner opens the chat `to` on "
        "the phone and reads it: its unread inbound messages become read, as a read-self "
        "receipt tells the device; `from` unused)",
    )
    text: str | None = Field(None, max_length=65536)
    caption: str | None = Field(None, max_length=3000)
    file_name: str | None = Field(None, max_length=255)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    media_size: int | None = Field(
        None, ge=1, le=16 * 1024 * 1024, description="pad the generated document to this size"
    )
    forwarded: bool = False
    group: str | None = Field(
        None,
        max_length=120,
        description="a message the contact writes in this group (a group JID) instead of the "
        "one-to-one chat: in the sandbox group 120363012345678901@g.us the account is the "
        "admin, in any other it is a plain member",
    )
    reply_to: str | None = None
    mentions: list[str] = Field(default_factory=list, max_length=MAX_MENTIONS)
    state: Literal["typing", "recording", "paused", "available", "unavailable"] | None = Field(
        None,
        description="chat_presence: what the contact shows in its chat (typing, recording, "
        "paused); presence: available or unavailable",
    )
    last_seen: datetime | None = Field(
        None, description="presence: when the contact was last online (default: now)"
    )
    selected_id: str | None = Field(None, max_length=256, description="button_reply")
    selected_text: str | None = Field(None, max_length=256, description="button_reply")
    selected_row_id: str | None = Field(None, max_length=256, description="list_reply")
    title: str | None = Field(None, max_length=256, description="list_reply")
    poll_message_id: str | None = Field(
        None, max_length=128, description="poll_vote: the poll's gateway id or WhatsApp id"
    )
    options: list[str] | None = Field(
        None,
        max_length=12,
        description="poll_vote: the texts of the options chosen (empty: the vote withdrawn)",
    )
    wa_message_id: str | None = Field(
        None,
        max_length=128,
        description="revoke, edit: the WhatsApp id of the contact's message",
    )
    from_me: bool = Field(
        False,
        description="text, image, document, location: the account's owner sent it to `to` "
        "from the phone (stored as an outbound message with source `phone`); `from` unused",
    )
    to: str | None = Field(
        None, max_length=120, description="from_me: the chat written to (phone, JID, group JID)"
    )


# The simulated phone's and network's acts on one device: carried out by the node that
# holds the device's session (`engines/fenced.py`), whichever node the control reached.
DEVICE_CONTROLS = frozenset(
    {
        "scan",
        "enter_pairing_code",
        "drop",
        "phone_logout",
        "contact_chat_presence",
        "contact_writes",
        "owner_writes",
        "owner_reads",
        "contact_presence",
        "contact_revokes",
        "contact_edits",
        "contact_votes",
        "contact_calls",
        "send_history",
        "contact_changes_group",
    }
)


def require_sandbox(app: App) -> None:
    if app.engine != "sandbox":
        raise ApiError(403, "forbidden", "sandbox controls are only for apps on the sandbox engine")


# (device_id, a message's gateway or WhatsApp id) → the device's sent poll it names:
# (wa_message_id, chat, options, multiple choice), or None. Given by the messages side.
PollLookup = Callable[[str, str], Awaitable[tuple[str, str, list[str], bool] | None]]


async def _no_polls(device_id: str, ref: str) -> None:
    return None


# (device_id, chat JID) → the WhatsApp ids of that chat's unread inbound messages, oldest
# first: what the owner reads when opening the chat on the phone. Given by the messages side.
UnreadLookup = Callable[[str, str], Awaitable[tuple[str, ...]]]


async def _no_unread(device_id: str, chat: str) -> tuple[str, ...]:
    return ()


class SandboxControls:
    def __init__(
        self,
        sandbox: SandboxEngine,
        devices: DeviceService,
        polls: PollLookup = _no_polls,
        unread: UnreadLookup = _no_unread,
    ) -> None:
        self._sandbox = sandbox
        self._devices = devices
        self._polls = polls
        self._unread = unread

    async def scan(self, app: App, qr: str, phone: str) -> Device:
        """A simulated phone scans this QR: the device becomes `connected` as `phone`."""
        require_sandbox(app)
        phone = normalise_phone(phone)
        device_id = self._sandbox.device_for_qr(qr) or await self._devices.showing(qr=qr)
        if device_id is None:
            raise not_found("active QR")
        await self._devices.get(app.id, device_id)  # 404 when the QR belongs to another app
        try:
            await self._sandbox.scan(device_id, qr, phone)
        except EngineError as exc:
            raise not_found("active QR") from exc
        return await self._devices.get(app.id, device_id)

    async def scan_current_qr(self, app: App, device_id: str, phone: str) -> Device:
        """Scan whatever QR the device shows right now (the dashboard's button)."""
        device = await self._devices.get(app.id, device_id)
        if device.status != Status.QR_GENERATED or not device.qr:
            raise ApiError(
                409,
                "qr_reset_not_allowed",
                f"the device is {device.status} and shows no QR to scan",
                {"status": device.status},
            )
        return await self.scan(app, device.qr, phone)

    async def enter_pairing_code(self, app: App, code: str) -> Device:
        """The simulated phone types a pairing code: the device links as the code's phone."""
        require_sandbox(app)
        device_id = self._sandbox.device_for_pairing_code(code) or await self._devices.showing(
            pairing_code=code
        )
        if device_id is None:
            raise not_found("active pairing code")
        await self._devices.get(app.id, device_id)
        try:
            await self._sandbox.enter_pairing_code(device_id, code)
        except EngineError as exc:
            raise not_found("active pairing code") from exc
        return await self._devices.get(app.id, device_id)

    async def _connected_device(self, app: App, device_id: str) -> None:
        require_sandbox(app)
        device = await self._devices.get(app.id, device_id)
        if device.status != Status.CONNECTED:
            raise ApiError(
                409,
                "device_not_connected",
                "the device is not connected",
                {"status": device.status},
            )

    async def _on_connected_device(
        self, app: App, device_id: str, action: Callable[[str], Awaitable[object]]
    ) -> Device:
        await self._connected_device(app, device_id)
        try:
            await action(device_id)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc
        return await self._devices.get(app.id, device_id)

    async def drop(self, app: App, device_id: str) -> Device:
        """The device's socket drops: `connection` goes `reconnecting`, then back `online`."""
        return await self._on_connected_device(app, device_id, self._sandbox.drop)

    async def phone_logout(self, app: App, device_id: str) -> Device:
        """The phone unlinks the device: → `disconnected` with reason `logged_out`."""
        return await self._on_connected_device(app, device_id, self._sandbox.phone_logout)

    async def inbound(self, app: App, device_id: str, body: InboundRequest) -> str | None:
        """A contact writes to the device (returns the new message's wa_message_id), or acts
        on the chat: chat_presence and presence (return None), revoke (returns the revoked message's id).
        With `from_me` the account's owner writes from the phone instead."""
        if body.from_me:
            return await self._owner_writes(app, device_id, body)
        if body.type == "chat_presence":
            if body.state is None or body.state not in CHAT_PRESENCE_STATES:
                raise validation_error(
                    "state (typing, recording or paused) is required for type chat_presence",
                    "state",
                )
            await self._connected_device(app, device_id)
            sender = normalise_phone(body.from_, "from")
            try:
                await self._sandbox.contact_chat_presence(device_id, sender, body.state)
            except EngineError as exc:
                raise ApiError(409, "device_not_connected", exc.message) from exc
            return None
        if body.type == "presence":
            await self._presence(app, device_id, body)
            return None
        if body.type == "read":
            return await self._owner_reads(app, device_id, body)
        if body.type == "revoke":
            if not body.wa_message_id:
                raise validation_error("wa_message_id is required for type revoke", "wa_message_id")
            await self.revoke(app, device_id, body.from_, body.wa_message_id)
            return body.wa_message_id
        if body.type == "edit":
            return await self._edit(app, device_id, body)
        if body.type == "poll_vote":
            return await self._poll_vote(app, device_id, body)
        await self._connected_device(app, device_id)
        sender = normalise_phone(body.from_, "from")
        group = None
        if body.group is not None:
            group = normalise_recipient(body.group, "group")
            if not group.endswith("@g.us"):
                raise validation_error("group must be a group JID (…@g.us)", "group")
        content, media = sandbox_content(body)
        try:
            return await self._sandbox.contact_writes(
                device_id,
                sender,
                REPLY_TYPES.get(body.type, body.type),
                content,
                media,
                forwarded=body.forwarded,
                reply_to=body.reply_to,
                mentions=tuple(normalise_recipient(m, "mentions") for m in body.mentions),
                group=group,
            )
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def _owner_writes(self, app: App, device_id: str, body: InboundRequest) -> str:
        """The owner types on the phone (CONTRACT §8.5): a message to `to` that WhatsApp
        reports to the device as the account's own; returns its wa_message_id."""
        if body.type not in OWNER_TYPES:
            raise validation_error(
                f"from_me is for types {', '.join(OWNER_TYPES)}, not {body.type}", "from_me"
            )
        if not body.to:
            raise validation_error("to is required with from_me", "to")
        chat = normalise_recipient(body.to, "to")
        await self._connected_device(app, device_id)
        content, media = sandbox_content(body)
        try:
            return await self._sandbox.owner_writes(
                device_id,
                chat,
                body.type,
                content,
                media,
                forwarded=body.forwarded,
                reply_to=body.reply_to,
                mentions=tuple(normalise_recipient(m, "mentions") for m in body.mentions),
            )
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def _owner_reads(self, app: App, device_id: str, body: InboundRequest) -> str | None:
        """The owner reads the chat `to` on the phone (CONTRACT §8.4): WhatsApp sends the
        device a read-self receipt naming the chat's unread messages. Returns the newest
        message read (None when nothing was unread: no receipt is sent)."""
        if not body.to:
            raise validation_error("to (the chat read) is required for type read", "to")
        chat = normalise_recipient(body.to, "to")
        await self._connected_device(app, device_id)
        unread = await self._unread(device_id, chat)
        if not unread:
            return None
        try:
            await self._sandbox.owner_reads(device_id, chat, unread)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc
        return unread[-1]

    async def _presence(self, app: App, device_id: str, body: InboundRequest) -> bool:
        """The contact comes online or goes offline; True when the network sent the device a
        `presence` (it subscribed to the contact and shows online)."""
        if body.state is None or body.state not in PRESENCE_STATES:
            raise validation_error(
                "state must be available or unavailable for type presence", "state"
            )
        await self._connected_device(app, device_id)
        sender = normalise_phone(body.from_, "from")
        last_seen = body.last_seen
        if last_seen is not None and last_seen.tzinfo is None:
            last_seen = last_seen.replace(tzinfo=UTC)  # no offset given: UTC, as CONTRACT §1
        try:
            return await self._sandbox.contact_presence(device_id, sender, body.state, last_seen)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def revoke(self, app: App, device_id: str, sender_phone: str, wa_message_id: str) -> None:
        await self._connected_device(app, device_id)
        sender = normalise_phone(sender_phone, "from")
        try:
            await self._sandbox.contact_revokes(device_id, sender, wa_message_id)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def _edit(self, app: App, device_id: str, body: InboundRequest) -> str:
        if not body.wa_message_id:
            raise validation_error("wa_message_id is required for type edit", "wa_message_id")
        if not body.text:
            raise validation_error("text is required for type edit", "text")
        await self._connected_device(app, device_id)
        sender = normalise_phone(body.from_, "from")
        try:
            await self._sandbox.contact_edits(device_id, sender, body.wa_message_id, body.text)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc
        return body.wa_message_id

    async def _poll_vote(self, app: App, device_id: str, body: InboundRequest) -> str:
        """A contact votes on a poll the device sent and the network delivered; returns the
        poll's wa_message_id."""
        if not body.poll_message_id:
            raise validation_error(
                "poll_message_id is required for type poll_vote", "poll_message_id"
            )
        if body.options is None:
            raise validation_error("options is required for type poll_vote", "options")
        await self._connected_device(app, device_id)
        sender = normalise_phone(body.from_, "from")
        poll = await self._polls(device_id, body.poll_message_id)
        delivered = {r.wa_message_id for r in await self._sandbox.received_from(device_id)}
        if poll is None or poll[0] not in delivered:
            raise not_found("poll")
        wa_message_id, chat, options, multi = poll
        unknown = [o for o in body.options if o not in options]
        if unknown:
            raise validation_error(f"not an option of this poll: {unknown[0]!r}", "options")
        if len(set(body.options)) != len(body.options) or (not multi and len(body.options) > 1):
            raise validation_error(
                "choose each option once, and at most one on a single-choice poll", "options"
            )
        try:
            await self._sandbox.contact_votes(device_id, sender, wa_message_id, chat, body.options)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc
        return wa_message_id

    async def call(
        self, app: App, device_id: str, caller: str, video: bool, outcome: str
    ) -> tuple[str, str]:
        """A contact calls the device (CONTRACT §8.5): a `call` event `offer`; the device's
        (else the app's) call policy may reject it (`rejected`, `call_reject` in the network
        log), else the ring ends as `outcome` says (`missed`, or `accepted` then `ended`).
        Returns (call id, the call's last state)."""
        await self._connected_device(app, device_id)
        phone = normalise_phone(caller, "from")
        try:
            return await self._sandbox.contact_calls(device_id, phone, video=video, outcome=outcome)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def history(self, app: App, device_id: str, chats: int, messages_per_chat: int) -> int:
        """The network sends the device the history WhatsApp sends at linking (CONTRACT
        §8.5): imported when the device has `history_sync` (up to WAGW_HISTORY_MAX_MESSAGES),
        each part written before this returns. Returns how many messages the network sent."""
        await self._connected_device(app, device_id)
        try:
            return await self._sandbox.send_history(device_id, chats, messages_per_chat)
        except EngineError as exc:
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def group_event(
        self,
        app: App,
        device_id: str,
        group: str,
        action: str,
        participants: list[str],
        by: str,
        changes: dict[str, Any],
    ) -> None:
        """Someone else changes a group the account is in (CONTRACT §8.5): the event
        (`group_participants`, `group_updated`, or `group_joined` when the account is added)
        has been emitted when this returns."""
        await self._connected_device(app, device_id)
        who = normalise_phone(by, "by")
        jids = [f"{normalise_phone(p, 'participants')}@s.whatsapp.net" for p in participants]
        if action != "update" and not jids:
            raise validation_error("participants must not be empty", "participants")
        try:
            await self._sandbox.contact_changes_group(device_id, group, action, jids, who, changes)
        except EngineError as exc:
            if exc.code == "not_found":
                raise not_found("group") from exc
            raise ApiError(409, "device_not_connected", exc.message) from exc

    async def received(self, app: App, device_id: str) -> list[SandboxReceived]:
        require_sandbox(app)
        await self._devices.get(app.id, device_id)
        return await self._sandbox.received_from(device_id)

    async def sessions(self, app: App, device_id: str) -> list[SandboxSessionRecord]:
        require_sandbox(app)
        await self._devices.get(app.id, device_id)
        return await self._sandbox.witness.sessions(device_id)

    async def network(self, app: App, device_id: str) -> list[SandboxNetworkEntry]:
        require_sandbox(app)
        await self._devices.get(app.id, device_id)
        return await self._sandbox.network_of(device_id)


# What the owner can send from the phone in the sandbox (`from_me`).
OWNER_TYPES = ("text", "image", "document", "location")

# The sandbox's names for a contact's answers → the type the message is stored as.
REPLY_TYPES = {"button_reply": "button_response", "list_reply": "list_response"}
REPLY_FIELDS = {
    "button_reply": ("selected_id", "selected_text"),
    "list_reply": ("selected_row_id", "title"),
}


def sandbox_content(body: InboundRequest) -> tuple[dict[str, object], bytes | None]:
    """The content fields and generated media of a simulated inbound message."""
    if body.type in REPLY_FIELDS:
        if not body.reply_to:
            raise validation_error(f"reply_to is required for type {body.type}", "reply_to")
        reply: dict[str, object] = {}
        for field in REPLY_FIELDS[body.type]:
            value = getattr(body, field)
            if not value:
                raise validation_error(f"{field} is required for type {body.type}", field)
            reply[field] = value
        return reply, None
    if body.type == "text":
        if not body.text:
            raise validation_error("text is required for type text", "text")
        return {"text": body.text}, None
    if body.type == "location":
        if body.latitude is None or body.longitude is None:
            raise validation_error("latitude and longitude are required", "latitude")
        return {"latitude": body.latitude, "longitude": body.longitude}, None
    if body.type == "image":
        image = segno.make(body.caption or "WA Gateway sandbox").png_data_uri(scale=4)
        data = base64.b64decode(image.split(",", 1)[1])
        content: dict[str, object] = {"mime_type": "image/png"}
    else:
        data = SAMPLE_PDF
        if body.media_size:
            data = data + b"%" + b"0" * max(body.media_size - len(data) - 1, 0)
        content = {"mime_type": "application/pdf", "file_name": body.file_name or "sample.pdf"}
    if body.caption is not None:
        content["caption"] = body.caption
    return content, data


SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
