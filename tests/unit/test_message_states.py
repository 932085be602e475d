"""The message state machine (messages/states.py) and its one write path
(messages/status_writes.py): every move the table lists is allowed, every other refused, a
receipt only moves a message forward, and a refused move writes nothing. The write path
runs against the real store, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.databases import DatabaseProvider
from tests.support.sql import recorded_statements
from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.engines.base import Receipt, ReceiptStatus
from wagateway.messages import ingest
from wagateway.messages.models import Message
from wagateway.messages.states import (
    ALLOWED,
    PENDING,
    IllegalTransition,
    MessageStatus,
    after_receipt,
    can_transition,
    check_transition,
    predecessors,
)
from wagateway.messages.status_writes import change_all_statuses, change_status
from wagateway.webhooks.models import Event

S = MessageStatus
CHAT = "6285550001111@s.whatsapp.net"

# Written out by hand from what the queue, the receipts and device deletion do, so a change
# of the table has to change this list too.
LEGAL = {
    (S.QUEUED, S.SENDING),  # claimed by the device's sender
    (S.QUEUED, S.FAILED),  # TTL ran out, media unusable, device deleted
    # A receipt of a send the queue had released for a retry: it left after all.
    (S.QUEUED, S.SENT),
    (S.QUEUED, S.DELIVERED),
    (S.QUEUED, S.READ),
    (S.QUEUED, S.PLAYED),
    (S.SENDING, S.QUEUED),  # released for a retry, or a lease taken back at start
    (S.SENDING, S.SENT),  # the send's bookkeeping
    (S.SENDING, S.DELIVERED),  # receipts that overtook the bookkeeping
    (S.SENDING, S.READ),
    (S.SENDING, S.PLAYED),
    (S.SENDING, S.FAILED),  # permanent error, attempts used up, device deleted
    (S.SENT, S.DELIVERED),
    (S.SENT, S.READ),
    (S.SENT, S.PLAYED),
    (S.DELIVERED, S.READ),
    (S.DELIVERED, S.PLAYED),
    (S.READ, S.PLAYED),
}
ILLEGAL = sorted(set(itertools.product(S, S)) - LEGAL)


def test_the_values_are_the_contracts() -> None:
    assert [s.value for s in S] == [
        "queued",
        "sending",
        "sent",
        "delivered",
        "read",
        "played",
        "failed",
        "received",
    ]


def test_the_table_lists_exactly_the_legal_moves() -> None:
    assert set(ALLOWED) == set(S)
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == LEGAL


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_a_legal_move_is_allowed(current: S, target: S) -> None:
    assert can_transition(current, target)
    # As plain strings too: that is how a status comes back from the database.
    assert can_transition(str(current.value), str(target.value))
    assert check_transition(current.value, target.value) is target


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_an_illegal_move_is_refused(current: S, target: S) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_named_illegal_moves() -> None:
    for current, target in [
        (S.READ, S.SENT),
        (S.DELIVERED, S.SENDING),
        (S.SENT, S.QUEUED),
        (S.SENT, S.FAILED),  # out of the device: it can no longer fail
        (S.FAILED, S.QUEUED),
        (S.PLAYED, S.READ),
        (S.RECEIVED, S.SENT),
        (S.QUEUED, S.QUEUED),
    ]:
        assert (current, target) in ILLEGAL
    assert not can_transition("read", "no-such-status")
    assert not can_transition("no-such-status", "sent")


def test_receipts_move_forward_only() -> None:
    assert after_receipt("sent", "delivered") is S.DELIVERED
    assert after_receipt("delivered", "read") is S.READ
    assert after_receipt("sent", "read") is S.READ  # `delivered` may never come
    assert after_receipt("read", "played") is S.PLAYED
    assert after_receipt("read", "delivered") is None  # late
    assert after_receipt("read", "read") is None  # a group's second reader
    assert after_receipt("failed", "read") is None
    assert after_receipt("received", "read") is None
    assert after_receipt("sent", "retry") is None  # not a status receipts report


def test_what_engines_report_is_a_status_a_receipt_moves_to() -> None:
    for reported in ReceiptStatus:
        assert after_receipt(S.SENT, reported) is S(reported.value)


def test_every_move_a_receipt_makes_is_in_the_table() -> None:
    for current, reported in itertools.product(S, S):
        target = after_receipt(current, reported)
        if target is not None:
            assert (current, target) in LEGAL


def test_predecessors() -> None:
    assert set(predecessors(S.FAILED)) == set(PENDING) == {S.QUEUED, S.SENDING}
    assert predecessors(S.QUEUED) == (S.SENDING,)
    assert predecessors(S.RECEIVED) == ()


# --- the write path, against the store ----------------------------------------------------


def _url(backend: DatabaseProvider, tmp_path: Path) -> str:
    return Settings(data_dir=tmp_path, database_url=backend.new_url(tmp_path)).resolved_database_url


async def _store(url: str, statuses: list[str]) -> Database:
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        session.add(
            Device(
                id="dev",
                app_id="app",
                name="desk",
                engine="sandbox",
                status="connected",
                connection="online",
                session_epoch=1,
            )
        )
        for n, status in enumerate(statuses):
            session.add(
                Message(
                    id=f"m{n}",
                    app_id="app",
                    device_id="dev",
                    direction="outbound",
                    status=status,
                    type="text",
                    chat=CHAT,
                    content={"text": str(n)},
                    wa_message_id=f"3EB0{n:04d}",
                    claimed_by="node-a" if status == "sending" else None,
                )
            )
    return db


async def _statuses(db: Database) -> dict[str, str]:
    async with db.read() as session:
        rows = await session.execute(select(Message.id, Message.status).order_by(Message.seq))
        return {row.id: row.status for row in rows}


async def _receipt_events(db: Database) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Event).where(Event.event == "receipt")
        )
        return int(count or 0)


def _receipt(status: str) -> Receipt:
    return Receipt("dev", 1, ("3EB00000",), status, CHAT)


def test_a_backward_receipt_is_ignored_and_writes_nothing(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _url(backend, tmp_path)

    async def scenario() -> tuple[dict[str, str], int, list[str], dict[str, str], int]:
        db = await _store(url, ["read"])
        statements = recorded_statements(db)
        async with db.transaction() as session:
            device = await session.get(Device, "dev")
            assert device is not None
            await ingest.apply_receipts(session, [(device, [_receipt("delivered")])])
        late = await _statuses(db), await _receipt_events(db)
        updates = [s for s in statements if s.lstrip().startswith("UPDATE messages")]
        async with db.transaction() as session:
            device = await session.get(Device, "dev")
            assert device is not None
            await ingest.apply_receipts(session, [(device, [_receipt("played")])])
        forward = await _statuses(db), await _receipt_events(db)
        await db.dispose()
        return late[0], late[1], updates, forward[0], forward[1]

    late_status, late_events, updates, forward_status, forward_events = asyncio.run(scenario())
    assert late_status == {"m0": "read"}
    assert late_events == 0
    assert updates == []
    # The same path moves it forward (so the refusal above is the rule, not a dead path).
    assert forward_status == {"m0": "played"}
    assert forward_events == 1


def test_a_refused_change_leaves_object_and_row_as_they_were(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _url(backend, tmp_path)

    async def scenario() -> tuple[list[bool], list[str], dict[str, str]]:
        db = await _store(url, ["read", "failed", "sending"])
        async with db.transaction() as session:
            messages = list(
                (await session.execute(select(Message).order_by(Message.seq))).scalars()
            )
            moved = [
                change_status(session, messages[0], S.SENT, error_code="x"),
                change_status(session, messages[1], S.QUEUED),
                change_status(session, messages[2], S.QUEUED, claimed_by=None),
            ]
            seen = [m.status for m in messages]
        stored = await _statuses(db)
        await db.dispose()
        return moved, seen, stored

    moved, seen, stored = asyncio.run(scenario())
    assert moved == [False, False, True]
    assert seen == ["read", "failed", "queued"]
    assert stored == {"m0": "read", "m1": "failed", "m2": "queued"}


def test_a_set_based_change_moves_only_rows_in_the_given_status(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _url(backend, tmp_path)

    async def scenario() -> dict[str, str]:
        db = await _store(url, ["sending", "sent", "queued", "sending"])
        async with db.transaction() as session:
            await change_all_statuses(
                session, S.SENDING, S.QUEUED, Message.id != "m3", claimed_by=None
            )
        stored = await _statuses(db)
        await db.dispose()
        return stored

    assert asyncio.run(scenario()) == {
        "m0": "queued",
        "m1": "sent",
        "m2": "queued",
        "m3": "sending",
    }


def test_a_set_based_change_refuses_an_illegal_move(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = _url(backend, tmp_path)

    async def scenario() -> dict[str, str]:
        db = await _store(url, ["read"])
        with pytest.raises(IllegalTransition):
            async with db.transaction() as session:
                await change_all_statuses(session, S.READ, S.SENT)
        stored = await _statuses(db)
        await db.dispose()
        return stored

    assert asyncio.run(scenario()) == {"m0": "read"}
