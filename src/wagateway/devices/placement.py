"""Where each device's session lives when several nodes share the database (CONTRACT §9).

After every heartbeat a node places devices (`place`): it finds dead nodes (their devices
become free), lets go of the devices the database no longer gives it, takes free devices
with a session (linked or pairing) up to its fair share — every live node's share is the
same, rounded up — and gives back what is above its share when nodes joined (rebalancing).
When it stops it hands every device over (`drain`). When its heartbeat cannot be renewed in
time it stops acting for all of them and closes their sessions (`_fence`), before any other
node may take them; once it beats again, whatever is still its own is brought back.

A device is always let go of (its session closed) *before* its owner row is released, and
taken (the row won) *before* its session is opened: two nodes never hold one session.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.cluster.membership import Membership
from wagateway.cluster.models import DeviceOwner
from wagateway.cluster.ownership import Ownership, expel_dead, free_owner, live_node_count
from wagateway.core.db import Database, database_now
from wagateway.devices.models import Device
from wagateway.devices.runtime import SESSIONFUL, SessionRuntime
from wagateway.devices.state import Status

log = structlog.get_logger(__name__)

# How many devices a transaction takes (`_take_free`).
TAKE_AT_ONCE = 500
# How long a handover (a rebalance, a drain) waits for its devices' restores under way to end,
# then as long for the network to record the ends of the sessions it closed, before it
# releases the devices; a database out of reach ends it sooner.
HANDOVER_WAIT_SECONDS = 5.0


class Placement:
    def __init__(
        self, db: Database, runtime: SessionRuntime, ownership: Ownership, membership: Membership
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._ownership = ownership
        self._membership = membership
        self._lock = asyncio.Lock()
        self._draining = False
        self._started = False
        self._fence_task: asyncio.Task[None] | None = None
        self._first_pass: asyncio.Task[None] | None = None
        self.fenced_count = 0  # times this node stopped its sessions for want of a heartbeat

    def start(self) -> None:
        """Place devices from now on (the engines and the queue are up), the first pass at
        once, in the background: the node answers calls while its devices come up."""
        self._started = True
        self._fence_task = asyncio.create_task(self._watch_fence(), name="ownership-fence")
        self._first_pass = asyncio.create_task(self._place_first(), name="placement-first")

    async def _place_first(self) -> None:
        # A turn of the loop first: the calls held while the node started (its starting
        # front releases them in the step that ends the gateway's start, this task already
        # queued) are answered before this pass takes the loop for its thousands of devices.
        await asyncio.sleep(0)
        try:
            await self.place()
        except Exception:
            log.exception("placement_failed")  # the next beat's pass tries again
        await self._runtime.restores_settled()  # `restoring` until this node's share is up

    @property
    def restoring(self) -> bool:
        """Whether the first pass (taking this node's share) or its restores are under way."""
        return self._first_pass is None or not self._first_pass.done()

    async def stop(self) -> None:
        for task in (self._fence_task, self._first_pass):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- one pass ---------------------------------------------------------------------------

    async def place(self) -> None:
        async with self._lock:
            if (
                not self._started
                or self._draining
                or time.monotonic() >= self._ownership.valid_until
            ):
                return
            engines = list(self._runtime.engines)
            before = self._ownership.held()
            async with self._db.transaction() as session:
                now = await database_now(session)
                dead = await expel_dead(session, now, self._membership.lease_seconds)
                if dead:
                    log.warning("cluster_nodes_found_dead", node_ids=dead)
                mine = await self._ownership.owned(session)
                statuses, share = await self._statuses_and_share(session, list(mine))
                active = {d: t for d, t in mine.items() if statuses.get(d) in SESSIONFUL}
                pairing = {d for d, status in statuses.items() if status == Status.QR_GENERATED}
                seen: list[tuple[str, str | None]] = []
                if len(active) < share:
                    seen = await self._free_devices(session, engines, share - len(active))
            taken = await self._take_free(seen)
            if time.monotonic() >= self._ownership.valid_until:
                return  # the pass outlived the hold it began with: the fence has it now
            held = self._ownership.held()
            # A pairing window opened here during the pass: its device is left to it.
            moved = {d for d in before.keys() | held.keys() if before.get(d) != held.get(d)}
            # Held here with the token the database gives: running. Anything else held here
            # has no session to keep (unlinked meanwhile) or was taken from this node.
            running = [d for d, token in held.items() if active.get(d) == token]
            # Sets for the membership tests: lists made each pass quadratic in the devices.
            settled = set(running) | moved
            await self._runtime.let_go([d for d in held if d not in settled])
            adopt = {d: t for d, t in active.items() if d not in settled}
            adopt |= taken
            excess = len(active) - share  # above its share: nodes joined
            giving_back: list[str] = []
            if excess > 0:
                # What is not running here yet goes first: no session to move.
                giving_back = [d for d in adopt if d not in taken][:excess]
                # A pairing window cannot move (its codes live in this process): it stays.
                movable = [d for d in running if d not in pairing]
                giving_back += movable[: excess - len(giving_back)]
                for device_id in giving_back:
                    adopt.pop(device_id, None)
            for device_id, token in adopt.items():
                self._ownership.add(device_id, token)
            if adopt:
                log.info("devices_taken", count=len(adopt), share=share)
            # Their restores go on after this pass: a slow one (whatsmeow's connect) must not
            # hold up the next pass, which may have a dead node's devices to take.
            await self._runtime.begin_take_over(list(adopt))
            await self._give_back(giving_back)

    async def _take_free(self, seen: list[tuple[str, str | None]]) -> dict[str, int]:
        """Take the devices seen free, a bounded number per transaction: a node taking
        thousands (a restart) keeps answering calls meanwhile. Each is taken from the owner
        it was seen with, so one another node took since is left out."""
        taken: dict[str, int] = {}
        for start in range(0, len(seen), TAKE_AT_ONCE):
            if time.monotonic() >= self._ownership.valid_until:
                break  # the fence has it now: nothing more is taken
            async with self._db.transaction() as session:
                now = await database_now(session)
                chunk = seen[start : start + TAKE_AT_ONCE]
                taken |= await self._ownership.take_free(session, chunk, now)
            await asyncio.sleep(0)  # the calls waiting meanwhile go first
        return taken

    @staticmethod
    async def _statuses_and_share(
        session: AsyncSession, device_ids: list[str]
    ) -> tuple[dict[str, Status], int]:
        """These devices' statuses (those with none in SESSIONFUL have no session any more:
        unlinked, expired, deleted), and a node's fair share of the devices with a session:
        the same for every live node, rounded up, so that together they always cover all of
        them. Both from one statement, so one snapshot: read apart, a device unlinked in
        between counted among these devices' sessions but not among all sessions, and a lone
        node gave a live session back."""
        with_a_session = (
            select(func.count()).select_from(Device).where(Device.status.in_(SESSIONFUL))
        )
        rows = []
        if device_ids:
            stmt = select(Device.id, Device.status, with_a_session.scalar_subquery())
            rows = list(await session.execute(stmt.where(Device.id.in_(device_ids))))
        devices = rows[0][2] if rows else await session.scalar(with_a_session)
        nodes = max(await live_node_count(session), 1)
        statuses = {device_id: Status(status) for device_id, status, _ in rows}
        return statuses, math.ceil((devices or 0) / nodes)

    async def _free_devices(
        self, session: AsyncSession, engines: list[str], wanted: int
    ) -> list[tuple[str, str | None]]:
        """Devices with a session that no live node holds, on an engine this node runs, in
        random order (nodes looking at once then mostly take different ones); each with the
        owner it was seen with (None: never owned)."""
        stmt = (
            select(Device.id, DeviceOwner.instance)
            .outerjoin(DeviceOwner, DeviceOwner.device_id == Device.id)
            .where(Device.status.in_(SESSIONFUL), Device.engine.in_(engines), free_owner())
            .order_by(func.random())
            .limit(wanted)
        )
        return [(device_id, owner) for device_id, owner in await session.execute(stmt)]

    async def _give_back(self, device_ids: list[str]) -> None:
        """Let go of these devices here, then release them to the other nodes."""
        if not device_ids:
            return
        await self._let_go_for_handover(device_ids)
        async with self._db.transaction() as session:
            await self._ownership.release(session, device_ids)
        log.info("devices_given_back", count=len(device_ids))

    # --- stopping -------------------------------------------------------------------------

    async def drain(self) -> None:
        """Hand every device over before this node stops: their sessions close here first,
        then they are released, and the others take them at their next heartbeat."""
        self._draining = True
        async with self._lock:
            held = list(self._ownership.held())
            if not held:
                return
            await self._let_go_for_handover(held)
            try:
                async with self._db.transaction() as session:
                    await self._ownership.release(session, held)
            except Exception as exc:  # the database is gone: they are free once we are stale
                log.warning("drain_release_failed", count=len(held), error=repr(exc))
                return
            log.info("devices_handed_over", count=len(held))

    async def _let_go_for_handover(self, device_ids: list[str]) -> None:
        """Close these devices' sessions here before they are released: their restores still
        under way end first (one ending after the release would open a session the next owner
        also opens), then the network records the closes."""
        await self._runtime.let_go(device_ids)
        await self._runtime.restores_settled(device_ids, HANDOVER_WAIT_SECONDS)
        await self._runtime.closes_recorded(HANDOVER_WAIT_SECONDS)

    async def forget_all(self) -> None:
        """This node was found dead: every device it held is another's already."""
        await self._runtime.let_go(list(self._ownership.held()))

    async def _watch_fence(self) -> None:
        while True:
            remaining = self._ownership.valid_until - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
                continue
            held = list(self._ownership.held())
            if held:
                self.fenced_count += 1
                log.error(
                    "cluster_hold_lost",
                    reason="no heartbeat renewed this node's hold in time",
                    devices=len(held),
                )
                began = time.monotonic()
                await self._runtime.let_go(held)
                log.warning(
                    "cluster_sessions_stopped",
                    devices=len(held),
                    seconds=round(time.monotonic() - began, 3),
                )
            await asyncio.sleep(0.1)
