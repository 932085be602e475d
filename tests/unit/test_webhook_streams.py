"""The webhook dispatcher's claims against real SQLite and PostgreSQL: new events are
announced to each endpoint's stream of their device, a run is a stream's next events
through the endpoint's filters in order, a failing head holds back its own stream only,
and the outcomes move the streams on (webhooks/models.py, delivery/leases.py, recorder.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ClauseElement, insert, select
from sqlalchemy.orm import Session

from tests.support.databases import DatabaseProvider
from tests.support.events import insert_events
from tests.support.migrated import migrated_url
from wagateway.apps.models import App
from wagateway.core.db import Database, locks_rows, table_of, utcnow
from wagateway.core.settings import Settings
from wagateway.delivery.http import Outcome
from wagateway.delivery.leases import LEASED_COLUMNS, Claimed, Horizon, Leases, run_of
from wagateway.delivery.recorder import RunResult, record_runs
from wagateway.webhooks.endpoints import stream_events
from wagateway.webhooks.models import (
    Event,
    WebhookEndpoint,
    WebhookFailure,
    WebhookStream,
)

SCHEDULE = [10.0, 60.0]


def _run(url: str, tmp_path: Path, work: Callable[[Session, Leases], Any]) -> Any:
    async def go() -> Any:
        db = Database(url)
        try:
            async with db.transaction() as session:
                session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
            leases = Leases(Settings(data_dir=tmp_path), db, "node-1")  # type: ignore[call-arg]
            async with db.transaction() as session:
                return await session.run_sync(lambda s: work(s, leases))
        finally:
            await db.dispose()

    return asyncio.run(go())


def _endpoint(session: Session, endpoint_id: str, **filters: Any) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        app_id="app",
        endpoint_id=endpoint_id,
        url=f"https://{endpoint_id}.example/hook",
        announced_seq=session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0,
        **filters,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def _runs(claimed: Claimed) -> dict[tuple[str, str | None], list[int]]:
    return {(r.endpoint_id, r.device_key): [e.seq for e in r.events] for r in claimed.runs}


def _outcome(status: int) -> Outcome:
    return Outcome(
        url="https://x.example", status_code=status, error=None if status < 300 else "HTTP"
    )


def _record(session: Session, claimed: Claimed, statuses: dict[str, int], now: datetime) -> None:
    """Every run's events answered with `statuses[endpoint_id]`, stopping at a failure."""
    results = []
    for run in claimed.runs:
        result = RunResult(run)
        for event in run.events:
            outcome = _outcome(statuses[run.endpoint_id])
            result.outcomes.append((event, outcome))
            if not outcome.succeeded:
                break
        results.append(result)
    record_runs(session, SCHEDULE, results, now)


def test_each_endpoint_gets_its_events_in_order_through_its_filters(
    migrated_db_url: str, tmp_path: Path
) -> None:
    def work(session: Session, leases: Leases) -> tuple[list[int], dict[Any, list[int]]]:
        _endpoint(session, "messages", events=["message"])
        _endpoint(session, "dev-a-only", device_ids=["dev-a"])
        seqs = insert_events(session, ["dev-a", "dev-b"])
        seqs += insert_events(session, ["dev-a"], name="receipt")
        seqs += insert_events(session, [None], name="webhook_test")
        seqs += insert_events(session, [None])
        seqs += insert_events(session, ["dev-b"], name="receipt")
        return seqs, _runs(leases.lease(session, utcnow()))

    seqs, runs = _run(migrated_db_url, tmp_path, work)
    a_msg, b_msg, a_receipt, _test, app_msg, _b_receipt = seqs
    assert runs == {
        ("messages", "dev-a"): [a_msg],
        ("messages", "dev-b"): [b_msg],
        ("messages", ""): [app_msg],
        # An event of no device passes a device filter; a test event is in no stream.
        ("dev-a-only", "dev-a"): [a_msg, a_receipt],
        ("dev-a-only", ""): [app_msg],
    }


def test_a_failing_head_holds_back_only_its_own_stream(
    migrated_db_url: str, tmp_path: Path
) -> None:
    def work(session: Session, leases: Leases) -> dict[str, Any]:
        _endpoint(session, "down")
        _endpoint(session, "up")
        first, second = insert_events(session, ["dev-a", "dev-a"])
        now = utcnow()
        seen: dict[str, Any] = {}
        claimed = leases.lease(session, now)
        seen["first"] = _runs(claimed)
        _record(session, claimed, {"down": 503, "up": 200}, now)
        third = insert_events(session, ["dev-a"])[0]
        # The healthy endpoint goes on at once; the failing one waits for its retry.
        seen["at_once"] = _runs(leases.lease(session, now))
        seen["retry"] = _runs(leases.lease(session, now + timedelta(seconds=11)))
        down = session.get(WebhookStream, ("app", "down", "dev-a"))
        assert down is not None
        seen["attempts"] = down.attempt_count
        seen["seqs"] = (first, second, third)
        return seen

    seen = _run(migrated_db_url, tmp_path, work)
    first, second, third = seen["seqs"]
    assert seen["first"] == {("down", "dev-a"): [first, second], ("up", "dev-a"): [first, second]}
    assert seen["at_once"] == {("up", "dev-a"): [third]}
    assert seen["retry"] == {("down", "dev-a"): [first, second, third]}
    assert seen["attempts"] == 1


