"""The session runtime: owns live device sessions and turns engine events into state.

Engine events arrive here (per device, in order). Each is applied to the device row through
the state machine and written, in the same transaction, as an outbox event for webhooks.
Events from a superseded session (an older epoch) are dropped, so a late QR from a window
that was cancelled can never resurrect it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.cluster.ownership import Ownership
from wagateway.core.db import (
    Database,
    Preload,
    get_locked,
    keep_for_the_group,
    lock_rows,
    utcnow,
)
from wagateway.core.errors import ApiError
from wagateway.core.joined_writes import JoinedWrites
from wagateway.devices import events
from wagateway.devices.history_lane import HistoryLane
from wagateway.devices.models import Device
from wagateway.devices.policies import CallPolicy, call_policy_of, presence_mode_of
from wagateway.devices.sink import MessageSink
from wagateway.devices.state import Connection, IllegalTransition, Status, check_transition
from wagateway.engines.base import (
    ChatPresence,
    Connected,
    ConnectionLost,
    Engine,
    EngineError,
    EngineEvent,
    GroupChanged,
    HistoryBatch,
    InboundMessage,
    IncomingCall,
    MessageEdited,
    MessageRevoked,
    OwnerRead,
    PairingWindowEnded,
    PollVote,
    PresenceUpdate,
    QrCode,
    Receipt,
    SessionEnded,
    Warning,
    with_valid_text,
)
from wagateway.engines.fenced import Route, fenced

log = structlog.get_logger(__name__)

# How many devices a node restores side by side (`take_over`).
RESTORES_AT_ONCE = 64
# How many devices one transaction marks taken over (`take_over`).
TAKE_OVER_AT_ONCE = 500
# How many presence_mode pushes after a Connected run at once.
MODE_PUSHES_AT_ONCE = 8

# The devices with a session to hold: linked, or pairing.
SESSIONFUL = (Status.CONNECTED, Status.QR_GENERATED)

# Told of devices this node takes over before their sessions are restored here (the queue
# takes back the sends their previous owner had claimed).
TakeoverListener = Callable[[list[str]], Awaitable[None]]

# Sends the automatic reply to a rejected call, queued as the app's message with `source:
# "auto"`: (app_id, device_id, to, text). The messages side provides it (`gateway.py`).
CallReply = Callable[[str, str, str, str], Awaitable[object]]


@dataclass(frozen=True)
class _ModePush:
    """A device's presence_mode, for its engine (`push_presence_mode`)."""

    device_id: str
    engine: str
    mode: str

    @classmethod
    def of(cls, device: Device, app: App) -> _ModePush:
        return cls(device.id, device.engine, presence_mode_of(app, device))


@dataclass(frozen=True)
class _Rejection:
    """A call the device's (else the app's) call policy rejects, decided when its offer was
    written; carried out once that write committed (engines are called outside
    transactions)."""

    engine: str
    app_id: str
    policy: CallPolicy


