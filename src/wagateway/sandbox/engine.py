"""The sandbox engine: a simulated WhatsApp network inside the gateway (CONTRACT §6).

It behaves like whatsmeow from the gateway's side of the Engine protocol: QR windows with
WhatsApp's timings (scaled by WAGW_SANDBOX_TIME_SCALE), pairing by scan or by code, a
session store it restores from, drops that reconnect by themselves, and logouts from the
"phone". Its session store lives in the database so that a restart restores devices.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import Database, table_of, upsert_insert, utcnow
from wagateway.core.joined_reads import JoinedReads
from wagateway.core.joined_writes import JoinedWrites
from wagateway.core.settings import Settings
from wagateway.engines.base import (
    ALWAYS_ONLINE,
    GROUP_SETTINGS,
    HISTORY_BATCH_SIZE,
    INVITE_LINK_PREFIX,
    ON_DEMAND,
    QR_CODE_LIFETIMES,
    ChatPresence,
    Connected,
    ConnectionLost,
    Contact,
    ContactCheck,
    EngineError,
    EngineEvent,
    EngineHealth,
    EventSink,
    GroupChanged,
    GroupInfo,
    GroupMember,
    GroupParticipantChange,
    HistoryBatch,
    InboundMessage,
    IncomingCall,
    MessageEdited,
    MessageRevoked,
    OutboundMessage,
    OwnerRead,
    PairingWindowEnded,
    PollVote,
    PresenceUpdate,
    Profile,
    QrCode,
    Receipt,
    ReceiptStatus,
    SendError,
    SentMessage,
    SessionEnded,
    poll_option_hash,
)
from wagateway.sandbox import groups as group_world
from wagateway.sandbox.models import (
    SandboxGroup,
    SandboxGroupMember,
    SandboxNetworkEntry,
    SandboxReceived,
    SandboxSession,
)
from wagateway.sandbox.witness import SessionWitness

log = structlog.get_logger(__name__)

QR_WINDOW_FLOOR_SECONDS = 2.0
# Pairing codes use an alphabet without look-alike characters, like WhatsApp's.
PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"
# Simulated recipients (CONTRACT §6): numbers starting 999 are not on WhatsApp; numbers
# ending 00 receive but never read (so integrators can test a message stuck at delivered).
NOT_ON_WHATSAPP_PREFIX = "999"
# Numbers ending so refuse to be added to groups (their privacy settings; CONTRACT §8.5).
PRIVACY_RESTRICTED_SUFFIX = "77"
NEVER_READS_SUFFIX = "00"
SANDBOX_GROUP_JID = "120363012345678901@g.us"
GROUP_PARTICIPANTS = ("6281100000001@s.whatsapp.net", "6281100000002@s.whatsapp.net")
SANDBOX_GROUP_CREATED_AT = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
# Media above this is hashed off the event loop (the network log's sha256).
HASH_INLINE_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Record:
    """One act on the simulated network: its network-log row and, for a message, its row
    in the record of what recipients received (deduped by wa_message_id)."""

    network: dict[str, Any]
    received: dict[str, Any] | None = None


def _log_failed_record(recorded: asyncio.Future[None]) -> None:
    if not recorded.cancelled() and recorded.exception() is not None:
        log.error("sandbox_record_failed", error=str(recorded.exception()))


def qr_lifetimes(time_scale: float) -> list[float]:
    """Per-code lifetimes after scaling; the whole window never shrinks below the floor."""
    total = sum(QR_CODE_LIFETIMES)
    factor = max(time_scale, QR_WINDOW_FLOOR_SECONDS / total)
    return [lifetime * factor for lifetime in QR_CODE_LIFETIMES]


async def read_stored_sessions(
    session: AsyncSession, device_ids: list[str]
) -> dict[str, SandboxSession]:
    rows = await session.scalars(
        select(SandboxSession).where(SandboxSession.device_id.in_(device_ids))
    )
    return {stored.device_id: stored for stored in rows}


def _b64(n: int) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def make_qr_string() -> str:
    # Shaped like whatsmeow's: ref,noise public key,identity key,adv secret.
    return f"2@{_b64(36)},{_b64(32)},{_b64(32)},{_b64(32)}"


def sandbox_lid(phone: str) -> str:
    """A stable, made-up LID for a phone number (real LIDs are opaque numbers too)."""
    digest = hashlib.sha256(phone.encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**14:014d}@lid"


def sandbox_push_name(phone: str) -> str:
    """A simulated contact's push name: what its messages carry (`push_name`) and what its
    profile answers as `name`."""
    return f"Sandbox {phone[-4:]}"


def sandbox_picture_url(user: str) -> str | None:
    """A simulated contact's profile picture URL (a `.invalid` host: never fetchable); numbers
    ending in 0 show none, as a contact without a picture or hiding it does."""
    if user.endswith("0"):
        return None
    return f"https://pictures.sandbox.invalid/{user}.jpg"


def make_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))


@dataclass
class _Sim:
    """What the simulated network knows about one device's current session."""

    epoch: int
    task: asyncio.Task[None] | None = None
    qr: str | None = None
    pairing: tuple[str, str] | None = None  # (code, phone)
    online: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    receipt_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    recent_sends: list[float] = field(default_factory=list)
    rejected_calls: set[str] = field(default_factory=set)
    # The account's own presence on this connection (a new connection starts unavailable)
    # and the contacts whose presence it subscribed to (WhatsApp sends presence only to
    # subscribed clients that show online).
    available: bool = False
    subscriptions: set[str] = field(default_factory=set)
    # How many history messages this session may still hand over (`set_history_limit`).
    history_left: int = 0


