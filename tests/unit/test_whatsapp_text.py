"""Text from WhatsApp that cannot be encoded (a lone surrogate: half an emoji from a broken
client) keeps its message, the character replaced by U+FFFD, where engine events enter the
domain (`SessionRuntime.handle`), on both databases; its webhook envelope encodes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from tests.support.databases import DatabaseProvider
from tests.support.seeds import inbound_sink
from wagateway.apps.models import App
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.delivery.http import envelope
from wagateway.delivery.leases import LEASED_COLUMNS, Leased
from wagateway.devices.models import Device
from wagateway.devices.runtime import SessionRuntime
from wagateway.engines.base import InboundMessage, MessageRevoked, with_valid_text
from wagateway.messages.models import Message
from wagateway.webhooks.models import Event

HALF = "\ud83d"


def test_engine_items_keep_their_text_with_the_replacement_character() -> None:
    event = MessageRevoked("d", 1, wa_message_id="3EB0" + HALF, chat="c", sender=None)
    assert with_valid_text(event).wa_message_id == "3EB0\ufffd"
    clean = MessageRevoked("d", 1, wa_message_id="3EB0 😀", chat="c")
    assert with_valid_text(clean) is clean  # nothing to repair: nothing copied


def test_inbound_text_with_a_lone_surrogate_is_stored_and_announced(
    backend: DatabaseProvider, tmp_path: Path
) -> None:
    url = Settings(data_dir=tmp_path, database_url=backend.new_url(tmp_path)).resolved_database_url

    async def scenario() -> tuple[Message, list[Leased]]:
        await asyncio.to_thread(upgrade_to_head, url)
        db = Database(url)
        try:
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
            runtime = SessionRuntime(db, [], inbound_sink(tmp_path / "media"))
            await runtime.handle(
                InboundMessage(
                    "dev",
                    1,
                    wa_message_id="3EB0INBOUND",
                    chat="6285550001111@s.whatsapp.net",
                    sender_phone="6285550001111",
                    sender_lid=None,
                    type="image",
                    content={"caption": f"trunc {HALF}", "file_name": f"{HALF}.png", "ok": "😀"},
                    sent_at=datetime.now(UTC),
                    push_name=f"Ana {HALF}",
                    mentions=(f"62811{HALF}@s.whatsapp.net",),
                    reply_to=f"3EB0{HALF}",  # a text column: no database would take it
                )
            )
            async with db.read() as session:
                message = (await session.execute(select(Message))).scalar_one()
                events = [Leased(*row) for row in await session.execute(select(*LEASED_COLUMNS))]
                # Repaired before it was stored, not only when read back (core/text.py).
                stored = await session.execute(text("SELECT CAST(content AS TEXT) FROM messages"))
                assert json.loads(stored.scalar_one())["caption"] == "trunc \ufffd"
                assert all(e.event for e in (await session.execute(select(Event))).scalars())
            return message, events
        finally:
            await db.dispose()

    message, events = asyncio.run(scenario())
    assert message.content["caption"] == "trunc \ufffd"
    assert message.content["file_name"] == "\ufffd.png" and message.content["ok"] == "😀"
    assert message.content["push_name"] == "Ana \ufffd"
    assert message.mentions == ["62811\ufffd@s.whatsapp.net"]
    assert message.reply_to == "3EB0\ufffd"
    [announced] = [e for e in events if e.event == "message"]
    assert announced.payload["caption"] == "trunc \ufffd"
    assert b"trunc \xef\xbf\xbd" in envelope(announced)  # encodes: deliverable
