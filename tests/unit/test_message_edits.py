"""Editing or cancelling a queued message while the send queue claims it (messages/edits.py),
against real SQLite and PostgreSQL: whoever commits first wins. The request that loses to a
claim answers 409 `conflict` and changes nothing; a claim after the request sends the edited
text, or finds nothing to send."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from wagateway.apps.models import App
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.messages.edits import MessageEdits
from wagateway.messages.models import Message
from wagateway.messages.queue import devices_with_due_messages
from wagateway.webhooks.models import Event


async def _store(url: str) -> tuple[Database, Message]:
    db = Database(url)
    async with db.transaction() as session:
        session.add(App(id="app", name="shop", engine="sandbox", webhook_secret_enc="x"))
        session.add(
            Device(id="dev", app_id="app", name="desk", engine="sandbox", status="connected")
        )
        message = Message(
            app_id="app",
            device_id="dev",
            direction="outbound",
            status="queued",
            type="text",
            chat="6285550001111@s.whatsapp.net",
            content={"text": "lama"},
            wa_message_id="3EB0OURS",
        )
        session.add(message)
    return db, message


async def _row(db: Database, seq: int) -> Message:
    async with db.read() as session:
        row = await session.get(Message, seq)
        assert row is not None
        return row


def _edits(db: Database, stale: Message, announced: list[str] | None = None) -> MessageEdits:
    """The service, its first read answering `stale`: the message as it was before a claim
    that commits between that read and the request's own transaction."""
    announce = (announced if announced is not None else []).append
    edits = MessageEdits(Settings(), db, runtime=None, announce=announce)  # type: ignore[arg-type]

    async def target(*_: Any) -> tuple[Any, Message]:
        return None, stale

    edits._target = target  # type: ignore[method-assign]
    return edits


def test_a_claim_that_commits_first_wins(migrated_db_url: str) -> None:
    async def main() -> None:
        db, stale = await _store(migrated_db_url)
        async with db.transaction() as session:  # the queue's claim
            await session.execute(
                update(Message).where(Message.seq == stale.seq).values(status="sending")
            )
        edits = _edits(db, stale)
        for call in (
            edits.edit("app", "dev", stale.id, "baru"),
            edits.delete("app", "dev", stale.id),
        ):
            with pytest.raises(ApiError) as refused:
                await call
            assert (refused.value.status, refused.value.code) == (409, "conflict")
            assert refused.value.details["status"] == "sending"
        row = await _row(db, stale.seq)
        assert row.status == "sending" and row.content == {"text": "lama"}
        await db.dispose()

    asyncio.run(main())


def test_a_request_that_commits_first_wins(migrated_db_url: str) -> None:
    async def main() -> None:
        db, stale = await _store(migrated_db_url)
        edits = _edits(db, stale)
        edited = await edits.edit("app", "dev", stale.id, "baru")
        assert edited.status == "queued" and edited.content["text"] == "baru"
        assert (await _row(db, stale.seq)).content["text"] == "baru", "the claim sends this"
        announced: list[str] = []
        edits = _edits(db, await _row(db, stale.seq), announced)
        cancelled = await edits.delete("app", "dev", stale.id)
        assert announced == [stale.id], "a send waiting on it (wait=true) is woken"
        assert (cancelled.status, cancelled.error_code) == ("failed", "canceled")
        async with db.read() as session:
            due = list((await session.execute(devices_with_due_messages(utcnow()))).scalars())
            events = list((await session.execute(select(Event.event))).scalars())
        assert due == [], "a claim after the cancel finds nothing to send"
        assert events == ["receipt"]
        row = await _row(db, stale.seq)
        assert (row.status, row.error_code) == ("failed", "canceled")
        await db.dispose()

    asyncio.run(main())


def test_the_delete_rule_is_the_one_the_dashboard_asks() -> None:
    """`delete_refusal` is what `delete` raises; `deletable` (the dashboard's delete button)
    is true exactly where `delete` would cancel or delete something."""
    settings = Settings()
    edits = MessageEdits(settings, db=None, runtime=None)  # type: ignore[arg-type]
    now = utcnow()
    window = timedelta(seconds=settings.revoke_window_seconds)

    def message(**values: Any) -> Message:
        base: dict[str, Any] = {"direction": "outbound", "status": "sent", "content": {}}
        return Message(type="text", chat="6285550001111@s.whatsapp.net", **{**base, **values})

    cases = [
        (message(direction="inbound", status="received"), "forbidden"),
        (message(status="queued"), None),
        (message(sent_at=now - window + timedelta(minutes=1)), None),
        (message(status="read", sent_at=now - timedelta(minutes=1)), None),
        (message(sent_at=now - window - timedelta(minutes=1)), "conflict"),
        (message(status="failed"), "conflict"),
        (message(status="sending"), "conflict"),
    ]
    for target, refused in cases:
        refusal = edits.delete_refusal(target)
        assert (refusal.code if refusal else None) == refused, (target.status, refusal)
        assert edits.deletable(target) is (refused is None)
    # Already deleted for everyone: `delete` answers it as it is; nothing left to offer.
    revoked = message(sent_at=now, content={"revoked": True})
    assert edits.delete_refusal(revoked) is None and not edits.deletable(revoked)