class SandboxEngine:
    name = "sandbox"

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self._sink: EventSink | None = None
        self._sims: dict[str, _Sim] = {}
        self._qr_index: dict[str, str] = {}  # qr string → device_id
        self._code_index: dict[str, str] = {}  # pairing code → device_id
        # The durable record of what the network received and its log of every act: each
        # act recorded while the write waits joins it, whatever its device (one statement
        # per table for the lot).
        self._records: JoinedWrites[None, _Record] = JoinedWrites(db, self._write_records)
        self._last_recorded: asyncio.Future[None] | None = None
        # presence_mode per device, as the gateway told it (on_demand until told).
        self._presence_modes: dict[str, str] = {}
        # The simulated network's knowledge of contacts' presence, per device and contact JID:
        # (available | unavailable, last seen). What a subscription is answered with.
        self._contact_presence: dict[tuple[str, str], tuple[str, datetime]] = {}
        # The simulated contact store, per device: the phone numbers of contacts that wrote to
        # it (as whatsmeow saves the push name of every message received), oldest first.
        self._known_contacts: dict[str, dict[str, None]] = {}
        # A restart brings every session back at once: their stored sessions are read
        # together, a query (and one read connection) for many instead of a snapshot each.
        self._stored_sessions: JoinedReads[str, SandboxSession] = JoinedReads(
            db, read_stored_sessions
        )
        # The network's record of live sessions (several nodes: `witness.py`); the gateway
        # gives it the node's identity and connection.
        self.witness = SessionWitness(db)
        self.use_witness(self.witness)

    def use_witness(self, witness: SessionWitness) -> None:
        self.witness = witness
        witness.on_replaced = self._replaced

    # --- Engine protocol ----------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def shutdown(self) -> None:
        for device_id in list(self._sims):
            await self.close(device_id)
        await self._acts_written()

    async def begin_pairing(self, device_id: str, epoch: int) -> None:
        await self.close(device_id)
        sim = _Sim(epoch=epoch)
        self._sims[device_id] = sim
        sim.task = asyncio.create_task(self._pairing_window(device_id, sim), name=f"qr:{device_id}")

    async def request_pairing_code(self, device_id: str, epoch: int, phone: str) -> str:
        sim = self._sims.get(device_id)
        if sim is None or sim.epoch != epoch or sim.qr is None:
            raise EngineError("no_pairing_window", "no open pairing window for this device")
        async with sim.lock:
            if sim.pairing:
                self._code_index.pop(sim.pairing[0], None)
            code = make_pairing_code()
            sim.pairing = (code, phone)
            self._code_index[code] = device_id
        return code

    async def restore(self, device_id: str, epoch: int) -> None:
        await self.close(device_id)
        sim = _Sim(epoch=epoch)
        self._sims[device_id] = sim
        sim.task = asyncio.create_task(self._restore(device_id, sim), name=f"restore:{device_id}")

    async def close(self, device_id: str) -> None:
        await self._end_session(device_id, "closed")

    async def closes_recorded(self, timeout: float) -> None:
        await self.witness.closes_written(timeout)

    async def logout(self, device_id: str) -> None:
        await self._end_session(device_id, "logged_out")
        await self._erase_session(device_id)

    async def _end_session(self, device_id: str, reason: str) -> _Sim | None:
        """End the device's session here, if it has one (which is returned)."""
        sim = self._sims.pop(device_id, None)
        if sim is None:
            return None
        async with sim.lock:
            await self._stop_task(sim)
            self._forget_codes(sim)
            if sim.online:
                self._log(device_id, "disconnect", reason=reason)
                await self.witness.closed(device_id, reason)
            sim.online = False
        return sim

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        """Deliver to the simulated network: recorded durably (deduped by wa_message_id, as
        WhatsApp recipients do), then receipts follow on the configured delays."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise SendError("not_connected", "the device is not online", permanent=False)
        recipient = message.to_jid.partition("@")[0]
        if message.to_jid.endswith("@s.whatsapp.net") and recipient.startswith(
            NOT_ON_WHATSAPP_PREFIX
        ):
            raise SendError("not_on_whatsapp", f"{recipient} is not on WhatsApp", permanent=True)
        self._throttle(sim)
        detail: dict[str, Any] = {
            "to": message.to_jid,
            "wa_message_id": message.wa_message_id,
            "type": message.type,
        }
        if message.type == "text":  # what the contact reads (an edit while queued shows here)
            detail["text"] = message.content.get("text")
        if message.reply_to:
            detail["reply_to"] = message.reply_to
            detail["quoted_sender"] = message.quoted_sender
        if message.link_preview:
            detail["preview"] = dict(message.link_preview)
        if message.type == "reaction":
            detail["reaction_to"] = message.content.get("message_id")
            detail["from_me"] = message.quoted_from_me
            detail["quoted_sender"] = message.quoted_sender
        if message.media is not None:
            detail["size"] = len(message.media)
            detail["sha256"] = (
                hashlib.sha256(message.media)
                if len(message.media) <= HASH_INLINE_MAX_BYTES
                else await asyncio.to_thread(hashlib.sha256, message.media)
            ).hexdigest()
        now = utcnow()

        # Not awaited: the send's own bookkeeping (OutboundQueue) is submitted after this
        # returns, so it commits in the same group or a later one, never before the record.
        # A crash before that commit leaves the message `sending`, resent with the same id
        # and recorded once more in the log (received once); and the next message need not
        # wait for this commit.
        self._add_record(
            _Record(
                network={"device_id": device_id, "kind": "message", "at": now, "detail": detail},
                received={
                    "wa_message_id": message.wa_message_id,
                    "device_id": device_id,
                    "to_jid": message.to_jid,
                    "type": message.type,
                    "first_received_at": now,
                    "times_received": 1,
                },
            )
        )
        task = asyncio.create_task(self._receipts(device_id, sim, message))
        sim.receipt_tasks.add(task)
        task.add_done_callback(sim.receipt_tasks.discard)
        return SentMessage(wa_message_id=message.wa_message_id, sent_at=now)

    def _log(self, device_id: str, kind: str, **detail: Any) -> None:
        """Record an act of the device other than a message in the network log."""
        self._add_record(
            _Record(
                network={"device_id": device_id, "kind": kind, "at": utcnow(), "detail": detail}
            )
        )

    def _add_record(self, record: _Record) -> None:
        recorded = self._records.add(None, record)
        if recorded is not self._last_recorded:
            recorded.add_done_callback(_log_failed_record)
            self._last_recorded = recorded

    async def _write_records(self, session: AsyncSession, _: None, records: list[_Record]) -> None:
        """One statement per table for every act recorded in this write: the log gets a
        row each; the record of what was received the first receipt of an id, or one more
        time the same id (a resend, which recipients dedupe)."""
        received = [r.received for r in records if r.received is not None]
        if received:
            table = table_of(SandboxReceived)
            upsert = upsert_insert(self._db, table).on_conflict_do_update(
                index_elements=[table.c.wa_message_id],
                set_={"times_received": table.c.times_received + 1},
            )
            await session.execute(upsert, received)
        await session.execute(insert(table_of(SandboxNetworkEntry)), [r.network for r in records])

    async def _acts_written(self) -> None:
        """Wait until every act recorded so far is in the database: writes commit in order,
        so the last one done means all are."""
        if self._last_recorded is not None:
            await asyncio.gather(self._last_recorded, return_exceptions=True)

    async def network_of(self, device_id: str) -> list[SandboxNetworkEntry]:
        """The device's log, every act it did before this call included (a client reads
        back what its last call did)."""
        await self._acts_written()
        async with self._db.read() as session:
            stmt = (
                select(SandboxNetworkEntry)
                .where(SandboxNetworkEntry.device_id == device_id)
                .order_by(SandboxNetworkEntry.seq)
            )
            return list((await session.execute(stmt)).scalars())

    async def received_from(self, device_id: str) -> list[SandboxReceived]:
        await self._acts_written()
        async with self._db.read() as session:
            stmt = (
                select(SandboxReceived)
                .where(SandboxReceived.device_id == device_id)
                .order_by(SandboxReceived.first_received_at)
            )
            return list((await session.execute(stmt)).scalars())

    async def send_typing(self, device_id: str, to_jid: str, seconds: float) -> None:
        if device_id not in self._sims:
            raise EngineError("not_connected", "the device is not online")

    async def mark_read(
        self, device_id: str, chat: str, sender: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        """Blue ticks for the contact: recorded in the network log (kind `read`)."""
        self._require_online(device_id)
        ids = list(wa_message_ids)
        if not ids:
            return
        self._log(
            device_id, "read", chat=chat, sender=sender, wa_message_id=ids[-1], wa_message_ids=ids
        )

    async def send_chat_presence(self, device_id: str, chat: str, state: str) -> None:
        self._require_online(device_id)
        self._log(device_id, "chat_presence", chat=chat, state=state)

    async def send_presence(self, device_id: str, state: str) -> None:
        sim = self._require_online(device_id)
        self._set_own_presence(device_id, sim, state)

    def _set_own_presence(self, device_id: str, sim: _Sim, state: str, **why: str) -> None:
        sim.available = state == "available"
        self._log(device_id, "presence", state=state, **why)

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        """always_online: the account goes available now (logged `presence`, `reason:
        "always_online"`), as at every connect the gateway reports; on_demand while it shows
        online: unavailable."""
        self._presence_modes[device_id] = mode
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            return
        if mode == ALWAYS_ONLINE and not sim.available:
            self._set_own_presence(device_id, sim, "available", reason=ALWAYS_ONLINE)
        elif mode == ON_DEMAND and sim.available:
            self._set_own_presence(device_id, sim, "unavailable", reason=ON_DEMAND)

    async def subscribe_presence(self, device_id: str, jid: str) -> None:
        """Logged as `presence_subscribe` (`jid`). on_demand: `presence` available before and
        unavailable after (`reason: "on_demand"`). The network answers with the contact's
        presence where it knows it, as a PresenceUpdate that arrives shortly after."""
        sim = self._require_online(device_id)
        wrap = self._presence_modes.get(device_id, ON_DEMAND) == ON_DEMAND and not sim.available
        if wrap:
            self._set_own_presence(device_id, sim, "available", reason=ON_DEMAND)
        sim.subscriptions.add(jid)
        self._log(device_id, "presence_subscribe", jid=jid)
        known = self._contact_presence.get((device_id, jid))
        if known is not None:
            update = PresenceUpdate(
                device_id, sim.epoch, jid=jid, presence=known[0], last_seen=known[1]
            )
            task = asyncio.create_task(self._answer_subscription(sim, update))
            sim.receipt_tasks.add(task)
            task.add_done_callback(sim.receipt_tasks.discard)
        if wrap:
            self._set_own_presence(device_id, sim, "unavailable", reason=ON_DEMAND)

    async def _answer_subscription(self, sim: _Sim, update: PresenceUpdate) -> None:
        async with sim.lock:
            await self._emit(update)

    async def edit_message(
        self, device_id: str, chat: str, wa_message_id: str, new_content: dict[str, str]
    ) -> None:
        """An edit of a sent message: recorded in the network log (kind `edit`)."""
        self._require_online(device_id)
        text = new_content.get("text", new_content.get("caption", ""))
        self._log(device_id, "edit", chat=chat, wa_message_id=wa_message_id, text=text)

    async def revoke_message(
        self, device_id: str, chat: str, sender: str, wa_message_id: str
    ) -> None:
        """A delete for everyone: recorded in the network log (kind `revoke`)."""
        self._require_online(device_id)
        self._log(device_id, "revoke", chat=chat, sender=sender, wa_message_id=wa_message_id)

    async def reject_call(self, device_id: str, call_id: str, caller: str) -> None:
        """The device declines a call: recorded in the network log (kind `call_reject`)."""
        sim = self._require_online(device_id)
        sim.rejected_calls.add(call_id)
        self._log(device_id, "call_reject", call_id=call_id, to=caller)

    def _throttle(self, sim: _Sim) -> None:
        limit = self._settings.sandbox_rate_limit_per_minute
        if not limit:
            return
        now = time.monotonic()
        window = max(60.0 * self._settings.sandbox_time_scale, 1.0)
        sim.recent_sends[:] = [t for t in sim.recent_sends if now - t < window]
        if len(sim.recent_sends) >= limit:
            retry_after = window - (now - sim.recent_sends[0])
            raise SendError(
                "provider_rate_limit",
                "sandbox: too many messages from this device (simulated WhatsApp throttling)",
                permanent=False,
                retry_after=max(retry_after, 0.05),
            )
        sim.recent_sends.append(now)

    async def _receipts(self, device_id: str, sim: _Sim, message: OutboundMessage) -> None:
        """delivered, then read (then played for voice notes), unless the recipient never
        reads. In a group two simulated participants answer, the second one late."""
        recipient = message.to_jid.partition("@")[0]
        reads = not recipient.endswith(NEVER_READS_SUFFIX)
        plays = message.type == "audio" and bool(message.content.get("ptt"))
        participants: list[str | None] = (
            list(GROUP_PARTICIPANTS) if message.to_jid.endswith("@g.us") else [None]
        )
        steps: list[tuple[ReceiptStatus, float, str | None]] = []
        for participant in participants:
            steps.append(
                (ReceiptStatus.DELIVERED, self._settings.sandbox_delivered_delay, participant)
            )
            if reads:
                steps.append((ReceiptStatus.READ, self._settings.sandbox_read_delay, participant))
                if plays:
                    steps.append(
                        (ReceiptStatus.PLAYED, self._settings.sandbox_read_delay, participant)
                    )
        for status, delay, participant in steps:
            await asyncio.sleep(self._settings.sandbox_delay(delay))
            async with sim.lock:
                # Handed over under the lock (its place in the device's order, and its
                # epoch, are fixed here), but written without holding it: the next
                # message's receipts need not wait for this one's commit, and can share it.
                written = self._hand_over(
                    Receipt(
                        device_id,
                        sim.epoch,
                        wa_message_ids=(message.wa_message_id,),
                        status=status,
                        chat=message.to_jid,
                        participant=participant,
                        at=utcnow(),
                    )
                )
            await written

    async def health(self) -> EngineHealth:
        return EngineHealth(ok=self._sink is not None, detail={"sessions": len(self._sims)})

    # --- the simulated phone and network (sandbox controls) ----------------------------

    def device_for_qr(self, qr: str) -> str | None:
        return self._qr_index.get(qr)

    def device_for_pairing_code(self, code: str) -> str | None:
        return self._code_index.get(code.replace("-", "").strip().upper())

    async def scan(self, device_id: str, qr: str, phone: str) -> None:
        """A phone scans the device's current QR and links as `phone`."""
        sim = self._sims.get(device_id)
        if sim is None or sim.qr != qr:
            raise EngineError("qr_not_active", "this QR is not the device's current code")
        await self._link(device_id, sim, phone)

    async def enter_pairing_code(self, device_id: str, code: str) -> None:
        sim = self._sims.get(device_id)
        code = code.replace("-", "").strip().upper()
        if sim is None or sim.pairing is None or sim.pairing[0] != code:
            raise EngineError("pairing_code_not_active", "this pairing code is not active")
        await self._link(device_id, sim, sim.pairing[1])

    async def drop(self, device_id: str) -> None:
        """The socket drops; the device reconnects by itself after a (scaled) delay."""
        sim = self._online_sim(device_id)
        async with sim.lock:
            if not sim.online:
                raise EngineError("not_online", "the device is already reconnecting")
            sim.online = False
            sim.available = False
            self._log(device_id, "disconnect", reason="dropped")
            await self.witness.closed(device_id, "dropped")
            await self._emit(ConnectionLost(device_id, sim.epoch, error="sandbox: socket dropped"))
        sim.task = asyncio.create_task(
            self._reconnect(device_id, sim), name=f"reconnect:{device_id}"
        )

    async def contact_writes(
        self,
        device_id: str,
        sender_phone: str,
        type: str = "text",
        content: dict[str, object] | None = None,
        media: bytes | None = None,
        forwarded: bool = False,
        reply_to: str | None = None,
        mentions: tuple[str, ...] = (),
        group: str | None = None,
    ) -> str:
        """A contact sends the device a message (in `group`, a group JID, when given: the
        sandbox group, where the account is the admin, or any other, where it is a member);
        returns its WhatsApp message id."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        wa_message_id = "3EB0" + secrets.token_hex(9).upper()
        contact = f"{sender_phone}@s.whatsapp.net"
        chat = group or contact
        self._contact_presence[(device_id, contact)] = ("available", utcnow())
        self._known_contacts.setdefault(device_id, {})[sender_phone] = None
        async with sim.lock:
            await self._emit(
                PresenceUpdate(
                    device_id, sim.epoch, jid=contact, presence="available", last_seen=utcnow()
                )
            )
            await self._emit(
                _written(
                    device_id,
                    sim.epoch,
                    wa_message_id,
                    chat,
                    sender_phone,
                    sandbox_push_name(sender_phone),
                    type,
                    content,
                    media,
                    forwarded=forwarded,
                    reply_to=reply_to,
                    mentions=mentions,
                )
            )
        return wa_message_id

    async def owner_writes(
        self,
        device_id: str,
        to_jid: str,
        type: str = "text",
        content: dict[str, object] | None = None,
        media: bytes | None = None,
        forwarded: bool = False,
        reply_to: str | None = None,
        mentions: tuple[str, ...] = (),
    ) -> str:
        """The account's owner sends a message to `to_jid` from the phone: WhatsApp reports
        it to the device as the account's own (`from_me`, CONTRACT §8.5). Returns its id."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        async with self._db.read() as session:
            stored = await session.get(SandboxSession, device_id)
        if stored is None:
            raise EngineError("not_online", "the device has no sandbox session")
        wa_message_id = "3EB0" + secrets.token_hex(9).upper()
        async with sim.lock:
            await self._emit(
                _written(
                    device_id,
                    sim.epoch,
                    wa_message_id,
                    to_jid,
                    stored.phone,
                    "Sandbox owner",
                    type,
                    content,
                    media,
                    forwarded=forwarded,
                    reply_to=reply_to,
                    mentions=mentions,
                    from_me=True,
                )
            )
        return wa_message_id

    async def set_history_limit(self, device_id: str, limit: int) -> None:
        sim = self._sims.get(device_id)
        if sim is not None:
            sim.history_left = max(0, limit)

    async def send_history(self, device_id: str, chats: int, messages_per_chat: int) -> int:
        """The network sends the history WhatsApp sends a newly linked device (CONTRACT
        §8.5): `chats` one-to-one chats, the most recent first, each with `messages_per_chat`
        messages a minute apart, the contact's and the owner's in turn. The session hands
        them over as `HistoryBatch`es until its history limit is reached (then one last batch
        reports progress 100); each batch is written before the next is made, as a worker
        hands them over. Nothing is handed over in a session without a history limit left.
        Returns how many messages the network sent."""
        sim = self._require_online(device_id)
        total = chats * messages_per_chat
        if sim.history_left <= 0:
            return total
        async with self._db.read() as session:
            stored = await session.get(SandboxSession, device_id)
        owner = stored.phone if stored is not None else ""
        batch: list[InboundMessage] = []
        sent = 0
        for message in _history(device_id, sim.epoch, owner, chats, messages_per_chat):
            if sim.history_left <= 0:
                break
            sim.history_left -= 1
            sent += 1
            batch.append(message)
            if len(batch) == HISTORY_BATCH_SIZE:
                await self._emit(_history_batch(device_id, sim.epoch, batch, sent * 100 // total))
                batch = []
        if batch or sent < total or not total:
            await self._emit(_history_batch(device_id, sim.epoch, batch, 100))
        return total

    async def contact_revokes(self, device_id: str, sender_phone: str, wa_message_id: str) -> None:
        """The contact deletes one of its messages for everyone."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        async with sim.lock:
            await self._emit(
                MessageRevoked(
                    device_id,
                    sim.epoch,
                    wa_message_id=wa_message_id,
                    chat=f"{sender_phone}@s.whatsapp.net",
                    sender=sender_phone,
                    by=sender_phone,
                )
            )

    async def contact_edits(
        self, device_id: str, sender_phone: str, wa_message_id: str, text: str
    ) -> None:
        """The contact edits one of its messages: `text` is its new text (or caption)."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        async with sim.lock:
            await self._emit(
                MessageEdited(
                    device_id,
                    sim.epoch,
                    wa_message_id=wa_message_id,
                    chat=f"{sender_phone}@s.whatsapp.net",
                    sender_phone=sender_phone,
                    sender_lid=sandbox_lid(sender_phone),
                    text=text,
                    edited_at=utcnow(),
                )
            )

    async def contact_votes(
        self,
        device_id: str,
        voter_phone: str,
        poll_wa_message_id: str,
        chat: str,
        options: list[str],
    ) -> None:
        """The contact votes on a poll in `chat`: its current choice, named by the options'
        hashes as WhatsApp names them (none chosen = the vote withdrawn)."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        async with sim.lock:
            await self._emit(
                PollVote(
                    device_id,
                    sim.epoch,
                    poll_wa_message_id=poll_wa_message_id,
                    chat=chat,
                    voter_phone=voter_phone,
                    voter_lid=sandbox_lid(voter_phone),
                    selected_hashes=tuple(poll_option_hash(o) for o in options),
                    voted_at=utcnow(),
                )
            )

    async def contact_presence(
        self, device_id: str, sender_phone: str, state: str, last_seen: datetime | None = None
    ) -> bool:
        """The contact comes online (`available`) or goes offline (`unavailable`, last seen
        `last_seen`, else now). The network remembers it (a later subscription is answered
        with it) and sends a `PresenceUpdate` only when the device subscribed to the contact
        and shows online, as WhatsApp does; returns whether it sent one."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        jid = f"{sender_phone}@s.whatsapp.net"
        seen = last_seen or utcnow()
        self._contact_presence[(device_id, jid)] = (state, seen)
        if jid not in sim.subscriptions or not sim.available:
            return False
        async with sim.lock:
            await self._emit(
                PresenceUpdate(device_id, sim.epoch, jid=jid, presence=state, last_seen=seen)
            )
        return True

    async def contact_chat_presence(self, device_id: str, sender_phone: str, state: str) -> None:
        """The contact starts or stops typing (or recording audio) in its chat with the
        device: `state` is typing, recording or paused."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        chat = f"{sender_phone}@s.whatsapp.net"
        async with sim.lock:
            await self._emit(ChatPresence(device_id, sim.epoch, chat=chat, jid=chat, state=state))

    async def contact_calls(
        self,
        device_id: str,
        caller_phone: str,
        *,
        video: bool = False,
        outcome: str = "missed",
    ) -> tuple[str, str]:
        """The contact calls the device: an `offer`, handed over and applied (the gateway may
        reject the call meanwhile, `reject_call`); then, unless it was rejected, the ring
        ends as `outcome` says: `missed` (nobody answered), or `accepted` (the owner answered
        on the phone) followed by `ended`. Returns (call id, the call's last state)."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        call_id = secrets.token_hex(16).upper()
        caller = f"{caller_phone}@s.whatsapp.net"

        def call(state: str) -> IncomingCall:
            return IncomingCall(
                device_id,
                sim.epoch,
                call_id=call_id,
                caller=caller,
                caller_phone=caller_phone,
                caller_lid=sandbox_lid(caller_phone),
                state=state,
                video=video,
                at=utcnow(),
            )

        async with sim.lock:
            await self._emit(call("offer"))
            if call_id in sim.rejected_calls:
                sim.rejected_calls.discard(call_id)
                return call_id, "rejected"
            states = ("accepted", "ended") if outcome == "accepted" else ("missed",)
            for state in states:
                await self._emit(call(state))
        return call_id, states[-1]

    # --- runtime queries ------------------------------------------------------------------

    def _require_online(self, device_id: str) -> _Sim:
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_connected", "the device is not online")
        return sim

    async def groups(self, device_id: str) -> list[GroupInfo]:
        self._require_online(device_id)
        return [_group_info(g, members) for g, members in await self._group_world(device_id)]

    async def profile(self, device_id: str, jid: str) -> Profile:
        self._require_online(device_id)
        user = jid.partition("@")[0]
        if jid.endswith("@s.whatsapp.net") and user.startswith(NOT_ON_WHATSAPP_PREFIX):
            raise EngineError("not_found", f"{user} is not on WhatsApp")
        phone = user if jid.endswith("@s.whatsapp.net") else None
        return Profile(
            jid=jid,
            phone=phone,
            name=sandbox_push_name(user),
            about="Hey there! I am using WhatsApp.",
            picture_url=sandbox_picture_url(user),
        )

    async def check_contacts(self, device_id: str, phones: list[str]) -> list[ContactCheck]:
        self._require_online(device_id)
        return [
            ContactCheck(query=p, on_whatsapp=False)
            if p.startswith(NOT_ON_WHATSAPP_PREFIX)
            else ContactCheck(
                query=p, on_whatsapp=True, jid=f"{p}@s.whatsapp.net", lid=sandbox_lid(p)
            )
            for p in phones
        ]

    async def phone_logout(self, device_id: str) -> None:
        """The user removes the device under "Linked devices" on the phone."""
        sim = self._online_sim(device_id)
        self._sims.pop(device_id, None)
        async with sim.lock:
            await self._stop_task(sim)
            if sim.online:
                self._log(device_id, "disconnect", reason="logged_out")
                await self.witness.closed(device_id, "logged_out")
            sim.online = False
            await self._erase_session(device_id)
            await self._emit(
                SessionEnded(
                    device_id, sim.epoch, reason="logged_out", detail="unlinked from the phone"
                )
            )

    # --- internals ------------------------------------------------------------------------

    def _online_sim(self, device_id: str) -> _Sim:
        sim = self._sims.get(device_id)
        if sim is None or not (sim.online or (sim.task and not sim.task.done())):
            raise EngineError("not_linked", "the device has no live sandbox session")
        return sim

    async def _emit(self, event: EngineEvent) -> None:
        await self._hand_over(event)

    def _hand_over(self, event: EngineEvent) -> Awaitable[None]:
        """The sink's awaitable for `event`. The gateway's sink (SessionRuntime.handle)
        takes the event's place in the order on the call itself, and a coroutine sink does
        so as soon as it is awaited, before anything else runs."""
        if self._sink is None:
            raise EngineError("engine_not_started", "sandbox engine not started")
        return self._sink(event)

    @staticmethod
    async def _stop_task(sim: _Sim) -> None:
        # Called with sim.lock held: the task is then sleeping or waiting for the lock, never
        # half-way through emitting an event, so cancelling it cannot cut an event in two.
        task, sim.task = sim.task, None
        tasks = [t for t in (task, *sim.receipt_tasks) if t and t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget_codes(self, sim: _Sim) -> None:
        if sim.qr:
            self._qr_index.pop(sim.qr, None)
            sim.qr = None
        if sim.pairing:
            self._code_index.pop(sim.pairing[0], None)
            sim.pairing = None

    async def _pairing_window(self, device_id: str, sim: _Sim) -> None:
        for lifetime in qr_lifetimes(self._settings.sandbox_time_scale):
            async with sim.lock:
                if sim.qr:
                    self._qr_index.pop(sim.qr, None)
                sim.qr = make_qr_string()
                self._qr_index[sim.qr] = device_id
                expires_at = utcnow() + timedelta(seconds=lifetime)
                await self._emit(QrCode(device_id, sim.epoch, code=sim.qr, expires_at=expires_at))
            await asyncio.sleep(lifetime)
        async with sim.lock:
            self._forget_codes(sim)
            if self._sims.get(device_id) is sim:
                del self._sims[device_id]
            await self._emit(PairingWindowEnded(device_id, sim.epoch))

    async def _link(self, device_id: str, sim: _Sim, phone: str) -> None:
        async with sim.lock:
            await self._stop_task(sim)
            self._forget_codes(sim)
            device_jid = f"{phone}:{secrets.randbelow(60) + 2}@s.whatsapp.net"
            linked_at = utcnow()
            async with self._db.transaction() as session:
                await session.execute(
                    delete(SandboxSession).where(SandboxSession.device_id == device_id)
                )
                session.add(
                    SandboxSession(
                        device_id=device_id, phone=phone, device_jid=device_jid, linked_at=linked_at
                    )
                )
            sim.online = True
            self._log(device_id, "connect", phone=phone, reconnected=False)
            await self.witness.opened(device_id)
            await self._emit(Connected(device_id, sim.epoch, phone, device_jid, linked_at))

    async def _restore(self, device_id: str, sim: _Sim) -> None:
        if not await self._come_back_online(device_id, sim):
            async with sim.lock:
                if self._sims.get(device_id) is sim:
                    del self._sims[device_id]
                await self._emit(
                    SessionEnded(
                        device_id, sim.epoch, reason="session_missing", detail="no stored session"
                    )
                )

    async def _reconnect(self, device_id: str, sim: _Sim) -> None:
        await asyncio.sleep(self._settings.sandbox_delay(self._settings.sandbox_reconnect_delay))
        await self._come_back_online(device_id, sim)

    async def _come_back_online(self, device_id: str, sim: _Sim) -> bool:
        """Reconnect from the stored session; False when there is none to reconnect from."""
        while True:
            try:
                stored = await self._stored_sessions.get(device_id)
                break
            except Exception as exc:
                # The database is out of reach: try again, as a phone keeps reconnecting,
                # until the session is closed (which cancels this).
                log.warning("sandbox_reconnect_retrying", device_id=device_id, error=repr(exc))
                await asyncio.sleep(
                    self._settings.sandbox_delay(self._settings.sandbox_reconnect_delay)
                )
        if stored is None:
            return False
        async with sim.lock:
            sim.online = True
            self._log(device_id, "connect", phone=stored.phone, reconnected=True)
            await self.witness.opened(device_id)
            await self._emit(
                Connected(
                    device_id,
                    sim.epoch,
                    stored.phone,
                    stored.device_jid,
                    stored.linked_at,
                    reconnected=True,
                )
            )
        return True

    async def _replaced(self, device_id: str) -> None:
        """Another session of the device connected (WhatsApp's rule, CONTRACT §9): this one
        ends, and the device is disconnected with reason `replaced`."""
        sim = await self._end_session(device_id, "replaced")
        if sim is not None:
            await self._emit(
                SessionEnded(
                    device_id,
                    sim.epoch,
                    reason="replaced",
                    detail="another session of this device connected",
                )
            )

    async def _erase_session(self, device_id: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(SandboxSession).where(SandboxSession.device_id == device_id)
            )

    # --- the account itself (CONTRACT §8.4) ------------------------------------------------

    async def reconnect(self, device_id: str) -> None:
        """A restart: the connection is dropped (logged `disconnect`, `reason: "restart"`) and
        made again at once from the stored session (logged `connect`, `reconnected: true`)."""
        sim = self._require_online(device_id)
        async with sim.lock:
            sim.online = False
            sim.available = False
            self._log(device_id, "disconnect", reason="restart")
            await self.witness.closed(device_id, "restart")
            await self._emit(ConnectionLost(device_id, sim.epoch, error="restart requested"))
        sim.task = asyncio.create_task(self._restart(device_id, sim), name=f"restart:{device_id}")

    async def _restart(self, device_id: str, sim: _Sim) -> None:
        await self._come_back_online(device_id, sim)

    async def update_own_profile(
        self,
        device_id: str,
        name: str | None = None,
        about: str | None = None,
        picture: bytes | None = None,
    ) -> None:
        """Logged `profile_update` with the parts changed (`name`, `about`; a picture as its
        `size` and `sha256`)."""
        self._require_online(device_id)
        detail: dict[str, Any] = {}
        if name is not None:
            detail["name"] = name
        if about is not None:
            detail["about"] = about
        if picture is not None:
            detail["size"] = len(picture)
            detail["sha256"] = hashlib.sha256(picture).hexdigest()
        self._log(device_id, "profile_update", **detail)

    async def set_blocked(self, device_id: str, jid: str, blocked: bool) -> None:
        """Logged `block` / `unblock` (`jid`): the blocklist is read back from the log."""
        self._require_online(device_id)
        self._log(device_id, "block" if blocked else "unblock", jid=jid)

    async def blocklist(self, device_id: str) -> list[str]:
        """The contacts blocked and not unblocked since, in the order first blocked, as the
        device's network log tells it (acts still being written included)."""
        self._require_online(device_id)
        blocked: dict[str, None] = {}
        for entry in await self.network_of(device_id):
            jid = entry.detail.get("jid") if isinstance(entry.detail, dict) else None
            if entry.kind == "block" and jid:
                blocked[str(jid)] = None
            elif entry.kind == "unblock" and jid:
                blocked.pop(str(jid), None)
        return list(blocked)

    # --- the contact store and the owner's reads (CONTRACT §8.4) ---------------------------

    async def contacts(self, device_id: str) -> list[Contact]:
        """The simulated contact store: every contact that wrote to the device while this
        node's sandbox ran, with the push name its messages carry and its LID."""
        self._require_online(device_id)
        return [
            Contact(
                jid=f"{phone}@s.whatsapp.net",
                phone=phone,
                lid=sandbox_lid(phone),
                push_name=sandbox_push_name(phone),
            )
            for phone in self._known_contacts.get(device_id, {})
        ]

    async def owner_reads(self, device_id: str, chat: str, wa_message_ids: tuple[str, ...]) -> None:
        """The account's owner opens `chat` on the phone and reads these messages: WhatsApp
        sends the device a read-self receipt (`OwnerRead`)."""
        sim = self._sims.get(device_id)
        if sim is None or not sim.online:
            raise EngineError("not_online", "the device is not online")
        async with sim.lock:
            await self._emit(
                OwnerRead(
                    device_id, sim.epoch, chat=chat, wa_message_ids=wa_message_ids, at=utcnow()
                )
            )

    # --- the simulated group world (CONTRACT §8.3) -----------------------------------------

    async def _group_world(self, device_id: str, jid: str | None = None) -> list[group_world.Group]:
        """The device's groups (or the one named), the sandbox group seeded at first use."""
        async with self._db.read() as session:
            stored = await session.get(SandboxSession, device_id)
            if stored is None or stored.groups_seeded:
                return await group_world.load(session, device_id, jid)
        async with self._db.transaction() as session:
            stored = await session.get(SandboxSession, device_id)
            if stored is not None:
                await group_world.seed(
                    session,
                    stored,
                    jid=SANDBOX_GROUP_JID,
                    subject="Sandbox Group",
                    description="The sandbox's group: the account is its admin.",
                    created_at=SANDBOX_GROUP_CREATED_AT,
                    others=GROUP_PARTICIPANTS,
                )
            return await group_world.load(session, device_id, jid)

    async def _administered(self, device_id: str, group: str) -> group_world.Group:
        """The group, where the account is an admin (WhatsApp's rule for every change of
        members or settings): EngineError `not_found` / `not_group_admin` otherwise."""
        found = await self._group_world(device_id, group)
        if not found:
            raise EngineError("not_found", "the account is not in that group")
        stored, members = found[0]
        own = await self._own_jid(device_id)
        if not any(m.jid == own and m.admin for m in members):
            raise EngineError("not_group_admin", "the account is not an admin of that group")
        return stored, members

    async def _own_jid(self, device_id: str) -> str | None:
        async with self._db.read() as session:
            stored = await session.get(SandboxSession, device_id)
        return f"{stored.phone}@s.whatsapp.net" if stored else None

    async def update_group(self, device_id: str, group: str, changes: dict[str, Any]) -> None:
        self._require_online(device_id)
        await self._administered(device_id, group)
        async with self._db.transaction() as session:
            stored = await session.get(SandboxGroup, (device_id, group))
            if stored is None:
                raise EngineError("not_found", "the account is not in that group")
            for name in GROUP_SETTINGS:
                if name in changes:
                    setattr(stored, name, changes[name])
        self._log(device_id, "group_update", group=group, **changes)

    async def update_group_participants(
        self, device_id: str, group: str, action: str, participants: list[str]
    ) -> list[GroupParticipantChange]:
        self._require_online(device_id)
        await self._administered(device_id, group)
        results: list[GroupParticipantChange] = []
        async with self._db.transaction() as session:
            for jid in participants:
                phone = jid.partition("@")[0]
                member = await session.get(SandboxGroupMember, (device_id, group, jid))
                status = "ok"
                if action == "add":
                    if phone.startswith(NOT_ON_WHATSAPP_PREFIX):
                        status = "not_on_whatsapp"
                    elif member is not None:
                        status = "already_member"
                    elif phone.endswith(PRIVACY_RESTRICTED_SUFFIX):
                        status = "privacy_restricted"
                    else:
                        session.add(
                            SandboxGroupMember(
                                device_id=device_id, group_jid=group, jid=jid, admin=False
                            )
                        )
                elif member is None:
                    status = "not_member"
                elif action == "remove":
                    await session.delete(member)
                else:
                    member.admin = action == "promote"
                results.append(GroupParticipantChange(jid=jid, phone=phone, status=status))
        self._log(
            device_id,
            "group_participants",
            group=group,
            action=action,
            participants=[r.jid for r in results if r.status == "ok"],
        )
        return results

    async def create_group(
        self, device_id: str, subject: str, participants: list[str]
    ) -> GroupInfo:
        self._require_online(device_id)
        own = await self._own_jid(device_id)
        if own is None:
            raise EngineError("not_connected", "the device is not online")
        await self._group_world(device_id)  # seeded first: the new group is not the seed's
        jid = f"120363{secrets.randbelow(10**12):012d}@g.us"
        added = [
            p
            for p in dict.fromkeys(participants)
            if p != own
            and not p.partition("@")[0].startswith(NOT_ON_WHATSAPP_PREFIX)
            and not p.partition("@")[0].endswith(PRIVACY_RESTRICTED_SUFFIX)
        ]
        async with self._db.transaction() as session:
            session.add(
                SandboxGroup(
                    device_id=device_id,
                    jid=jid,
                    subject=subject,
                    owner=own,
                    announce=False,
                    locked=False,
                    created_at=utcnow(),
                )
            )
            await session.flush()
            for member in (own, *added):
                session.add(
                    SandboxGroupMember(
                        device_id=device_id, group_jid=jid, jid=member, admin=member == own
                    )
                )
        self._log(device_id, "group_create", group=jid, subject=subject, participants=added)
        [(group, members)] = await self._group_world(device_id, jid)
        return _group_info(group, members)

    async def group_invite_link(self, device_id: str, group: str, reset: bool) -> str:
        self._require_online(device_id)
        await self._administered(device_id, group)
        async with self._db.transaction() as session:
            stored = await session.get(SandboxGroup, (device_id, group))
            if stored is None:
                raise EngineError("not_found", "the account is not in that group")
            if stored.invite_code is None or reset:
                stored.invite_code = (
                    secrets.token_urlsafe(16)[:22].replace("-", "A").replace("_", "B")
                )
            code = stored.invite_code
        if reset:
            self._log(device_id, "group_update", group=group, invite_link_reset=True)
        return f"{INVITE_LINK_PREFIX}{code}"

    async def join_group(self, device_id: str, code: str) -> GroupInfo:
        self._require_online(device_id)
        own = await self._own_jid(device_id)
        async with self._db.read() as session:
            source = (
                await session.scalars(select(SandboxGroup).where(SandboxGroup.invite_code == code))
            ).first()
            if source is None or own is None:
                raise EngineError("not_found", "no group has that invite link")
            found = await group_world.load(session, source.device_id, source.jid)
        if not found:
            raise EngineError("not_found", "no group has that invite link")
        group, members = found[0]
        if not await self._group_world(device_id, group.jid):
            async with self._db.transaction() as session:
                session.add(
                    SandboxGroup(
                        device_id=device_id,
                        jid=group.jid,
                        subject=group.subject,
                        description=group.description,
                        owner=group.owner,
                        announce=group.announce,
                        locked=group.locked,
                        created_at=group.created_at,
                    )
                )
                await session.flush()
                for member in {*(m.jid for m in members), own}:
                    admin = any(m.jid == member and m.admin for m in members)
                    session.add(
                        SandboxGroupMember(
                            device_id=device_id, group_jid=group.jid, jid=member, admin=admin
                        )
                    )
        self._log(device_id, "group_join", group=group.jid)
        [(joined, joined_members)] = await self._group_world(device_id, group.jid)
        return _group_info(joined, joined_members)

    async def contact_changes_group(
        self,
        device_id: str,
        group: str,
        action: str,
        participants: list[str],
        by: str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Someone else changes a group the account is in (CONTRACT §8.5 `group-event`):
        `add`, `remove`, `promote`, `demote` participants (phone JIDs), or `update` its
        settings. Adding the account to a group it is not in makes it join (`group_joined`).
        EngineError `not_found` for a group the account is not in."""
        sim = self._require_online(device_id)
        own = await self._own_jid(device_id)
        by_phone = by.partition("@")[0]
        known = await self._group_world(device_id, group)
        if not known:
            if action != "add" or own not in participants:
                raise EngineError("not_found", "the account is not in that group")
            async with self._db.transaction() as session:
                subject = str((changes or {}).get("subject") or "Sandbox Group")
                session.add(
                    SandboxGroup(
                        device_id=device_id,
                        jid=group,
                        subject=subject,
                        owner=f"{by_phone}@s.whatsapp.net",
                        announce=False,
                        locked=False,
                        created_at=utcnow(),
                    )
                )
                await session.flush()
                for jid in {f"{by_phone}@s.whatsapp.net", *participants}:
                    session.add(
                        SandboxGroupMember(
                            device_id=device_id,
                            group_jid=group,
                            jid=jid,
                            admin=jid.startswith(f"{by_phone}@"),
                        )
                    )
            await self._emit(
                GroupChanged(
                    device_id,
                    sim.epoch,
                    kind="group_joined",
                    group=group,
                    by=by_phone,
                    subject=subject,
                )
            )
            return
        if action == "update":
            settings = {k: v for k, v in (changes or {}).items() if k in GROUP_SETTINGS}
            async with self._db.transaction() as session:
                stored = await session.get(SandboxGroup, (device_id, group))
                if stored is not None:
                    for name, value in settings.items():
                        setattr(stored, name, value)
            await self._emit(
                GroupChanged(
                    device_id,
                    sim.epoch,
                    kind="group_updated",
                    group=group,
                    by=by_phone,
                    changes=settings,
                )
            )
            return
        async with self._db.transaction() as session:
            for jid in participants:
                member = await session.get(SandboxGroupMember, (device_id, group, jid))
                if action == "add" and member is None:
                    session.add(
                        SandboxGroupMember(
                            device_id=device_id, group_jid=group, jid=jid, admin=False
                        )
                    )
                elif action == "remove" and member is not None:
                    await session.delete(member)
                elif member is not None and action in ("promote", "demote"):
                    member.admin = action == "promote"
            if action == "remove" and own in participants:
                await group_world.forget(session, device_id, group)
        await self._emit(
            GroupChanged(
                device_id,
                sim.epoch,
                kind="group_participants",
                group=group,
                by=by_phone,
                action=action,
                participants=tuple(p.partition("@")[0] for p in participants),
            )
        )

    async def leave_group(self, device_id: str, group: str) -> None:
        self._require_online(device_id)
        if not await self._group_world(device_id, group):
            raise EngineError("not_found", "the account is not in that group")
        async with self._db.transaction() as session:
            await group_world.forget(session, device_id, group)
        self._log(device_id, "group_leave", group=group)


def _written(
    device_id: str,
    epoch: int,
    wa_message_id: str,
    chat: str,
    sender_phone: str,
    push_name: str,
    type: str,
    content: dict[str, object] | None,
    media: bytes | None,
    *,
    forwarded: bool,
    reply_to: str | None,
    mentions: tuple[str, ...],
    from_me: bool = False,
) -> InboundMessage:
    """A message someone wrote on the simulated network, as the device receives it: from a
    contact, or (`from_me`) from the account's owner on the phone."""
    return InboundMessage(
        device_id,
        epoch,
        wa_message_id=wa_message_id,
        chat=chat,
        sender_phone=sender_phone,
        sender_lid=sandbox_lid(sender_phone),
        type=type,
        content=dict(content or {}),
        sent_at=utcnow(),
        push_name=push_name,
        forwarded=forwarded,
        reply_to=reply_to,
        mentions=mentions,
        media=media,
        media_size=len(media) if media is not None else None,
        from_me=from_me,
    )


# The first simulated contact of a history (CONTRACT §8.5 `history`): chat i is with
# HISTORY_CONTACT + i.
HISTORY_CONTACT = 6285500000000


def _history(
    device_id: str, epoch: int, owner: str, chats: int, per_chat: int
) -> Iterator[InboundMessage]:
    """The messages of a simulated history, made one at a time (a large history is never
    held whole): chat 0's newest message is a minute old, each older chat's an hour older."""
    now = utcnow()
    for chat_index in range(chats):
        phone = str(HISTORY_CONTACT + chat_index)
        chat = f"{phone}@s.whatsapp.net"
        newest = now - timedelta(hours=chat_index, minutes=1)
        for n in range(per_chat):
            own = n % 2 == 1
            yield InboundMessage(
                device_id,
                epoch,
                wa_message_id=f"3EB0H{chat_index:06d}{n:06d}",
                chat=chat,
                sender_phone=owner if own else phone,
                sender_lid=None if own else sandbox_lid(phone),
                type="text",
                content={"text": f"history {chat_index}/{n}"},
                sent_at=newest - timedelta(minutes=per_chat - 1 - n),
                push_name=None if own else sandbox_push_name(phone),
                from_me=own,
            )


def _history_batch(
    device_id: str, epoch: int, messages: list[InboundMessage], progress: int
) -> HistoryBatch:
    return HistoryBatch(
        device_id,
        epoch,
        messages=tuple(messages),
        chats=len({m.chat for m in messages}),
        progress=progress,
    )


def _sandbox_member(jid: str, *, admin: bool) -> GroupMember:
    """A member of a simulated group, named by phone JID, with its LID."""
    phone = jid.partition("@")[0]
    return GroupMember(jid=jid, phone=phone, lid=sandbox_lid(phone), admin=admin)


def _group_info(group: SandboxGroup, members: list[SandboxGroupMember]) -> GroupInfo:
    """A group of the simulated world as the engine interface shows it."""
    return GroupInfo(
        jid=group.jid,
        name=group.subject,
        participants=tuple(m.jid for m in members),
        owner=group.owner,
        admins=tuple(m.jid for m in members if m.admin),
        description=group.description,
        announce=group.announce,
        locked=group.locked,
        created_at=group.created_at,
        members=tuple(_sandbox_member(m.jid, admin=m.admin) for m in members),
    )