def test_a_head_given_up_on_is_failed_and_its_stream_goes_on(
    migrated_db_url: str, tmp_path: Path
) -> None:
    def work(session: Session, leases: Leases) -> tuple[list[int], list[Any], dict[Any, Any]]:
        _endpoint(session, "down")
        seqs = insert_events(session, ["dev-a", "dev-a"])
        now = utcnow()
        for attempt in range(len(SCHEDULE) + 1):
            at = now + timedelta(seconds=100 * attempt)
            claimed = leases.lease(session, at)
            assert _runs(claimed)[("down", "dev-a")][0] == seqs[0]
            _record(session, claimed, {"down": 500}, at)
        failures = [(f.endpoint_id, f.event_seq) for f in session.scalars(select(WebhookFailure))]
        return seqs, failures, _runs(leases.lease(session, now + timedelta(seconds=1000)))

    seqs, failures, after = _run(migrated_db_url, tmp_path, work)
    assert failures == [("down", seqs[0])]
    assert after == {("down", "dev-a"): [seqs[1]]}


def test_a_new_endpoint_gets_only_later_events_and_an_idle_stream_wakes(
    migrated_db_url: str, tmp_path: Path
) -> None:
    def work(session: Session, leases: Leases) -> dict[str, Any]:
        early = insert_events(session, ["dev-a"])
        _endpoint(session, "late")
        seen: dict[str, Any] = {"nothing_yet": _runs(leases.lease(session, utcnow()))}
        later = insert_events(session, ["dev-a"])
        now = utcnow()
        claimed = leases.lease(session, now)
        seen["later"] = _runs(claimed)
        _record(session, claimed, {"late": 200}, now)
        seen["idle"] = _runs(leases.lease(session, now))
        stream = session.get(WebhookStream, ("app", "late", "dev-a"))
        seen["active"] = stream is not None and stream.active
        newest = insert_events(session, ["dev-a"])
        seen["woken"] = _runs(leases.lease(session, now))
        seen["seqs"] = early + later + newest
        return seen

    seen = _run(migrated_db_url, tmp_path, work)
    _early, later, newest = seen["seqs"]
    assert seen["nothing_yet"] == {}
    assert seen["later"] == {("late", "dev-a"): [later]}
    assert seen["idle"] == {} and seen["active"] is False
    assert seen["woken"] == {("late", "dev-a"): [newest]}


def test_postgresql_reads_up_to_the_first_gap_until_it_settles(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """Two transactions may commit out of `seq` order on PostgreSQL: a gap is an event not
    visible yet, and a stream must not move past it before it has had time to appear."""

    def work(session: Session, leases: Leases) -> tuple[bool, list[int], int, int]:
        seqs = insert_events(session, ["dev-a", "dev-a", "dev-a"])
        row = {"app_id": "app", "device_id": "dev-a", "event": "message", "payload": {}}
        session.execute(insert(table_of(Event)), [row | {"id": "after-gap", "seq": seqs[-1] + 2}])
        waiting = Horizon(settle_seconds=60).of(session, 0)
        settled = Horizon(settle_seconds=0).of(session, 0)
        return locks_rows(session), seqs, waiting, settled

    postgresql, seqs, waiting, settled = _run(migrated_db_url, tmp_path, work)
    assert settled == seqs[-1] + 2
    # SQLite has one writer: what is visible is all there is.
    assert waiting == (seqs[-1] if postgresql else seqs[-1] + 2)


# --- SQLite's plans --------------------------------------------------------------------------


def _sqlite_plan(path: Path, statement: ClauseElement) -> str:
    from sqlalchemy.dialects import sqlite

    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(path) as connection:
        return " | ".join(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql))


def test_sqlite_reads_a_run_by_one_index_range(tmp_path: Path) -> None:
    url = migrated_url(DatabaseProvider("sqlite"), tmp_path)

    def fill(session: Session, leases: Leases) -> None:
        insert_events(session, [f"dev-{i % 3}" for i in range(600)])

    _run(url, tmp_path, fill)
    endpoint = WebhookEndpoint(app_id="app", endpoint_id="e", events=["message", "receipt"])
    stream = WebhookStream(app_id="app", endpoint_id="e", device_key="dev-1", position=10)
    plan = _sqlite_plan(tmp_path / "wagateway.db", run_of(0, stream, endpoint, 500))
    assert "ix_events_device_seq (app_id=? AND device_id=? AND seq>? AND seq<?)" in plan, plan
    app_level = _sqlite_plan(
        tmp_path / "wagateway.db", stream_events(endpoint, "", 10, *LEASED_COLUMNS)
    )
    assert "ix_events_device_seq (app_id=? AND device_id=? AND seq>?)" in app_level, app_level