class SessionRuntime:
    def __init__(
        self,
        db: Database,
        engines: Iterable[Engine],
        sink: MessageSink,
        *,
        history_max_messages: int = 0,
        ownership: Ownership | None = None,
        route: Route | None = None,
    ) -> None:
        self._db = db
        self._sink = sink
        # Which devices this node holds (several nodes, CONTRACT §9); without it, a runtime
        # on its own holds every device (in-process tests). `route` carries calls for the
        # devices other nodes hold to them.
        self.ownership = ownership
        # What a session of a device with `history_sync` may import (WAGW_HISTORY_MAX_MESSAGES).
        self.history_max_messages = history_max_messages
        # Last presence seen per (device, jid): presence is pushed, never asked, so it may be stale.
        self.presence: dict[tuple[str, str], PresenceUpdate] = {}
        engines = list(engines)
        self.engines: dict[str, Engine] = {
            engine.name: engine if ownership is None else fenced(engine, self.holds, route)
            for engine in engines
        }
        # This node's own sessions, for letting go of them: never fenced, never routed (a
        # routed close would end the session another node holds now).
        self._own_sessions: dict[str, Engine] = {engine.name: engine for engine in engines}
        self._takeover_listeners: list[TakeoverListener] = []
        self._taking_over: set[str] = set()  # see `may_send`
        # Restores under way (`begin_take_over`), by device; their turns are the node's, not
        # one takeover's: passes that overlap share the bound.
        self._restoring: dict[str, asyncio.Future[bool]] = {}
        self._restore_turns = asyncio.Semaphore(RESTORES_AT_ONCE)
        # Receipts that arrive while their write waits join it, whatever their device
        # (`handle`): one device query and one message query for the lot.
        self._receipts: JoinedWrites[None, Receipt] = JoinedWrites(db, self._apply_receipts)
        self._qr_waiters: defaultdict[tuple[str, int], list[asyncio.Future[None]]] = defaultdict(
            list
        )
        self.started = False
        self.call_reply: CallReply | None = None
        self._rejections: dict[tuple[str, str], _Rejection] = {}
        self._mode_pushes: set[asyncio.Task[None]] = set()
        # Each push after a connect is an engine call (to a worker process, for whatsmeow):
        # thousands of devices connecting at once (a restart) take turns.
        self._mode_push_turns = asyncio.Semaphore(MODE_PUSHES_AT_ONCE)
        self._history = HistoryLane(
            lambda batch: self._db.submit(lambda session: self._apply_history(session, batch))
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the engines. Without an ownership (a runtime on its own), every device with
        a session is taken over at once; with one, the node's placement takes its share."""
        for engine in self.engines.values():
            await engine.start(self.handle)
        self.started = True
        if self.ownership is None:
            async with self._db.read() as session:
                ids = (
                    await session.scalars(select(Device.id).where(Device.status.in_(SESSIONFUL)))
                ).all()
            await self.take_over(list(ids))

    async def shutdown(self) -> None:
        self.started = False
        for restore in list(self._restoring.values()):
            restore.cancel()
        for task in list(self._mode_pushes):
            task.cancel()
        for engine in self.engines.values():
            await engine.shutdown()
        await self._history.close()

    def holds(self, device_id: str) -> bool:
        """Whether this node may act for the device now (send, query, any engine call)."""
        return self.ownership is None or self.ownership.holds(device_id)

    def may_send(self, device_id: str) -> bool:
        """Whether this node may claim the device's sends now: it holds the device, and is
        not in the middle of taking it over (until its previous owner's unfinished sends are
        back in the queue, a claim would send the messages after them first)."""
        return self.holds(device_id) and device_id not in self._taking_over

    async def own_for_session(self, session: AsyncSession, device_id: str) -> int | None:
        """Make this node the device's owner as a session starts for it here (in the
        transaction that starts it); the token to `hold` once that has committed."""
        if self.ownership is None:
            return None
        return await self.ownership.take_for_session(session, device_id, utcnow())

    def hold(self, device_id: str, token: int | None) -> None:
        if self.ownership is not None and token is not None:
            self.ownership.add(device_id, token)

    def on_takeover(self, listener: TakeoverListener) -> None:
        self._takeover_listeners.append(listener)

    def engine_for(self, name: str) -> Engine:
        engine = self.engines.get(name)
        if engine is None:
            raise EngineError(
                "engine_unavailable", f"the {name} engine is not available on this server"
            )
        return engine

    async def take_over(self, device_ids: list[str]) -> None:
        """Take these newly held devices over (`begin_take_over`) and wait for their
        restores."""
        await self.begin_take_over(device_ids)
        await self.restores_settled(device_ids)

    async def begin_take_over(self, device_ids: list[str]) -> None:
        """Bring this node's newly held devices up from their stored sessions; no scan needed.

        Returns once their new session epochs are written and the takeover listeners have
        run; their restores go on in the background (`restores_settled` waits for them). A
        restore waits on its engine (a worker process, WhatsApp's servers: up to a minute),
        and the placement pass that took them must not: the next one may have a dead node's
        devices to take within the contract's bound.

        A pairing window cannot move (its codes lived in the process that opened it: a dead
        node, or this one before a restart), so devices caught mid-pairing become `expired`:
        the integrator asks for a new QR. Devices this node no longer holds by the time their
        turn comes are left to their new owner.
        """
        if not device_ids:
            return
        restores: list[asyncio.Future[bool]] = []
        # A bounded number per transaction: thousands in one (a restart) would hold up every
        # call the node answers meanwhile. A chunk's restores begin while the next is written.
        for start in range(0, len(device_ids), TAKE_OVER_AT_ONCE):
            chunk = device_ids[start : start + TAKE_OVER_AT_ONCE]
            # No claims for them until the sends their previous owner left are back in the
            # queue.
            self._taking_over.update(chunk)
            try:
                to_restore = await self._mark_taken_over(chunk)
                for listener in self._takeover_listeners:
                    await listener([device_id for device_id, *_ in to_restore])
            except BaseException:
                # Not restored (the database went away, say): no longer held here, so that
                # the next placement pass takes them up again instead of counting them as
                # running. Held, they would stay without a session, their sends claimed here.
                if self.ownership is not None:
                    for device_id in device_ids[start:]:
                        self.ownership.drop(device_id)
                raise
            finally:
                self._taking_over.difference_update(chunk)
            for device in to_restore:
                restores.append(self._start_restore(*device))
            await asyncio.sleep(0)  # the calls waiting meanwhile go first
        if restores:
            counted = asyncio.ensure_future(asyncio.gather(*restores))
            counted.add_done_callback(_log_restored)

    def _start_restore(
        self, device_id: str, engine_name: str, epoch: int, history: bool
    ) -> asyncio.Future[bool]:
        future = asyncio.ensure_future(self._restore(device_id, engine_name, epoch, history))
        self._restoring[device_id] = future

        def forget(done: asyncio.Future[bool]) -> None:
            if self._restoring.get(device_id) is done:
                del self._restoring[device_id]

        future.add_done_callback(forget)
        return future

    async def _restore(self, device_id: str, engine_name: str, epoch: int, history: bool) -> bool:
        """Restore one device's session, in its turn; whether it was."""
        async with self._restore_turns:
            if not self.holds(device_id):
                return False
            try:
                engine = self.engine_for(engine_name)
                await engine.restore(device_id, epoch)
            except EngineError as exc:
                if self.holds(device_id):  # else: fenced meanwhile, the new owner has it
                    await self.handle(
                        SessionEnded(device_id, epoch, reason="engine_error", detail=exc.message)
                    )
                return False
            if not self._still_held_here(device_id):
                # Let go of while its session was being opened: `let_go`'s close may have
                # come before the session existed to be closed.
                await self._close_here(device_id)
                return False
            if history:  # WhatsApp may still be sending it
                await self._tell_history_limit(engine_name, device_id, history_sync=True)
            return True

    def _still_held_here(self, device_id: str) -> bool:
        """Whether this node still holds the device or holds it again (`let_go` drops it,
        a pairing window opened here meanwhile takes it back)."""
        return self.ownership is None or self.ownership.has(device_id)

    async def restores_settled(
        self, device_ids: Iterable[str] | None = None, timeout: float | None = None
    ) -> None:
        """Wait until the restores under way (of these devices, or all) have ended, at most
        `timeout` seconds: before a handover releases devices, whose sessions a restore
        ending later would open again."""
        wanted = self._restoring if device_ids is None else device_ids
        pending = [self._restoring[d] for d in wanted if d in self._restoring]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _mark_taken_over(self, device_ids: list[str]) -> list[tuple[str, str, int, bool]]:
        """The devices' new session epoch, written before their sessions are restored here:
        linked ones go `reconnecting`, pairing ones `expired`. The linked ones to restore:
        (id, engine, epoch, history_sync)."""
        async with self._db.transaction() as session:
            rows = (
                await session.scalars(
                    lock_rows(
                        select(Device)
                        .where(Device.id.in_(device_ids), Device.status.in_(SESSIONFUL))
                        .order_by(Device.id),
                        self._db,
                    )
                )
            ).all()
            to_restore: list[tuple[str, str, int, bool]] = []
            for device in rows:
                device.session_epoch += 1
                if device.status == Status.QR_GENERATED:
                    self._clear_pairing(device)
                    device.status = check_transition(device.status, Status.EXPIRED)
                    device.last_error = "pairing window interrupted: its node restarted or stopped"
                    events.expired(session, device)
                else:
                    device.connection = Connection.RECONNECTING
                    to_restore.append(
                        (device.id, device.engine, device.session_epoch, device.history_sync)
                    )
        return to_restore

    async def let_go(self, device_ids: list[str]) -> None:
        """Stop this node's sessions of these devices without changing the devices: they
        move to another node (or this node could no longer renew its hold on them). Acting
        for them is refused from the first moment; then each engine closes its session, if
        it has one. Nothing here needs the database, which may be out of reach."""
        if self.ownership is not None:
            for device_id in device_ids:
                self.ownership.drop(device_id)
        for device_id in device_ids:
            if self.ownership is not None and self.ownership.has(device_id):
                continue  # held again meanwhile (a pairing window opened here): its session
            await self._close_here(device_id)

    async def _close_here(self, device_id: str) -> None:
        """Close this node's own session of the device, on whichever engine has one."""
        for engine in self._own_sessions.values():
            try:
                await engine.close(device_id)
            except EngineError as exc:
                log.warning("session_close_failed", device_id=device_id, error=exc.message)

    async def closes_recorded(self, timeout: float) -> None:
        """Wait (at most `timeout`) until every engine's network has recorded the ends of the
        sessions `let_go` closed: before devices are released to another node."""
        await asyncio.gather(
            *(engine.closes_recorded(timeout) for engine in self._own_sessions.values())
        )

    async def push_presence_mode(self, device_id: str) -> None:
        """Tell the engine of a connected device its presence_mode (CONTRACT §8.1: the device's,
        else its app's, else on_demand): after each Connected, and after a settings change
        (`PATCH /app`, `PATCH /devices/{id}`). Nothing for a device that is not connected."""
        async with self._db.read() as session:
            device = await session.get(Device, device_id)
            if device is None or device.status != Status.CONNECTED:
                return
            app = await session.get(App, device.app_id)
            if app is None:
                return
            push = _ModePush.of(device, app)
        await self._push_mode(push)

    async def _push_mode(self, push: _ModePush) -> None:
        try:
            await self.engine_for(push.engine).set_presence_mode(push.device_id, push.mode)
        except (EngineError, ApiError) as exc:  # ApiError: its node did not answer in time
            log.warning("presence_mode_not_applied", device_id=push.device_id, error=exc.message)

    async def _push_mode_in_turn(self, push: _ModePush) -> None:
        async with self._mode_push_turns:
            await self._push_mode(push)

    async def push_history_limit(self, device_id: str) -> None:
        """Tell the engine of a pairing device whether its coming link imports history
        (CONTRACT §8.4: `history_sync` set before the device links applies to that link).
        Nothing for a device that is not pairing: WhatsApp sends history once, at linking."""
        async with self._db.read() as session:
            device = await session.get(Device, device_id)
            if device is None or device.status != Status.QR_GENERATED:
                return
            history_sync, engine_name = device.history_sync, device.engine
        await self._tell_history_limit(engine_name, device_id, history_sync)

    async def _tell_history_limit(
        self, engine_name: str, device_id: str, history_sync: bool
    ) -> None:
        """How much history the device's session may import (none without `history_sync`).
        A failure is logged, and the session stands: only its history import is affected."""
        limit = self.history_max_messages if history_sync else 0
        try:
            await self.engine_for(engine_name).set_history_limit(device_id, limit)
        except (EngineError, ApiError) as exc:  # ApiError: its node did not answer in time
            log.warning("history_limit_not_applied", device_id=device_id, error=exc.message)

    # --- pairing helpers used by the device service ------------------------------------------

    async def begin_pairing_and_wait(self, device: Device, timeout: float) -> None:
        """Open a pairing window and wait for its first QR (raises EngineError/TimeoutError)."""
        key = (device.id, device.session_epoch)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._qr_waiters[key].append(waiter)
        try:
            engine = self.engine_for(device.engine)
            await engine.begin_pairing(device.id, device.session_epoch)
            if device.history_sync:
                await engine.set_history_limit(device.id, self.history_max_messages)
            await asyncio.wait_for(waiter, timeout)
        finally:
            waiters = self._qr_waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._qr_waiters.pop(key, None)

    def _settle_waiters(self, event: EngineEvent, error: Exception | None = None) -> None:
        for waiter in self._qr_waiters.pop((event.device_id, event.epoch), []):
            if not waiter.done():
                if error:
                    waiter.set_exception(error)
                else:
                    waiter.set_result(None)

    # --- engine events ----------------------------------------------------------------------

    def handle(self, event: EngineEvent) -> Awaitable[None]:
        """Take an engine event: its write is submitted before this returns (so the order in
        which a device's events are handed over is the order they are written in), and the
        awaitable completes once it is committed.

        Events share transactions with whatever else is being written (group commit).
        Receipts of one device that arrive while their write waits for its turn join that
        same write: one device read and one message query for the lot instead of per
        receipt. Any other event of the device closes that batch first, so receipts never
        overtake it.

        A history batch goes on the history lane instead (`history_lane.py`): in order with
        the device's other batches, after what the device handed over before it, paced.

        This is where engine events enter the domain: their text is made storable here, once,
        for every engine (a lone surrogate becomes U+FFFD; the message is kept).
        """
        event = with_valid_text(event)
        written: Awaitable[object]
        if isinstance(event, Receipt):
            written = self._receipts.add(None, event, member=event.device_id)
        elif isinstance(event, HistoryBatch):
            # Written on its own paced lane (`history_lane.py`), after the device's events
            # handed over before it: history is old news, and must not crowd out live writes.
            self._receipts.close(None, member=event.device_id)
            written = self._history.add(event)
        else:
            self._receipts.close(None, member=event.device_id)
            # The device row is the unit's first read, locked: the group reads its units' at
            # once (a restart's thousands of connects: one query a group, not one each).
            written = self._db.submit(
                lambda session: self._apply_event(session, event),
                Preload(Device, event.device_id, locked=True),
            )
        return self._after_write(event, written)

    async def _after_write(self, event: EngineEvent, written: Awaitable[object]) -> None:
        rejection = None
        mode_push = None
        try:
            outcome = await written
            mode_push = outcome if isinstance(outcome, _ModePush) else None
        except IllegalTransition as exc:
            log.warning("engine_event_refused", device_id=event.device_id, error=str(exc))
            return
        finally:
            if isinstance(event, IncomingCall):
                rejection = self._rejections.pop((event.device_id, event.call_id), None)
        if isinstance(event, IncomingCall) and rejection is not None:
            await self._reject_call(event, rejection)
        if mode_push is not None:
            # Every connection starts unavailable: the engine learns the device's
            # presence_mode anew (always_online: it goes available now).
            task = asyncio.create_task(self._push_mode_in_turn(mode_push))
            self._mode_pushes.add(task)
            task.add_done_callback(self._mode_pushes.discard)
        if isinstance(event, QrCode):
            self._settle_waiters(event)
        elif isinstance(event, SessionEnded | PairingWindowEnded):
            self._settle_waiters(
                event, EngineError(getattr(event, "reason", "expired"), "pairing ended")
            )

    async def _reject_call(self, call: IncomingCall, rejection: _Rejection) -> None:
        """Reject the call through the device's engine; once WhatsApp took it, the `call`
        event says `rejected` and the policy's reply text is queued to the caller."""
        try:
            await self.engine_for(rejection.engine).reject_call(
                call.device_id, call.call_id, call.caller
            )
        except EngineError as exc:
            log.warning("call_reject_failed", device_id=call.device_id, error=exc.message)
            await self.handle(
                Warning(
                    call.device_id,
                    call.epoch,
                    "call_reject_failed",
                    f"the call {call.call_id} could not be rejected: {exc.message}",
                )
            )
            return
        await self.handle(dataclasses.replace(call, state="rejected", at=utcnow()))
        text = rejection.policy.reply_text
        if not text or self.call_reply is None:
            return
        to = f"{call.caller_phone}@s.whatsapp.net" if call.caller_phone else call.caller
        try:
            await self.call_reply(rejection.app_id, call.device_id, to, text)
        except ApiError as exc:  # e.g. the device went offline meanwhile
            log.warning("call_reply_failed", device_id=call.device_id, error=exc.message)

    async def _apply_receipts(
        self, session: AsyncSession, _: None, receipts: list[Receipt]
    ) -> None:
        by_device: dict[str, list[Receipt]] = {}
        for receipt in receipts:
            by_device.setdefault(receipt.device_id, []).append(receipt)
        stmt = lock_rows(
            select(Device).where(Device.id.in_(by_device)).order_by(Device.id), self._db
        )
        devices = [
            device
            for device in (await session.execute(stmt)).scalars()
            if device.status != Status.DESTROYED
        ]
        current = [
            (device, [r for r in by_device[device.id] if r.epoch == device.session_epoch])
            for device in devices
        ]
        await self._sink.apply_receipts(session, current)

    async def _apply_history(self, session: AsyncSession, batch: HistoryBatch) -> None:
        await self._apply_event(session, batch)

    async def _apply_event(self, session: AsyncSession, event: EngineEvent) -> _ModePush | None:
        """Write the event; for a Connected, the presence_mode to push once it committed
        (read here, in the write, rather than by a read of its own per connection)."""
        device = await get_locked(session, Device, event.device_id)
        if device is None or device.status == Status.DESTROYED:
            return None
        if device.session_epoch != event.epoch:
            log.debug("stale_engine_event", device_id=event.device_id, kind=type(event).__name__)
            return None
        await self._apply(session, device, event)
        if not isinstance(event, Connected):
            return None
        app = await session.get(App, device.app_id)
        if app is None:
            return None
        keep_for_the_group(session, [app])  # one read per app in a group, not per device
        return _ModePush.of(device, app)

    @staticmethod
    def _clear_pairing(device: Device) -> None:
        device.qr = None
        device.qr_expires_at = None
        device.pairing_code = None
        device.pairing_phone = None

    async def _apply(self, session: AsyncSession, device: Device, event: EngineEvent) -> None:
        match event:
            case QrCode(code=code, expires_at=expires_at):
                device.status = check_transition(device.status, Status.QR_GENERATED)
                device.qr = code
                device.qr_expires_at = expires_at
                device.connection = Connection.OFFLINE
                events.qr_generated(session, device)
            case PairingWindowEnded():
                device.status = check_transition(device.status, Status.EXPIRED)
                self._clear_pairing(device)
                events.expired(session, device)
            case Connected(reconnected=reconnected):
                was_linked = device.status == Status.CONNECTED
                device.status = check_transition(device.status, Status.CONNECTED)
                self._clear_pairing(device)
                device.connection = Connection.ONLINE
                device.wa_number = event.wa_number
                device.wa_device_jid = event.wa_device_jid
                device.linked_at = event.linked_at
                device.last_error = None
                events.connected(session, device, reconnected=reconnected and was_linked)
            case ConnectionLost(error=error):
                if device.status != Status.CONNECTED:
                    raise IllegalTransition(device.status, "connected/reconnecting")
                device.connection = Connection.RECONNECTING
                device.last_error = error
                events.warning(session, device, "connection_lost", f"{error}; reconnecting")
            case SessionEnded(reason=reason, detail=detail):
                device.status = check_transition(device.status, Status.DISCONNECTED)
                self._clear_pairing(device)
                device.connection = Connection.OFFLINE
                device.last_error = f"{reason}: {detail}" if detail else reason
                device.session_epoch += 1
                events.disconnected(session, device, reason)
            case InboundMessage():
                if device.status != Status.CONNECTED:
                    raise IllegalTransition(device.status, "inbound message")
                await self._sink.store_inbound(session, device, event)
                return  # a message is not a change of the device itself
            case MessageRevoked():
                await self._sink.apply_revoke(session, device, event)
                return
            case MessageEdited():
                await self._sink.apply_edit(session, device, event)
                return
            case PollVote():
                await self._sink.apply_poll_vote(session, device, event)
                return
            case PresenceUpdate():
                self.presence[(device.id, event.jid)] = event
                self._sink.presence(session, device, event)
                return
            case ChatPresence():
                self._sink.chat_presence(session, device, event)
                return
            case OwnerRead():
                await self._sink.apply_owner_read(session, device, event)
                return
            case HistoryBatch():
                await self._sink.store_history(session, device, event)
                return
            case IncomingCall():
                events.call(session, device, event)
                if event.state == "offer":
                    app = await session.get(App, device.app_id)
                    policy = call_policy_of(app, device) if app is not None else CallPolicy()
                    if policy.reject:
                        self._rejections[(device.id, event.call_id)] = _Rejection(
                            device.engine, device.app_id, policy
                        )
                return
            case GroupChanged():
                events.group_changed(session, device, event)
                return
            case Warning(code=code, message=message):
                events.warning(session, device, code, message)
            case _:
                log.warning("unknown_engine_event", kind=type(event).__name__)
                return
        device.updated_at = utcnow()


def _log_restored(restores: asyncio.Future[list[bool]]) -> None:
    if restores.cancelled():
        return
    error = restores.exception()
    if error is not None:  # the database gone mid-restore, say: the device stays reconnecting
        log.error("restore_failed", error=repr(error))
        return
    log.info("devices_restored", count=sum(restores.result()))
