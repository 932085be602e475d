"""The whatsmeow backend: neonize clients for many devices, inside one worker process.

One neonize client per live device. Its session lives in a store of its own in this node's
data dir, or in whatsmeow's PostgreSQL store that every node reaches (`stores.py`).

Hazards this module works around (see NEONIZE-NOTES.md):
- connect/stop race with every other call on the Go side's unlocked client map and kill
  the process: they take `_ffi` exclusively, every other client call takes it shared;
- exceptions inside neonize event handlers vanish: every handler is wrapped and logs;
- whatsmeow sends no event when a pairing window ends: we keep our own timer;
- `get_me()` before connect panics: it is only called from the Connected handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from wagateway.engines.base import (
    ALWAYS_ONLINE,
    HISTORY_BATCH_SIZE,
    INVITE_LINK_PREFIX,
    ON_DEMAND,
    QR_CODE_LIFETIMES,
    Connected,
    ConnectionLost,
    Contact,
    ContactCheck,
    EngineError,
    EngineEvent,
    EngineHealth,
    EventSink,
    GroupInfo,
    GroupParticipantChange,
    IncomingCall,
    OutboundMessage,
    PairingWindowEnded,
    Profile,
    QrCode,
    SendError,
    SentMessage,
    SessionEnded,
)
from wagateway.engines.whatsmeow import mapping, neonize_loader, outbound
from wagateway.engines.whatsmeow.stores import (
    FileStores,
    PostgresStores,
    SessionStores,
    StoredLink,
)

log = structlog.get_logger(__name__)

DEFAULT_RETRY_DELAYS = (2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Calls remembered per session between their offer and their end (an end never sent must
# not grow the table for ever).
MAX_TRACKED_CALLS = 256
# always_online: a refused AVAILABLE (no push name yet, just after pairing) is sent again
# after these delays.
DEFAULT_PRESENCE_RETRY_DELAYS = (2.0, 5.0, 10.0, 30.0, 60.0)

# A chat presence state → neonize's ChatPresence and ChatPresenceMedia member names.
CHAT_PRESENCE = {
    "typing": ("CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_TEXT"),
    "recording": ("CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_AUDIO"),
    "paused": ("CHAT_PRESENCE_PAUSED", "CHAT_PRESENCE_MEDIA_TEXT"),
}

# (store, uuid, new_device, jid=the stored device's JID or None) -> NewAClient
ClientFactory = Callable[..., Any]


class SharedExclusiveLock:
    """Many shared holders or one exclusive holder (connect/stop), writers first."""

    def __init__(self) -> None:
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._writer and not self._waiting_writers)
            self._readers += 1
        try:
            yield
        finally:
            async with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._changed:
            self._waiting_writers += 1
            await self._changed.wait_for(lambda: not self._writer and not self._readers)
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            async with self._changed:
                self._writer = False
                self._changed.notify_all()


@dataclass
class _Session:
    device_id: str
    epoch: int
    client: Any
    pairing: bool
    linked: bool = False
    qr_count: int = 0
    attempt: int = 1  # connect attempts of a restore so far
    # The device JID the client opens in a shared store (None: the store's only device).
    store_jid: str | None = None
    ended: bool = False
    window: asyncio.Task[None] | None = None
    # The account's own presence as this connection last sent it (a connection starts
    # unavailable: whatsmeow sends none by itself).
    available: bool = False
    # Set by the client's first sign of life (an event, a QR, or its connect task ending).
    started: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # ids of the latest messages this client sent: an echo of one (`IsFromMe`) is not a
    # message from the phone, even before the gateway has written its id down.
    sent_ids: deque[str] = dataclasses.field(default_factory=lambda: deque(maxlen=256))
    # Calls still ringing or going on, by call id (their offer, or `accepted`), and the ids
    # of those the device rejected: their end is no news (the gateway reported `rejected`).
    calls: dict[str, IncomingCall] = dataclasses.field(default_factory=dict)
    rejected_calls: set[str] = dataclasses.field(default_factory=set)
    # The account's phone number, from the client's own JID at connect.
    phone: str | None = None
    # How many history messages this session may still hand over (`set_history_limit`).
    history_left: int = 0


class WhatsmeowBackend:
    name = "whatsmeow"

    def __init__(self, config: dict[str, Any], client_factory: ClientFactory | None = None) -> None:
        store_dir = Path(config["store_dir"])
        store_url = config.get("store_url")
        self._stores: SessionStores = (
            PostgresStores(str(store_url), store_dir) if store_url else FileStores(store_dir)
        )
        scale = float(config.get("time_scale", 1.0))
        self._qr_lifetimes = [lifetime * scale for lifetime in QR_CODE_LIFETIMES]
        self._connect_timeout = float(config.get("connect_timeout", 30.0))
        self._connect_settle = float(config.get("connect_settle", 15.0))
        # Every live client blocks one thread of the default executor in `Neonize()`; with
        # the default pool (CPUs + 4) the 7th device's calls would wait, then start outside
        # the connect hold. Room for every device plus the ordinary calls.
        self._threads = int(config.get("executor_threads", 128))
        self._media_max_bytes = int(config.get("media_max_bytes", 64 * 1024 * 1024))
        # A restore that cannot reach WhatsApp (network down) is retried after these delays,
        # then the device ends `disconnected`. Pairing is not retried: its window is short and
        # someone is looking at the QR.
        self._retry_delays = [
            float(d) for d in config.get("connect_retry_delays", DEFAULT_RETRY_DELAYS)
        ]
        self._connects = 0
        self._new_client = client_factory or neonize_loader.new_client
        self._events = neonize_loader.events()
        self._sink: EventSink | None = None
        self._sessions: dict[str, _Session] = {}
        self._ffi = SharedExclusiveLock()
        # presence_mode per device, as the gateway told it (on_demand until told), and the
        # contacts each device subscribed to (whatsmeow forgets them at a reconnect).
        self._presence_modes: dict[str, str] = {}
        self._subscriptions: dict[str, set[str]] = {}
        self._presence_tasks: set[asyncio.Task[None]] = set()
        self._presence_retry_delays = [
            float(d) for d in config.get("presence_retry_delays", DEFAULT_PRESENCE_RETRY_DELAYS)
        ]

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="neonize")
        )
        await self._stores.start()
        if isinstance(self._stores, PostgresStores) and self._stores.files_to_import():
            await self._import_session_files(self._stores)

    async def _import_session_files(self, stores: PostgresStores) -> None:
        """This node's session files from before the shared store go into it, so its devices
        come back without a scan whichever node restores them. whatsmeow's tables must exist
        first: a throwaway client creates them (as any first connect does) if they do not."""
        async with stores.schema_hold():
            if not await stores.schema_ready():
                await self._create_store_tables()
        imported = await stores.import_files()
        log.info("whatsmeow_store_files_imported", devices=imported)

    async def _create_store_tables(self) -> None:
        """whatsmeow creates its tables when a client connects, before it dials WhatsApp: a
        blank client connects and is stopped at its first sign of life (a QR, or the dial's
        failure offline)."""
        shown = asyncio.Event()

        async def on_qr(_client: Any, _code: bytes) -> None:
            shown.set()

        client = self._new_client(
            self._stores.neonize_name("store-tables"), f"store-tables-{os.getpid()}", True, jid=None
        )
        client.event.qr(on_qr)
        async with self._ffi.exclusive():
            task = await asyncio.wait_for(client.connect(), self._connect_timeout)
            if isinstance(task, asyncio.Future):
                task.add_done_callback(lambda _t: shown.set())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shown.wait(), self._connect_settle)
            with contextlib.suppress(Exception):
                await client.stop()
            if isinstance(task, asyncio.Future) and task.done() and not task.cancelled():
                task.exception()  # retrieved: the dial failing offline is expected here

    def open_sessions(self) -> list[str]:
        """The devices with a session in this worker (its host closes them when its hold
        lapses: `workers/protocol.py`, HOLD_UNTIL)."""
        return list(self._sessions)

    async def shutdown(self) -> None:
        for task in list(self._presence_tasks):
            task.cancel()
        for device_id in list(self._sessions):
            await self._stop(device_id)
        await self._stores.close()

    async def health(self) -> EngineHealth:
        return EngineHealth(
            ok=self._sink is not None,
            detail={
                "sessions": len(self._sessions),
                "linked": self._linked_count(),
                # neonize leaks a descriptor per connect: watch these two together
                "connects": self._connects,
                "open_fds": _open_fds(),
            },
        )

    def _linked_count(self) -> int:
        return sum(1 for s in self._sessions.values() if s.linked)

    # --- stores ------------------------------------------------------------------------------

    async def _erase(self, device_id: str) -> None:
        self._subscriptions.pop(device_id, None)  # another link, another account
        await self._stores.erase(device_id)

    # --- sessions ----------------------------------------------------------------------------

    async def begin_pairing(self, device_id: str, epoch: int) -> None:
        await self._stop(device_id)
        await self._erase(device_id)  # a new link never reuses an old (or half-made) session
        session = self._open(device_id, epoch, pairing=True)
        await self._connect(session)
        session.window = asyncio.create_task(self._window(session))

    async def restore(self, device_id: str, epoch: int) -> None:
        await self._stop(device_id)
        store_jid = await self._stored_jid(device_id)
        if store_jid is None:
            await self._emit(
                SessionEnded(device_id, epoch, reason="session_missing", detail="no stored session")
            )
            return
        session = self._open(device_id, epoch, pairing=False, store_jid=store_jid or None)
        session.attempt = await self._stores.failed_attempts(device_id) + 1
        await self._connect(session)

    async def _stored_jid(self, device_id: str) -> str | None:
        """None when the device has no stored session; else the device JID its client opens
        (empty when its store holds that session alone)."""
        link: StoredLink | None = await self._stores.stored_link(device_id)
        if link is None:
            return None
        return link.wa_device_jid if self._stores.opens_by_jid else ""

    async def request_pairing_code(self, device_id: str, epoch: int, phone: str) -> str:
        session = self._sessions.get(device_id)
        if session is None or session.epoch != epoch or not session.pairing or session.linked:
            raise EngineError("no_pairing_window", "the device has no open pairing window")
        if session.qr_count == 0:
            # whatsmeow answers "client is nil" before its first QR
            raise EngineError("pairing_not_ready", "the pairing window is not open yet")
        async with self._ffi.shared():
            try:
                return str(await session.client.PairPhone(phone, True))
            except Exception as exc:
                raise EngineError("pairing_code_failed", _short(exc)) from exc

    async def close(self, device_id: str) -> None:
        await self._stop(device_id)

    async def logout(self, device_id: str) -> None:
        session = self._sessions.get(device_id)
        if session is not None and session.linked:
            async with self._ffi.shared():
                try:
                    await session.client.logout()
                except Exception as exc:  # offline: unlink on our side anyway
                    log.warning("whatsmeow_logout_failed", device_id=device_id, error=_short(exc))
        await self._stop(device_id)
        await self._erase(device_id)

    def _open(
        self, device_id: str, epoch: int, *, pairing: bool, store_jid: str | None = None
    ) -> _Session:
        name = self._stores.neonize_name(device_id)
        client = self._new_client(name, device_id, pairing, jid=store_jid)
        session = _Session(device_id, epoch, client, pairing=pairing, store_jid=store_jid)
        self._register(session)
        self._sessions[device_id] = session
        return session

    async def _connect(self, session: _Session) -> None:
        """Start the client and hold every other call off until it has shown a sign of life.

        neonize's `connect()` only *schedules* the blocking Go call (`Neonize()`, in a
        thread); that call writes the Go client map when it starts and again when a first
        connection fails. Both must not meet another client's connect or stop, or the whole
        process dies ("fatal error: concurrent map writes", seen here with 50 devices at
        once). So the exclusive hold lasts until the first event, QR or failure (bounded by
        `connect_settle`). Parallelism comes from workers: each has its own map.
        """
        self._connects += 1
        async with self._ffi.exclusive(), self._stores.schema_hold():
            try:
                task = await asyncio.wait_for(session.client.connect(), self._connect_timeout)
            except Exception as exc:
                self._sessions.pop(session.device_id, None)
                raise EngineError("connect_failed", _short(exc)) from exc
            if isinstance(task, asyncio.Future):
                task.add_done_callback(lambda t: self._connect_ended(session, t))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.started.wait(), self._connect_settle)

    def _connect_ended(self, session: _Session, task: asyncio.Future[Any]) -> None:
        """neonize's connect task ends when the client stops, or at once when the first
        connection fails (offline: 'failed to dial whatsapp web websocket')."""
        session.started.set()
        if task.cancelled():
            return
        error = task.exception()  # retrieved in every case, or asyncio logs it as lost
        if error is None or session.ended or self._sessions.get(session.device_id) is not session:
            return
        if not session.pairing and session.attempt <= len(self._retry_delays):
            asyncio.create_task(self._retry(session, _short(error)))
            return
        asyncio.create_task(self._give_up(session, _short(error)))

    async def _give_up(self, session: _Session, error: str) -> None:
        tries = f" after {session.attempt} attempts" if session.attempt > 1 else ""
        await self._stores.set_failed_attempts(session.device_id, 0)
        await self._end(session, "engine_error", f"could not connect to WhatsApp{tries}: {error}")

    async def _retry(self, session: _Session, error: str) -> None:
        await self._stores.set_failed_attempts(session.device_id, session.attempt)
        if session.attempt == 1:
            await self._emit(
                ConnectionLost(session.device_id, session.epoch, f"could not connect: {error}")
            )
        await asyncio.sleep(self._retry_delays[session.attempt - 1])
        if session.ended or self._sessions.get(session.device_id) is not session:
            return  # closed or replaced meanwhile
        await self._stop(session.device_id)
        again = self._open(
            session.device_id, session.epoch, pairing=False, store_jid=session.store_jid
        )
        again.attempt = session.attempt + 1
        try:
            await self._connect(again)
        except EngineError as exc:
            await self._emit(
                SessionEnded(again.device_id, again.epoch, "engine_error", exc.message)
            )

    async def _window(self, session: _Session) -> None:
        await asyncio.sleep(sum(self._qr_lifetimes))
        if session.linked or session.ended:
            return
        await self._stop(session.device_id, keep_window=True)
        await self._erase(session.device_id)
        await self._emit(PairingWindowEnded(session.device_id, session.epoch))

    async def _end(self, session: _Session, reason: str, detail: str = "") -> None:
        if session.ended:
            return
        await self._stop(session.device_id)
        if reason == "logged_out":
            await self._erase(session.device_id)  # whatsmeow deleted the device's rows already
        await self._emit(SessionEnded(session.device_id, session.epoch, reason, detail))

    async def _stop(self, device_id: str, *, keep_window: bool = False) -> None:
        session = self._sessions.pop(device_id, None)
        if session is None:
            return
        session.ended = True
        if session.window is not None and not keep_window:
            session.window.cancel()
        async with self._ffi.exclusive():
            try:
                await session.client.stop()
            except Exception as exc:
                log.warning("whatsmeow_stop_failed", device_id=device_id, error=_short(exc))

    async def _emit(self, event: EngineEvent) -> None:
        assert self._sink is not None
        await self._sink(event)

    # --- neonize events ----------------------------------------------------------------------

    def _register(self, session: _Session) -> None:
        ev = self._events
        client = session.client

        def guarded(handler: Callable[[Any], Awaitable[None]]) -> Callable[[Any, Any], Any]:
            async def run(_client: Any, event: Any) -> None:
                session.started.set()  # first, or the handler would wait on _connect's hold
                # neonize drops handler exceptions silently; a stale session's events too.
                if session.ended:
                    return
                try:
                    await handler(event)
                except Exception:
                    log.exception("whatsmeow_handler_failed", device_id=session.device_id)

            return run

        def on(event_type: Any, handler: Callable[[Any], Awaitable[None]]) -> None:
            client.event(event_type)(guarded(handler))

        async def on_qr(data: bytes) -> None:
            if session.linked:
                return
            lifetime = self._qr_lifetimes[min(session.qr_count, len(self._qr_lifetimes) - 1)]
            session.qr_count += 1
            expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
            await self._emit(QrCode(session.device_id, session.epoch, data.decode(), expires_at))

        client.event.qr(guarded(on_qr))
        on(ev.ConnectedEv, lambda e: self._on_connected(session))
        on(ev.PairStatusEv, lambda e: self._on_pair_status(session, e))
        on(ev.LoggedOutEv, lambda e: self._end(session, "logged_out"))
        on(ev.StreamReplacedEv, lambda e: self._end(session, "replaced"))
        on(ev.TemporaryBanEv, lambda e: self._end(session, "banned", f"code {int(e.Code)}"))
        on(ev.ClientOutdatedEv, lambda e: self._end(session, "client_outdated"))
        on(ev.ConnectFailureEv, lambda e: self._on_connect_failure(session, e))
        on(ev.DisconnectedEv, lambda e: self._on_disconnected(session))
        on(ev.MessageEv, lambda e: self._on_message(session, e))
        on(ev.ReceiptEv, lambda e: self._emit_mapped(mapping.receipt_event, session, e))
        on(ev.PresenceEv, lambda e: self._emit_mapped(mapping.presence, session, e))
        on(ev.ChatPresenceEv, lambda e: self._emit_mapped(mapping.chat_presence, session, e))
        on(ev.CallOfferEv, lambda e: self._on_call(session, mapping.call_offer, e))
        on(ev.CallOfferNoticeEv, lambda e: self._on_call(session, mapping.call_offer_notice, e))
        on(
            ev.CallAcceptEv,
            lambda e: self._on_call(
                session, lambda d, n, x: mapping.call_update(d, n, x, "accepted"), e
            ),
        )
        on(
            ev.CallTerminateEv,
            lambda e: self._on_call(
                session, lambda d, n, x: mapping.call_update(d, n, x, "ended"), e
            ),
        )
        on(ev.JoinedGroupEv, lambda e: self._emit_mapped(mapping.joined_group, session, e))
        on(ev.GroupInfoEv, lambda e: self._on_group_info(session, e))
        on(ev.HistorySyncEv, lambda e: self._on_history(session, e))

    async def _on_history(self, session: _Session, event: Any) -> None:
        """A part of the history WhatsApp sends after linking: handed over in batches while
        the session's history limit lasts; each batch is sent before the next is mapped."""
        if not session.linked or session.history_left <= 0:
            return
        for batch in mapping.history_batches(
            session.device_id,
            session.epoch,
            event.Data,
            session.history_left,
            session.phone,
            HISTORY_BATCH_SIZE,
        ):
            session.history_left -= len(batch.messages)
            await self._emit(batch)

    async def set_history_limit(self, device_id: str, limit: int) -> None:
        session = self._sessions.get(device_id)
        if session is not None:
            session.history_left = max(0, limit)

    async def _on_group_info(self, session: _Session, event: Any) -> None:
        if session.linked:
            for change in mapping.group_info_event(session.device_id, session.epoch, event):
                await self._emit(change)

    async def _emit_mapped(
        self, mapper: Callable[[str, int, Any], EngineEvent | None], session: _Session, event: Any
    ) -> None:
        mapped = mapper(session.device_id, session.epoch, event)
        if mapped is not None and session.linked:
            await self._emit(mapped)

    async def _on_call(
        self,
        session: _Session,
        mapper: Callable[[str, int, Any], IncomingCall],
        event: Any,
    ) -> None:
        """A call's offer (once, whether whatsmeow sends CallOffer or CallOfferNotice), its
        answer on another device (`accepted`), and its end: `ended` once answered, else
        `missed`; nothing for a call the device rejected."""
        if not session.linked:
            return
        call = mapper(session.device_id, session.epoch, event)
        known = session.calls.get(call.call_id)
        if call.state == "offer":
            if known is not None:
                return
            while len(session.calls) >= MAX_TRACKED_CALLS:  # offers that never ended
                oldest = next(iter(session.calls))
                del session.calls[oldest]
                session.rejected_calls.discard(oldest)
            session.calls[call.call_id] = call
        else:
            if known is not None:  # only the offer says video / group
                call = dataclasses.replace(call, video=known.video, group=known.group)
            if call.state == "accepted":
                session.calls[call.call_id] = call
            else:
                session.calls.pop(call.call_id, None)
                if call.call_id in session.rejected_calls:
                    session.rejected_calls.discard(call.call_id)
                    return
                if known is None or known.state != "accepted":
                    call = dataclasses.replace(call, state="missed")
        await self._emit(call)

    async def _on_message(self, session: _Session, event: Any) -> None:
        revoked = mapping.revoke(session.device_id, session.epoch, event)
        if revoked is not None:
            if session.linked:
                await self._emit(revoked)
            return
        edited = mapping.edit(session.device_id, session.epoch, event)
        if edited is not None:
            if session.linked:
                await self._emit(edited)
            return
        if mapping.is_poll_vote(event):
            await self._on_poll_vote(session, event)
            return
        inbound = mapping.inbound_message(session.device_id, session.epoch, event)
        if inbound is None or not session.linked:
            return
        if inbound.from_me and inbound.wa_message_id in session.sent_ids:
            return  # this client's own send, echoed
        size = inbound.media_size
        if size is not None and size <= self._media_max_bytes:
            async with self._ffi.shared():
                try:
                    media = await session.client.download_any(event.Message)
                except Exception as exc:  # the event still goes out, saying so
                    log.warning(
                        "whatsmeow_media_download_failed",
                        device_id=session.device_id,
                        error=_short(exc),
                    )
                else:
                    inbound = dataclasses.replace(inbound, media=bytes(media))
        await self._emit(inbound)

    async def _on_poll_vote(self, session: _Session, event: Any) -> None:
        """A vote arrives encrypted with the poll's secret, which whatsmeow keeps for polls
        this account sent or saw: neonize decrypts it into option hashes."""
        if not session.linked:
            return
        async with self._ffi.shared():
            try:
                vote = await session.client.decrypt_poll_vote(event)
            except Exception as exc:  # a poll whose secret whatsmeow lacks: nothing to say
                log.warning(
                    "whatsmeow_poll_vote_undecryptable",
                    device_id=session.device_id,
                    error=_short(exc),
                )
                return
        await self._emit(mapping.poll_vote(session.device_id, session.epoch, event, vote))

    async def _on_pair_status(self, session: _Session, event: Any) -> None:
        if event.Error:
            await self._end(session, "pairing_failed", str(event.Error))

    async def _on_connected(self, session: _Session) -> None:
        reconnected = session.linked or not session.pairing
        async with self._ffi.shared():
            me = await session.client.get_me()
        jid = me.JID
        marker = {"wa_number": str(jid.User), "wa_device_jid": mapping.jid_string(jid)}
        if not session.linked and session.pairing:
            link = StoredLink(marker["wa_device_jid"], marker["wa_number"])
            await self._stores.record_link(session.device_id, link)
            if session.window is not None:
                session.window.cancel()
        session.linked = True
        session.phone = marker["wa_number"]
        session.available = False  # a new connection: whatsmeow sends no presence by itself
        if session.attempt > 1:  # a restore that failed before: its count starts again
            await self._stores.set_failed_attempts(session.device_id, 0)
            session.attempt = 1
        await self._emit(
            Connected(
                session.device_id,
                session.epoch,
                wa_number=marker["wa_number"],
                wa_device_jid=marker["wa_device_jid"],
                linked_at=datetime.now(UTC),
                reconnected=reconnected,
            )
        )

    async def _on_connect_failure(self, session: _Session, event: Any) -> None:
        reason = mapping.TERMINAL_CONNECT_FAILURES.get(int(event.Reason))
        if reason is not None:
            await self._end(session, reason, str(event.Message))
        elif session.linked:
            await self._emit(
                ConnectionLost(session.device_id, session.epoch, f"connect failure {event.Reason}")
            )

    async def _on_disconnected(self, session: _Session) -> None:
        # whatsmeow reconnects a logged-in session by itself; a Connected follows.
        session.available = False
        if session.linked:
            await self._emit(
                ConnectionLost(session.device_id, session.epoch, "disconnected from WhatsApp")
            )

    # --- messaging ---------------------------------------------------------------------------

    def _live(self, device_id: str) -> _Session:
        # A SendError is an EngineError: the queue and the query routes both understand it.
        session = self._sessions.get(device_id)
        if session is None or not session.linked:
            raise SendError("not_connected", "the device is not online", permanent=False)
        return session

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        session = self._live(device_id)
        async with self._ffi.shared():
            try:
                built = await outbound.build(session.client, message)
                response = await session.client.send_message(message.to_jid, built)
            except SendError:
                raise
            except Exception as exc:
                raise SendError("send_failed", _short(exc), permanent=False) from exc
        sent_at = (
            datetime.fromtimestamp(int(response.Timestamp), UTC) if response.Timestamp else None
        )
        # neonize 0.5.2 cannot send with a chosen message id: the id is whatsmeow's.
        session.sent_ids.append(str(response.ID))
        return SentMessage(str(response.ID), sent_at or datetime.now(UTC))

    async def send_typing(self, device_id: str, to_jid: str, seconds: float) -> None:
        """ "typing…" in the recipient's chat; WhatsApp clears it by itself, or the message
        that follows does."""
        session = self._live(device_id)
        enum = neonize_loader.module("neonize.utils.enum")
        async with self._ffi.shared():
            try:
                await session.client.send_chat_presence(
                    self._jid(to_jid),
                    enum.ChatPresence.CHAT_PRESENCE_COMPOSING,
                    enum.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT,
                )
            except Exception as exc:
                raise EngineError("presence_failed", _short(exc)) from exc

    async def mark_read(
        self, device_id: str, chat: str, sender: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        session = self._live(device_id)
        if not wa_message_ids:
            return
        enum = neonize_loader.module("neonize.utils.enum")
        async with self._ffi.shared():
            try:
                await session.client.mark_read(
                    *wa_message_ids,
                    chat=self._jid(chat),
                    sender=self._jid(sender),
                    receipt=enum.ReceiptType.READ,
                )
            except Exception as exc:
                raise EngineError("read_failed", _short(exc)) from exc

    async def send_chat_presence(self, device_id: str, chat: str, state: str) -> None:
        session = self._live(device_id)
        enum = neonize_loader.module("neonize.utils.enum")
        presence, media = CHAT_PRESENCE[state]
        async with self._ffi.shared():
            try:
                await session.client.send_chat_presence(
                    self._jid(chat), enum.ChatPresence[presence], enum.ChatPresenceMedia[media]
                )
            except Exception as exc:
                raise EngineError("presence_failed", _short(exc)) from exc

    async def send_presence(self, device_id: str, state: str) -> None:
        await self._send_presence(self._live(device_id), state)

    async def _send_presence(self, session: _Session, state: str) -> None:
        enum = neonize_loader.module("neonize.utils.enum")
        async with self._ffi.shared():
            try:
                await session.client.send_presence(enum.Presence[state.upper()])
            except Exception as exc:
                raise EngineError("presence_failed", _short(exc)) from exc
        session.available = state == "available"

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        """always_online: send_presence(AVAILABLE) now (the gateway calls this after every
        Connected, whatsmeow's own reconnects included); on_demand while the account shows
        online: UNAVAILABLE."""
        self._presence_modes[device_id] = mode
        session = self._sessions.get(device_id)
        if session is None or not session.linked:
            return
        if mode == ALWAYS_ONLINE and not session.available:
            await self._go_online(session)
        elif mode == ON_DEMAND and session.available:
            await self._send_presence(session, "unavailable")

    async def _go_online(self, session: _Session, attempt: int = 0) -> None:
        """AVAILABLE, then the device's subscriptions renewed (a reconnect forgot them).
        whatsmeow refuses presence until it knows the account's push name (ErrNoPushName: just
        after pairing, until the phone's app state arrives; neonize forwards no event for that),
        so a refusal is retried after `presence_retry_delays`."""
        try:
            await self._send_presence(session, "available")
        except EngineError as exc:
            if attempt >= len(self._presence_retry_delays):
                log.warning("whatsmeow_not_online", device_id=session.device_id, error=exc.message)
                return
            log.info("whatsmeow_online_later", device_id=session.device_id, error=exc.message)
            task = asyncio.create_task(self._go_online_later(session, attempt))
            self._presence_tasks.add(task)
            task.add_done_callback(self._presence_tasks.discard)
            return
        for jid in sorted(self._subscriptions.get(session.device_id, ())):
            async with self._ffi.shared():
                try:
                    await session.client.subscribe_presence(self._jid(jid))
                except Exception as exc:
                    log.warning(
                        "whatsmeow_resubscribe_failed",
                        device_id=session.device_id,
                        error=_short(exc),
                    )

    async def _go_online_later(self, session: _Session, attempt: int) -> None:
        await asyncio.sleep(self._presence_retry_delays[attempt])
        still_wanted = (
            not session.ended
            and self._sessions.get(session.device_id) is session
            and not session.available
            and self._presence_modes.get(session.device_id) == ALWAYS_ONLINE
        )
        if still_wanted:
            await self._go_online(session, attempt + 1)

    async def subscribe_presence(self, device_id: str, jid: str) -> None:
        """neonize's subscribe_presence; whatsmeow's server sends presence only to a client
        that sent `available`, so on_demand wraps it in AVAILABLE … UNAVAILABLE. Answers
        arrive as PresenceEv."""
        session = self._live(device_id)
        wrap = self._presence_modes.get(device_id, ON_DEMAND) == ON_DEMAND and not session.available
        if wrap:
            try:
                await self._send_presence(session, "available")
            except EngineError as exc:  # no push name yet: subscribed all the same
                log.info("whatsmeow_not_online", device_id=device_id, error=exc.message)
                wrap = False
        try:
            async with self._ffi.shared():
                try:
                    await session.client.subscribe_presence(self._jid(jid))
                except Exception as exc:
                    raise EngineError("presence_failed", _short(exc)) from exc
            self._subscriptions.setdefault(device_id, set()).add(jid)
        finally:
            if wrap:
                await self._send_presence(session, "unavailable")

    async def edit_message(
        self, device_id: str, chat: str, wa_message_id: str, new_content: dict[str, str]
    ) -> None:
        """neonize's build_edit (a MESSAGE_EDIT protocol message) sent with send_message."""
        session = self._live(device_id)
        builder = neonize_loader.module("neonize.builder")
        e2e = neonize_loader.module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")
        if "caption" in new_content:
            kind = new_content.get("type", "image")
            field = f"{kind}Message"
            cls = {"image": e2e.ImageMessage, "video": e2e.VideoMessage}.get(
                kind, e2e.DocumentMessage
            )
            edited = e2e.Message(**{field: cls(caption=new_content["caption"])})
        else:
            edited = e2e.Message(conversation=new_content["text"])
        jid = self._jid(chat)
        async with self._ffi.shared():
            try:
                await session.client.send_message(
                    jid, builder.build_edit(jid, wa_message_id, edited)
                )
            except Exception as exc:
                raise EngineError("edit_failed", _short(exc)) from exc

    async def revoke_message(
        self, device_id: str, chat: str, sender: str, wa_message_id: str
    ) -> None:
        """neonize's build_revoke (a REVOKE protocol message) sent with send_message."""
        session = self._live(device_id)
        jid = self._jid(chat)
        async with self._ffi.shared():
            try:
                revoke = await session.client.build_revoke(jid, self._jid(sender), wa_message_id)
                await session.client.send_message(jid, revoke)
            except Exception as exc:
                raise EngineError("revoke_failed", _short(exc)) from exc

    async def reject_call(self, device_id: str, call_id: str, caller: str) -> None:
        """neonize's reject_call (whatsmeow's RejectCall) with the caller's JID."""
        session = self._live(device_id)
        async with self._ffi.shared():
            try:
                await session.client.reject_call(self._jid(caller), call_id)
            except Exception as exc:
                raise EngineError("reject_failed", _short(exc)) from exc
        if call_id in session.calls:
            session.rejected_calls.add(call_id)

    async def groups(self, device_id: str) -> list[GroupInfo]:
        session = self._live(device_id)
        async with self._ffi.shared():
            groups = await self._query(session.client.get_joined_groups())
        return [mapping.group_info(g) for g in groups]

    async def profile(self, device_id: str, jid: str) -> Profile:
        session = self._live(device_id)
        target = self._jid(jid)
        async with self._ffi.shared():
            found = await self._query(session.client.get_user_info(target))
        if not found:
            raise EngineError("not_found", "WhatsApp knows no such user")
        info = found[0].UserInfo
        phone = str(target.User) if target.Server == "s.whatsapp.net" else None
        return Profile(
            jid=jid,
            phone=phone,
            name=str(info.VerifiedName.Details.verifiedName)
            or await self._stored_name(session, target),
            about=str(info.Status) or None,
            picture_url=await self._picture_url(session, target),
        )

    async def _stored_name(self, session: _Session, target: Any) -> str | None:
        """The contact's push name from whatsmeow's contact store (whatsmeow saves the push
        name of every message it receives, and the names the phone syncs), else the name
        the store has from the address book or a business profile."""
        async with self._ffi.shared():
            try:
                contact = await session.client.contact.get_contact(target)
            except Exception as exc:  # a name is a bonus, not the answer
                log.info(
                    "whatsmeow_contact_unknown", device_id=session.device_id, error=_short(exc)
                )
                return None
        if not contact.Found:
            return None
        for name in (contact.PushName, contact.FullName, contact.BusinessName):
            if mapping.text(name):
                return mapping.text(name)
        return None

    async def _picture_url(self, session: _Session, target: Any) -> str | None:
        """neonize's get_profile_picture: the URL, or None when the contact has no picture or
        hides it from this account (whatsmeow answers nothing, or an error)."""
        async with self._ffi.shared():
            try:
                picture = await session.client.get_profile_picture(target)
            except Exception as exc:
                log.info("whatsmeow_no_picture", device_id=session.device_id, error=_short(exc))
                return None
        return mapping.text(picture.URL) or None if picture is not None else None

    async def check_contacts(self, device_id: str, phones: list[str]) -> list[ContactCheck]:
        session = self._live(device_id)
        async with self._ffi.shared():
            answers = await self._query(session.client.is_on_whatsapp(*(f"+{p}" for p in phones)))
        by_query = {str(a.Query).lstrip("+"): a for a in answers}
        checks = []
        for phone in phones:
            answer = by_query.get(phone)
            if answer is None or not answer.IsIn:
                checks.append(ContactCheck(phone, False))
                continue
            lid = None
            async with self._ffi.shared():
                with contextlib.suppress(Exception):  # the LID is a bonus, not the answer
                    found = await session.client.get_lid_from_pn(answer.JID)
                    lid = f"{found.User}@lid" if found.User else None
            checks.append(ContactCheck(phone, True, mapping.jid_string(answer.JID), lid))
        return checks

    @staticmethod
    async def _query(call: Awaitable[Any]) -> Any:
        try:
            return await call
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError("query_failed", _short(exc)) from exc

    @staticmethod
    def _jid(jid: str) -> Any:
        """neonize's JID for `user@server` (a bare user is a phone number)."""
        user, _, server = jid.partition("@")
        return neonize_loader.module("neonize.proto.Neonize_pb2").JID(
            User=user, Server=server or "s.whatsapp.net"
        )

    # --- the account itself (CONTRACT §8.4) ------------------------------------------------

    async def reconnect(self, device_id: str) -> None:
        """A restart without unlinking. neonize's `disconnect()` drops the socket with no way
        to reconnect it, and `connect()` again without `stop()` orphans the old Go loop
        (NEONIZE-NOTES.md), so: the client is stopped and a new one connects from the same
        stored session, as at a restore (same epoch). `ConnectionLost` first; the new
        client's ConnectedEv gives `Connected(reconnected=True)`."""
        session = self._live(device_id)
        store_jid = await self._stored_jid(device_id)
        if store_jid is None:
            raise EngineError("not_connected", "the device has no stored session")
        await self._emit(ConnectionLost(device_id, session.epoch, "restart requested"))
        await self._stop(device_id)
        again = self._open(device_id, session.epoch, pairing=False, store_jid=store_jid or None)
        try:
            await self._connect(again)
        except EngineError as exc:
            await self._emit(SessionEnded(device_id, session.epoch, "engine_error", exc.message))

    async def update_own_profile(
        self,
        device_id: str,
        name: str | None = None,
        about: str | None = None,
        picture: bytes | None = None,
    ) -> None:
        """neonize's set_profile_name (the push name, an app-state patch), set_status_message
        (the about text) and set_profile_photo (always bytes: a str is read as a path/URL)."""
        session = self._live(device_id)
        async with self._ffi.shared():
            try:
                if name is not None:
                    await session.client.set_profile_name(name)
                if about is not None:
                    await session.client.set_status_message(about)
                if picture is not None:
                    await session.client.set_profile_photo(bytes(picture))
            except Exception as exc:
                raise EngineError("profile_update_failed", _short(exc)) from exc

    async def set_blocked(self, device_id: str, jid: str, blocked: bool) -> None:
        """neonize's update_blocklist with BlocklistAction.BLOCK / UNBLOCK."""
        session = self._live(device_id)
        action = neonize_loader.module("neonize.utils.enum").BlocklistAction
        async with self._ffi.shared():
            try:
                await session.client.update_blocklist(
                    self._jid(jid), action.BLOCK if blocked else action.UNBLOCK
                )
            except Exception as exc:
                raise EngineError("block_failed", _short(exc)) from exc

    async def blocklist(self, device_id: str) -> list[str]:
        """neonize's get_blocklist: a Blocklist whose JIDs are the blocked users."""
        session = self._live(device_id)
        async with self._ffi.shared():
            found = await self._query(session.client.get_blocklist())
        return [mapping.jid_string(jid) for jid in found.JIDs]

    async def contacts(self, device_id: str) -> list[Contact]:
        """whatsmeow's contact store (neonize's `client.contact.get_all_contacts`): every
        contact with a push name (saved from each message received), a name the phone
        synced, or a business name; the other address form (phone ⇄ LID) from whatsmeow's
        LID map (`get_lid_from_pn` / `get_pn_from_lid`) where it knows it."""
        session = self._live(device_id)
        async with self._ffi.shared():
            stored = await self._query(session.client.contact.get_all_contacts())
        contacts = []
        for entry in stored:
            jid, info = entry.JID, entry.Info
            phone = lid = None
            other = None
            async with self._ffi.shared():
                with contextlib.suppress(Exception):  # the other form is a bonus
                    if jid.Server == "lid":
                        other = await session.client.get_pn_from_lid(jid)
                    else:
                        other = await session.client.get_lid_from_pn(jid)
            for candidate in (jid, other):
                if candidate is None or not mapping.text(candidate.User):
                    continue
                if candidate.Server == "lid":
                    lid = lid or f"{mapping.text(candidate.User)}@lid"
                elif candidate.Server == "s.whatsapp.net":
                    phone = phone or mapping.text(candidate.User)
            contacts.append(
                Contact(
                    jid=f"{mapping.text(jid.User)}@{mapping.text(jid.Server)}",
                    phone=phone,
                    lid=lid,
                    name=mapping.text(info.FullName) or mapping.text(info.FirstName) or None,
                    push_name=mapping.text(info.PushName) or None,
                    business_name=mapping.text(info.BusinessName) or None,
                )
            )
        return contacts

    # --- groups (CONTRACT §8.3) --------------------------------------------------------------

    async def _administered(self, device_id: str, group: str) -> _Session:
        """The live session, after checking with WhatsApp that the account is an admin of the
        group (so a refused change is refused before anything is sent)."""
        session = self._live(device_id)
        found = next((g for g in await self.groups(device_id) if g.jid == group), None)
        if found is None:
            raise EngineError("not_found", "the account is not in that group")
        own = session.phone
        if not any(
            m.admin and (m.phone == own or m.jid.startswith(f"{own}@")) for m in found.members
        ):
            raise EngineError("not_group_admin", "the account is not an admin of that group")
        return session

    async def update_group(self, device_id: str, group: str, changes: dict[str, Any]) -> None:
        """set_group_name / set_group_topic / set_group_announce / set_group_locked."""
        session = await self._administered(device_id, group)
        jid = self._jid(group)
        client = session.client
        async with self._ffi.shared():
            try:
                if "subject" in changes:
                    await client.set_group_name(jid, str(changes["subject"]))
                if "description" in changes:
                    await client.set_group_topic(jid, "", "", str(changes["description"] or ""))
                if "announce" in changes:
                    await client.set_group_announce(jid, bool(changes["announce"]))
                if "locked" in changes:
                    await client.set_group_locked(jid, bool(changes["locked"]))
            except Exception as exc:
                raise EngineError("group_update_failed", _short(exc)) from exc

    async def update_group_participants(
        self, device_id: str, group: str, action: str, participants: list[str]
    ) -> list[GroupParticipantChange]:
        """update_group_participants: each participant's `Error` (0 ok, 403 privacy, 409
        already in, 404 unknown) becomes its status."""
        session = await self._administered(device_id, group)
        enum = neonize_loader.module("neonize.utils.enum")
        async with self._ffi.shared():
            try:
                changed = await session.client.update_group_participants(
                    self._jid(group),
                    [self._jid(p) for p in participants],
                    enum.ParticipantChange[action.upper()],
                )
            except Exception as exc:
                raise EngineError("group_update_failed", _short(exc)) from exc
        return mapping.participant_changes(action, participants, changed)

    async def create_group(
        self, device_id: str, subject: str, participants: list[str]
    ) -> GroupInfo:
        """create_group: whatsmeow answers with the new group's info."""
        session = self._live(device_id)
        async with self._ffi.shared():
            try:
                created = await session.client.create_group(
                    subject, [self._jid(p) for p in participants]
                )
            except Exception as exc:
                raise EngineError("group_create_failed", _short(exc)) from exc
        return mapping.group_info(created)

    async def group_invite_link(self, device_id: str, group: str, reset: bool) -> str:
        """get_group_invite_link (revoke=True: a new link)."""
        session = await self._administered(device_id, group)
        async with self._ffi.shared():
            try:
                link = await session.client.get_group_invite_link(self._jid(group), reset)
            except Exception as exc:
                raise EngineError("invite_link_failed", _short(exc)) from exc
        text = str(link)
        return text if text.startswith("https://") else f"{INVITE_LINK_PREFIX}{text}"

    async def join_group(self, device_id: str, code: str) -> GroupInfo:
        """join_group_with_link, then get_group_info of the group it names. whatsmeow's
        error for an unknown or reset link becomes `not_found`."""
        session = self._live(device_id)
        async with self._ffi.shared():
            try:
                jid = await session.client.join_group_with_link(code)
            except Exception as exc:
                raise EngineError("not_found", _short(exc)) from exc
            info = await self._query(session.client.get_group_info(jid))
        return mapping.group_info(info)

    async def leave_group(self, device_id: str, group: str) -> None:
        session = self._live(device_id)
        if not any(g.jid == group for g in await self.groups(device_id)):
            raise EngineError("not_found", "the account is not in that group")
        async with self._ffi.shared():
            try:
                await session.client.leave_group(self._jid(group))
            except Exception as exc:
                raise EngineError("group_leave_failed", _short(exc)) from exc


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def factory(config: dict[str, Any]) -> WhatsmeowBackend:
    """The worker's backend factory (`wagateway.engines.whatsmeow.backend:factory`).

    `config["client_factory"]` ("module:callable") replaces neonize's `NewAClient`: the
    end-to-end tests run whole gateways on a stand-in at the neonize boundary with it.
    """
    spec = config.get("client_factory")
    if not spec:
        return WhatsmeowBackend(config)
    from wagateway.engines.workers.host import load_factory

    return WhatsmeowBackend(config, client_factory=load_factory(str(spec)))
