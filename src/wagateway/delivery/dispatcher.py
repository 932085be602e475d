"""The webhook dispatcher: the loop that claims due runs, delivers them and records what
came of them.

The parts: `leases` (announcing new events to the endpoints' streams, which are due, and
leasing them), `http` (the signed POST and what its answer means), `recorder` (the outcomes
written back). Here they are tied together: a claim starts one task per run (a stream's
next events for one endpoint, or one redelivery); finished runs go to one recorder task that
writes whatever finished meanwhile in one transaction and, in the same one, leases what
became due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from wagateway.core.db import Database, idle_wait, utcnow
from wagateway.core.secrets import SecretBox
from wagateway.core.settings import Settings
from wagateway.delivery.http import Outcome, Target, WebhookClient, target_of
from wagateway.delivery.leases import CLAIM_BATCH, Claimed, LeasedRun, Leases
from wagateway.delivery.recorder import RunResult, record_runs
from wagateway.media.links import MediaLinks
from wagateway.webhooks.outbox import on_commit_with_events

log = structlog.get_logger(__name__)

RECHECK_AFTER_EMPTY_CLAIM = timedelta(seconds=0.05)


def went_round_recently(settings: Settings, last_loop_at: float) -> bool:
    """Whether a dispatcher loop last seen at `last_loop_at` (monotonic) still counts as
    running: it goes round at least every poll interval."""
    return time.monotonic() - last_loop_at <= max(30.0, settings.webhook_poll_interval * 5)


@dataclass
class Run:
    target: Target
    leased: LeasedRun


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        box: SecretBox,
        node_id: str,
        on_attempt: Callable[[Outcome], None] | None = None,
        links: MediaLinks | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._box = box
        self._leases = Leases(settings, db, node_id)
        self._client = WebhookClient(settings, on_attempt, links)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._unregister: Callable[[], None] = lambda: None
        # Finished runs waiting for the recorder, and beside each the future it resolves.
        self._results: list[RunResult] = []
        self._written: list[asyncio.Future[None]] = []
        self._results_ready = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._busy = False  # the last claim leased events
        self._next_due: datetime | None = None  # when the idle loop's last look saw a head due
        self._stopping = False
        self.last_loop_at: float = 0.0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self._leases.release_all()
        self._client.open()
        self._unregister = on_commit_with_events(self._wake.set)
        self._recorder = asyncio.create_task(self._run_recorder(), name="webhook-recorder")
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        self._unregister()
        # No new attempt from here on: a run finishes the attempt it has under way and hands
        # the rest of its leases back. A gateway killed with -9 leaves this worker to stop
        # by itself while the next one starts and takes every lease of this node back; a
        # run that went on would send the same events as the next worker (and out of order).
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._inflight:  # let deliveries under way finish and be recorded
            await asyncio.wait(self._inflight, timeout=self._settings.webhook_timeout)
        if self._recorder:
            self._recorder.cancel()
            await asyncio.gather(self._recorder, return_exceptions=True)
        await self._client.close()

    @property
    def alive(self) -> bool:
        return all(t is not None and not t.done() for t in (self._task, self._recorder))

    @property
    def healthy(self) -> bool:
        return self.alive and went_round_recently(self._settings, self.last_loop_at)

    def wake(self) -> None:
        self._wake.set()

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.last_loop_at = time.monotonic()
            # Clear before looking, never after: a wake-up that arrives while we claim must
            # send us round again at once, not wait for the next poll.
            self._wake.clear()
            try:
                runs = await self._claim_due()
            except Exception:
                log.exception("webhook_claim_failed")
                runs = []
            self._start(runs)
            if len(runs) < CLAIM_BATCH:
                try:
                    await asyncio.wait_for(
                        self._wake.wait(),
                        idle_wait(self._settings.webhook_poll_interval, self._next_due),
                    )
                except TimeoutError:
                    pass

    def _start(self, runs: list[Run]) -> None:
        for run in runs:
            task = asyncio.create_task(self._deliver(run))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _claim_due(self) -> list[Run]:
        now = utcnow()
        # When idle, most wake-ups (polls) find nothing new: look from the read pool first,
        # and take the writer (on SQLite, the one writer everything else waits for) only to
        # claim. When the last claim found work, more is all but certain: claim at once.
        self._next_due = None
        if not self._busy:
            next_due = await self._leases.next_due(now)
            if next_due is None or next_due > now:
                self._next_due = next_due
                return []
        claimed = await self._db.write_at_once(lambda session: self._leases.lease(session, now))
        self._busy = bool(claimed.runs)
        if not claimed.runs:
            # Look again soon, idle: that look finds when the next head is due. Not at once:
            # a head locked by another claim would make that a busy loop.
            self._next_due = now + RECHECK_AFTER_EMPTY_CLAIM
        return self._runs_of(claimed, now)

    def _runs_of(self, claimed: Claimed, now: datetime) -> list[Run]:
        runs: list[Run] = []
        targets: dict[tuple[str, str], Target] = {}
        for leased in claimed.runs:
            key = (leased.app_id, leased.endpoint_id)
            app, endpoint = claimed.apps.get(leased.app_id), claimed.endpoints.get(key)
            if app is None or endpoint is None:
                continue  # deleted meanwhile, with its state; the lease goes with it
            if key not in targets:
                targets[key] = target_of(self._settings, self._box, app, endpoint, now)
            runs.append(Run(targets[key], leased))
        return runs

    # --- one run ---------------------------------------------------------------------------

    async def _deliver(self, run: Run) -> None:
        """Send the run's events one after another; stop at a failure that may be retried
        (its successors wait behind it: order) or when the dispatcher stops."""
        result = RunResult(run.leased)
        try:
            for event in run.leased.events:
                if self._stopping:
                    break
                outcome = await self._client.attempt(run.target, event)
                result.outcomes.append((event, outcome))
                if not outcome.succeeded and not outcome.undeliverable:
                    break
        except Exception:
            log.exception("webhook_delivery_crashed", endpoint_id=run.leased.endpoint_id)
        # The stream's next claim must see this run written; until then it is leased.
        await self._record(result)

    def _record(self, result: RunResult) -> asyncio.Future[None]:
        """Hand a finished run to the recorder; the future resolves once it is written. The
        run stays leased to us until then."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append(result)
        self._written.append(written)
        self._results_ready.set()
        return written

    # --- the recorder -----------------------------------------------------------------------

    async def _run_recorder(self) -> None:
        """Write outcomes in batches: one transaction for everything that finished meanwhile.
        At volume this turns one write per webhook into one write per burst."""
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            batch, self._results = self._results, []
            written, self._written = self._written, []
            if not batch:
                continue
            runs: list[Run] = []
            failed = False
            try:
                runs = await self._write_outcomes(batch)
            except Exception:  # the leases expire and the events are retried: nothing lost
                log.exception("webhook_record_failed", events=len(batch))
                failed = True
            for future in written:
                if not future.done():
                    future.set_result(None)
            self._start(runs)
            if failed or len(runs) >= CLAIM_BATCH or _schedules_a_retry(batch):
                # The loop claims what this write did not, and an idle loop learns when the
                # retry falls due (it sleeps until then, not a whole poll interval).
                self._wake.set()

    async def _write_outcomes(self, batch: list[RunResult]) -> list[Run]:
        """Record the runs and, in the same transaction, lease what is due now: the streams
        whose runs just finished have their next events. One write instead of two, and a
        stream's next run starts without waiting for the writer again."""
        now = utcnow()

        def record_and_lease(session: Session) -> Claimed:
            record_runs(session, self._settings.webhook_retry_schedule, batch, now)
            if self._stopping:  # a lease taken now would never be run, only wait to lapse
                return Claimed()
            return self._leases.lease(session, now)

        claimed = await self._db.write_at_once(record_and_lease)
        return self._runs_of(claimed, now)


def _schedules_a_retry(batch: list[RunResult]) -> bool:
    return any(
        not outcome.succeeded and not outcome.undeliverable
        for result in batch
        for _, outcome in result.outcomes
    )
