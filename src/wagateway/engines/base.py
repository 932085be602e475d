"""The engine boundary: what the gateway asks of WhatsApp, and what WhatsApp tells it.

Domain code talks to engines only through `Engine` and receives only the event types
below. The sandbox and the whatsmeow engine both implement it and both must pass
tests/engine_conformance.py. Every event carries the device's `epoch`: the session it
belongs to. The runtime drops events from a session that has since been replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from wagateway.core.text import repaired

# WhatsApp's pairing window (whatsmeow qrchan.go): the first code lives 60 s, each next one
# 20 s, about 160 s in all. The sandbox simulates it; the whatsmeow engine times it itself.
QR_CODE_LIFETIMES = (60.0, 20.0, 20.0, 20.0, 20.0, 20.0)


@dataclass(frozen=True)
class EngineEvent:
    device_id: str
    epoch: int


@dataclass(frozen=True)
class QrCode(EngineEvent):
    """A new code in the pairing window (the first, or a rotation)."""

    code: str
    expires_at: datetime


@dataclass(frozen=True)
class PairingWindowEnded(EngineEvent):
    """The pairing window ran out without a scan (whatsmeow itself sends no event for this)."""


@dataclass(frozen=True)
class Connected(EngineEvent):
    """The device is linked and online: after pairing, a restore or a reconnect."""

    wa_number: str
    wa_device_jid: str
    linked_at: datetime
    reconnected: bool = False


@dataclass(frozen=True)
class ConnectionLost(EngineEvent):
    """The socket dropped; the engine is reconnecting by itself."""

    error: str


@dataclass(frozen=True)
class SessionEnded(EngineEvent):
    """The session is over for good: the device needs a new link.

    reason is one of `logged_out`, `banned`, `replaced`, `client_outdated`,
    `session_missing`, `pairing_failed`, `engine_error`.
    """

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class InboundMessage(EngineEvent):
    """A contact's message arrived on the device. `content` holds the type's fields
    (e.g. {"text": …}); phone and LID of the sender are given where WhatsApp tells them."""

    wa_message_id: str
    chat: str
    sender_phone: str | None
    sender_lid: str | None
    type: str
    content: dict[str, object]
    sent_at: datetime
    push_name: str | None = None
    forwarded: bool = False
    reply_to: str | None = None
    mentions: tuple[str, ...] = ()
    # Attachments: the engine downloads them (up to the media cap) and passes the bytes;
    # media_size is the size WhatsApp announced, known even when the bytes were not fetched.
    media: bytes | None = None
    media_size: int | None = None
    # The account itself wrote it, on the phone or another linked device (CONTRACT §8.2,
    # `source: "phone"`): `chat` is the recipient's chat, the sender fields are the account's.
    from_me: bool = False


@dataclass(frozen=True)
class MessageRevoked(EngineEvent):
    """A sender deleted a message for everyone. `by` is who deleted it (phone number, else
    LID JID, as a message's `from`): its sender, or a group admin."""

    wa_message_id: str
    chat: str
    sender: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class MessageEdited(EngineEvent):
    """A sender edited an earlier message: `text` is its new text (or caption)."""

    wa_message_id: str
    chat: str
    sender_phone: str | None
    sender_lid: str | None
    text: str
    edited_at: datetime


@dataclass(frozen=True)
class PollVote(EngineEvent):
    """A voter's current choice on a poll: it replaces the voter's earlier vote (none chosen =
    withdrawn). WhatsApp names the options by `poll_option_hash` only."""

    poll_wa_message_id: str
    chat: str
    voter_phone: str | None
    voter_lid: str | None
    selected_hashes: tuple[str, ...]
    voted_at: datetime


def poll_option_hash(option: str) -> str:
    """How WhatsApp names a poll option in a vote: the SHA-256 of its text, here in hex."""
    return hashlib.sha256(option.encode()).hexdigest()


@dataclass(frozen=True)
class PresenceUpdate(EngineEvent):
    jid: str
    presence: str  # available | unavailable
    last_seen: datetime | None = None


@dataclass(frozen=True)
class ChatPresence(EngineEvent):
    """A contact started or stopped typing / recording audio in a chat (apart from online
    presence). state is `typing`, `recording` or `paused`."""

    chat: str
    jid: str
    state: str


@dataclass(frozen=True)
class IncomingCall(EngineEvent):
    """A contact calls the account, or a call it was offered changes (CONTRACT §8.2 `call`).

    `state` is one of `CALL_STATES`: `offer` (ringing), `accepted` (answered on the phone or
    another linked device), `missed` (ended unanswered), `ended` (ended after it was
    answered); `rejected` is reported by the gateway itself once it rejected the call
    (`Engine.reject_call`). `caller` is the JID that made the call as WhatsApp named it (what
    `reject_call` needs); phone and LID are given where known. `group` is true for a group call.
    """

    call_id: str
    caller: str
    caller_phone: str | None
    caller_lid: str | None
    state: str
    video: bool = False
    group: bool = False
    at: datetime | None = None


CALL_STATES = ("offer", "missed", "rejected", "accepted", "ended")


class ReceiptStatus(StrEnum):
    """What a recipient's phone reported: the words of the message statuses it moves a
    message to (`messages/states.py`, which decides whether it does)."""

    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"


@dataclass(frozen=True)
class Receipt(EngineEvent):
    """Recipients' phones acknowledged messages the device sent.

    status is a `ReceiptStatus`; in groups `participant` names who did.
    """

    wa_message_ids: tuple[str, ...]
    status: str
    chat: str
    participant: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class OwnerRead(EngineEvent):
    """The account's owner read messages of a chat on the phone or another linked device
    (whatsmeow's read-self receipt): those inbound messages, and every earlier one of their
    chat, are read (CONTRACT §8.4 `unread_count`). `chat` as WhatsApp named it."""

    chat: str
    wa_message_ids: tuple[str, ...]
    at: datetime | None = None


@dataclass(frozen=True)
class HistoryBatch(EngineEvent):
    """Part of the history WhatsApp sends a device after linking (CONTRACT §8.4), for a
    device whose engine was given a history limit (`Engine.set_history_limit`): at most
    `HISTORY_BATCH_SIZE` messages (`from_me` for the account's own), from `chats` chats;
    `progress` (0–100) as WhatsApp reports it, None when it does not say. A batch without
    messages reports progress only (the limit was reached, or the part held nothing to show).
    """

    messages: tuple[InboundMessage, ...]
    chats: int
    progress: int | None = None


# The most messages in one HistoryBatch: one write of the gateway's, short enough that other
# devices' writes take turns with an import.
HISTORY_BATCH_SIZE = 50


@dataclass(frozen=True)
class Warning(EngineEvent):
    code: str
    message: str


EventSink = Callable[[EngineEvent], Awaitable[None]]

T = TypeVar("T")


def with_valid_text(item: T) -> T:
    """An engine's event or answer (a frozen dataclass) with every unpaired surrogate in its
    text replaced by U+FFFD: what WhatsApp sends is kept, but no database, API answer or
    webhook could encode such a character (`core/text.py`). The item itself when it has none,
    which is all but always."""
    if isinstance(item, HistoryBatch):
        messages = tuple(with_valid_text(m) for m in item.messages)
        changed = any(a is not b for a, b in zip(messages, item.messages, strict=True))
        return dataclasses.replace(item, messages=messages) if changed else item
    changes = {}
    kind: type = type(item)
    for name in _field_names(kind):
        value = getattr(item, name)
        if isinstance(value, str | dict | list | tuple):
            fixed = repaired(value)
            if fixed is not value:
                changes[name] = fixed
    return dataclasses.replace(item, **changes) if changes else item  # type: ignore[type-var]


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


CHAT_PRESENCE_STATES = ("typing", "recording", "paused")
PRESENCE_STATES = ("available", "unavailable")
# How the account shows online (CONTRACT §8.1 `presence_mode`), as engines are told it with
# `Engine.set_presence_mode`: `always_online` sends `available` at every connect; `on_demand`
# (the default, and what an engine assumes until told) shows the account online only around an
# act that needs it (a presence subscription), then `unavailable` again: a linked device that is
# online silences the phone's notifications.
ALWAYS_ONLINE = "always_online"
ON_DEMAND = "on_demand"
ENGINE_PRESENCE_MODES = (ON_DEMAND, ALWAYS_ONLINE)


class EngineError(Exception):
    """The engine could not do what was asked; `code` is safe to show to clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OutboundMessage:
    """A message to send, as the engine needs it: recipient JID, type, content fields, and
    the media bytes already fetched (engines never read a path or URL a user gave)."""

    wa_message_id: str  # chosen by the gateway, so a resend after a crash reuses it
    to_jid: str
    type: str
    content: dict[str, Any]
    media: bytes | None = None
    reply_to: str | None = None
    mentions: tuple[str, ...] = ()
    # The quoted (reply) or reacted-to message, where the gateway knows it: its sender's JID
    # (the account's own for a message the device sent), whether the device sent it, its text.
    quoted_sender: str | None = None
    quoted_from_me: bool = False
    quoted_text: str | None = None
    # preview_url: the link preview the gateway fetched ({"url", "title", "description"}),
    # None for none; an engine never fetches a preview by itself.
    link_preview: dict[str, str] | None = None


@dataclass(frozen=True)
class SentMessage:
    wa_message_id: str
    sent_at: datetime


class SendError(EngineError):
    """A send failed. `retry_after` is set for WhatsApp's rate limiting; `permanent` means
    retrying cannot help (e.g. not_on_whatsapp)."""

    def __init__(
        self, code: str, message: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(code, message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class GroupMember:
    """One participant of a group (CONTRACT §8.3): `jid` as WhatsApp names it (a phone JID
    or a LID), with the other form where known."""

    jid: str
    phone: str | None = None
    lid: str | None = None
    admin: bool = False


@dataclass(frozen=True)
class GroupInfo:
    jid: str
    name: str
    participants: tuple[str, ...]
    owner: str | None = None
    # The members who are admins (the owner included), as in `participants`.
    admins: tuple[str, ...] = ()
    # CONTRACT §8.3: the group as `GET /devices/{id}/groups` shows it (`name` is its subject).
    description: str | None = None
    announce: bool = False
    locked: bool = False
    created_at: datetime | None = None
    members: tuple[GroupMember, ...] = ()


@dataclass(frozen=True)
class Profile:
    jid: str
    phone: str | None
    name: str | None
    about: str | None
    picture_url: str | None = None


@dataclass(frozen=True)
class ContactCheck:
    query: str
    on_whatsapp: bool
    jid: str | None = None
    lid: str | None = None


@dataclass(frozen=True)
class Contact:
    """A contact the account knows (CONTRACT §8.4 `GET /contacts`): from the session's
    contact store (push names of whoever wrote, names the phone synced, business names).
    `jid` is how WhatsApp addresses it; `phone` and `lid` where known."""

    jid: str
    phone: str | None = None
    lid: str | None = None
    name: str | None = None
    push_name: str | None = None
    business_name: str | None = None


@dataclass
class EngineHealth:
    ok: bool
    detail: dict[str, object] = field(default_factory=dict)


class Engine(Protocol):
    """What a WhatsApp engine offers the gateway. Methods return once the request is taken;
    outcomes arrive as events through the sink given to `start`."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Begin running; events flow to `sink`, awaited in order per device."""

    async def shutdown(self) -> None:
        """Close every session without logging out (a restart restores them)."""

    async def begin_pairing(self, device_id: str, epoch: int) -> None:
        """Open a pairing window: QR codes rotate until a scan or the window's end."""

    async def request_pairing_code(self, device_id: str, epoch: int, phone: str) -> str:
        """Within the open pairing window, ask for an 8-character code for `phone`."""

    async def restore(self, device_id: str, epoch: int) -> None:
        """Reconnect a linked device from its stored session (no scan)."""

    async def close(self, device_id: str) -> None:
        """Stop this device's session without unlinking; no events follow."""

    async def closes_recorded(self, timeout: float) -> None:
        """Return once the network has recorded the ends of the sessions closed here (at most
        `timeout`). A node handing devices over waits for it before it releases them, so
        that their next owner's sessions never find these still live ("replaced")."""

    async def logout(self, device_id: str) -> None:
        """Unlink the device from the phone and erase its session material; no events follow."""

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        """Send on a connected device; raises SendError. Sending the same wa_message_id again
        must not show the recipient a second message (WhatsApp dedupes by id)."""

    async def send_typing(self, device_id: str, to_jid: str, seconds: float) -> None:
        """Show "typing…" to the recipient for about `seconds` before a message."""

    async def mark_read(
        self, device_id: str, chat: str, sender: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        """Send read receipts (blue ticks) for inbound messages of `chat` that `sender` sent
        (in a one-to-one chat the sender is the chat). Raises EngineError `not_connected`."""

    async def send_chat_presence(self, device_id: str, chat: str, state: str) -> None:
        """Show `typing`, `recording` or clear (`paused`) the indicator in `chat`."""

    async def send_presence(self, device_id: str, state: str) -> None:
        """The account's own online state: `available` or `unavailable`."""

    async def edit_message(
        self, device_id: str, chat: str, wa_message_id: str, new_content: dict[str, str]
    ) -> None:
        """Edit a message the device sent in `chat`: `new_content` is `{"text": …}` for a
        text, `{"caption": …, "type": "image"|"video"|"document"}` for a caption.
        Raises EngineError `not_connected`."""

    async def revoke_message(
        self, device_id: str, chat: str, sender: str, wa_message_id: str
    ) -> None:
        """Delete a message for everyone; `sender` is who wrote it (the account itself for
        its own message). Raises EngineError `not_connected`."""

    async def reject_call(self, device_id: str, call_id: str, caller: str) -> None:
        """Decline an incoming call (`IncomingCall` with state `offer`): the caller sees it
        declined. `caller` is the event's `caller`. Raises EngineError `not_connected`."""

    async def groups(self, device_id: str) -> list[GroupInfo]:
        """Groups the device's account is in."""

    async def profile(self, device_id: str, jid: str) -> Profile:
        """Name, about text and picture of a user (EngineError `not_found` if unknown)."""

    async def check_contacts(self, device_id: str, phones: list[str]) -> list[ContactCheck]:
        """Which numbers are on WhatsApp, with their phone JID and LID where known."""

    async def health(self) -> EngineHealth: ...

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        """How the account shows online (`ENGINE_PRESENCE_MODES`); the gateway tells it after
        every `Connected`. `always_online`: `available` now when connected (and at every
        reconnect the gateway reports it again); switching to `on_demand` while the account
        shows online sends `unavailable`."""

    async def subscribe_presence(self, device_id: str, jid: str) -> None:
        """Ask WhatsApp for `jid`'s presence: its answer and later changes arrive as
        `PresenceUpdate` while the account shows online (`on_demand`: `available` before the
        subscription, `unavailable` after). Raises EngineError `not_connected`."""

    # --- the account itself (CONTRACT §8.4): restart, own profile, blocking ------------------

    async def reconnect(self, device_id: str) -> None:
        """Drop the linked device's connection and connect again from its stored session,
        without unlinking: a `ConnectionLost` then a `Connected(reconnected=True)` follow.
        Raises EngineError `not_connected` when the device has no live linked session."""

    async def update_own_profile(
        self,
        device_id: str,
        name: str | None = None,
        about: str | None = None,
        picture: bytes | None = None,
    ) -> None:
        """Change the account's own push name, about text and/or picture (JPEG/PNG bytes);
        None leaves that part as it is. Raises EngineError `not_connected`."""

    async def set_blocked(self, device_id: str, jid: str, blocked: bool) -> None:
        """Block (`blocked=True`) or unblock a contact (a user JID). Raises EngineError
        `not_connected`."""

    async def blocklist(self, device_id: str) -> list[str]:
        """The JIDs the account has blocked. Raises EngineError `not_connected`."""

    async def contacts(self, device_id: str) -> list[Contact]:
        """The contacts the account's session knows (CONTRACT §8.4). Raises EngineError
        `not_connected`."""

    async def set_history_limit(self, device_id: str, limit: int) -> None:
        """How many messages of the history WhatsApp sends after linking the device's
        current session may hand over as `HistoryBatch` (0, the default of every session:
        none). The engine stops mapping messages once the limit is reached, so a large
        history costs no more than the limit. Told when a pairing window opens, when the
        device's `history_sync` changes while it pairs, and at a restore."""

    async def update_group(self, device_id: str, group: str, changes: dict[str, Any]) -> None:
        """Change a group's `subject`, `description`, `announce` and/or `locked` (CONTRACT
        §8.3). Raises EngineError `not_found` (not in that group), `not_group_admin`."""

    async def update_group_participants(
        self, device_id: str, group: str, action: str, participants: list[str]
    ) -> list[GroupParticipantChange]:
        """`GROUP_PARTICIPANT_ACTIONS` on phone JIDs: what became of each. Raises EngineError
        `not_found`, `not_group_admin`; nothing changes then."""

    async def leave_group(self, device_id: str, group: str) -> None:
        """The account leaves the group. Raises EngineError `not_found`."""

    async def create_group(
        self, device_id: str, subject: str, participants: list[str]
    ) -> GroupInfo:
        """A new group with the account as its owner and admin, and those of `participants`
        (phone JIDs) that can be added."""

    async def group_invite_link(self, device_id: str, group: str, reset: bool) -> str:
        """The group's invite link (https://chat.whatsapp.com/…), a new one with `reset`
        (the old one stops working). Raises EngineError `not_found`, `not_group_admin`."""

    async def join_group(self, device_id: str, code: str) -> GroupInfo:
        """Join by an invite link's code. Raises EngineError `not_found` (unknown or reset)."""


# CONTRACT §8.3: what can be done to a group's participants, and what became of each.
GROUP_PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
GROUP_PARTICIPANT_STATUSES = (
    "ok",
    "not_on_whatsapp",
    "privacy_restricted",
    "already_member",
    "not_member",
    "error",
)
GROUP_SETTINGS = ("subject", "description", "announce", "locked")


@dataclass(frozen=True)
class GroupParticipantChange:
    jid: str
    phone: str | None
    status: str


@dataclass(frozen=True)
class GroupChanged(EngineEvent):
    """Someone changed a group the account is in (CONTRACT §8.2): `kind` is
    `group_participants` (`action`, `participants`), `group_updated` (`changes`: the changed
    `subject`, `description`, `announce`, `locked`) or `group_joined` (the account was added
    or joined by link; `subject`). `by` names who did it (a phone number, else a JID)."""

    kind: str
    group: str
    by: str | None = None
    action: str | None = None
    participants: tuple[str, ...] = ()
    changes: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None


INVITE_LINK_PREFIX = "https://chat.whatsapp.com/"
