"""The sandbox engine against the shared engine conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.engines.conformance import EngineConformance, link
from wagateway.core.db import Database
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.engines.base import (
    GROUP_SETTINGS,
    EngineEvent,
    OutboundMessage,
    SendError,
    SessionEnded,
)
from wagateway.sandbox.engine import SandboxEngine, qr_lifetimes


class SandboxHarness:
    def __init__(self, engine: SandboxEngine, window_seconds: float) -> None:
        self.engine = engine
        self.events: list[EngineEvent] = []
        self.window_seconds = window_seconds

    async def sink(self, event: EngineEvent) -> None:
        self.events.append(event)

    async def phone_scan(self, device_id: str, qr: str, phone: str) -> None:
        assert self.engine.device_for_qr(qr) == device_id
        await self.engine.scan(device_id, qr, phone)

    async def phone_enter_code(self, device_id: str, code: str) -> None:
        assert self.engine.device_for_pairing_code(code) == device_id
        await self.engine.enter_pairing_code(device_id, code)

    async def phone_logout(self, device_id: str) -> None:
        await self.engine.phone_logout(device_id)

    async def network_drop(self, device_id: str) -> None:
        await self.engine.drop(device_id)

    async def contact_writes(self, device_id: str, sender_phone: str, text: str) -> None:
        await self.engine.contact_writes(device_id, sender_phone, content={"text": text})

    async def chat_acts(self, device_id: str) -> list[dict[str, Any]]:
        fields = {
            "read": ("chat", "sender", "wa_message_ids"),
            "chat_presence": ("chat", "state"),
            "edit": ("chat", "wa_message_id", "text"),
            "revoke": ("chat", "wa_message_id", "sender"),
            "call_reject": ("call_id", "to"),
            "presence_subscribe": ("jid",),
        }
        return [
            {"kind": e.kind, **{k: e.detail[k] for k in fields.get(e.kind, ("state",))}}
            for e in await self.engine.network_of(device_id)
            if e.kind
            in (
                "read",
                "chat_presence",
                "presence",
                "edit",
                "revoke",
                "call_reject",
                "presence_subscribe",
            )
        ]

    async def contact_calls(self, device_id: str, sender_phone: str, video: bool) -> None:
        await self.engine.contact_calls(device_id, sender_phone, video=video)

    async def sent_previews(self, device_id: str) -> list[dict[str, Any] | None]:
        return [
            e.detail.get("preview")
            for e in await self.engine.network_of(device_id)
            if e.kind == "message" and e.detail["type"] == "text"
        ]

    async def sent_quotes(self, device_id: str) -> list[dict[str, Any]]:
        keys = ("type", "to", "reply_to", "quoted_sender", "reaction_to", "from_me")
        return [
            {k: e.detail[k] for k in keys if k in e.detail}
            for e in await self.engine.network_of(device_id)
            if e.kind == "message" and ("reply_to" in e.detail or "reaction_to" in e.detail)
        ]

    async def contact_presence(self, device_id: str, sender_phone: str, state: str) -> bool:
        return await self.engine.contact_presence(device_id, sender_phone, state)

    async def contact_chat_presence(self, device_id: str, sender_phone: str, state: str) -> None:
        await self.engine.contact_chat_presence(device_id, sender_phone, state)

    async def contact_forwards(self, device_id: str, sender_phone: str, text: str) -> None:
        await self.engine.contact_writes(
            device_id, sender_phone, content={"text": text}, forwarded=True
        )

    async def contact_revokes(self, device_id: str, sender_phone: str, wa_message_id: str) -> None:
        await self.engine.contact_revokes(device_id, sender_phone, wa_message_id)

    async def contact_edits(
        self, device_id: str, sender_phone: str, wa_message_id: str, text: str
    ) -> None:
        await self.engine.contact_edits(device_id, sender_phone, wa_message_id, text)

    async def contact_votes(
        self, device_id: str, voter_phone: str, poll_wa_message_id: str, options: list[str]
    ) -> None:
        chat = f"{voter_phone}@s.whatsapp.net"
        await self.engine.contact_votes(device_id, voter_phone, poll_wa_message_id, chat, options)

    async def contact_taps_button(
        self, device_id: str, sender_phone: str, reply_to: str, selected_id: str, text: str
    ) -> None:
        content = {"selected_id": selected_id, "selected_text": text}
        await self.engine.contact_writes(
            device_id, sender_phone, "button_response", content, reply_to=reply_to
        )

    async def contact_picks_row(
        self, device_id: str, sender_phone: str, reply_to: str, row_id: str, title: str
    ) -> None:
        content = {"selected_row_id": row_id, "title": title}
        await self.engine.contact_writes(
            device_id, sender_phone, "list_response", content, reply_to=reply_to
        )

    async def owner_writes(self, device_id: str, to_phone: str, text: str) -> None:
        chat = f"{to_phone}@s.whatsapp.net"
        await self.engine.owner_writes(device_id, chat, content={"text": text})

    async def account_acts(self, device_id: str) -> list[dict[str, Any]]:
        acts: list[dict[str, Any]] = []
        for e in await self.engine.network_of(device_id):
            if e.kind == "profile_update":
                if "name" in e.detail:
                    acts.append({"kind": "profile_name", "name": e.detail["name"]})
                if "about" in e.detail:
                    acts.append({"kind": "profile_about", "about": e.detail["about"]})
                if "sha256" in e.detail:
                    acts.append({"kind": "profile_picture", "sha256": e.detail["sha256"]})
            elif e.kind in ("block", "unblock"):
                acts.append({"kind": e.kind, "jid": e.detail["jid"]})
        return acts

    async def connections(self, device_id: str) -> int:
        return sum(1 for e in await self.engine.network_of(device_id) if e.kind == "connect")

    async def owner_reads(
        self, device_id: str, chat_phone: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        await self.engine.owner_reads(device_id, f"{chat_phone}@s.whatsapp.net", wa_message_ids)

    async def someone_changes_group(
        self, device_id: str, group: str, action: str, participants: list[str], by: str
    ) -> None:
        jids = [f"{p}@s.whatsapp.net" for p in participants]
        await self.engine.contact_changes_group(device_id, group, action, jids, by)

    async def group_acts(self, device_id: str) -> list[dict[str, Any]]:
        acts: list[dict[str, Any]] = []
        for e in await self.engine.network_of(device_id):
            if e.kind == "group_update":
                acts.extend(
                    {"kind": e.kind, "group": e.detail["group"], k: e.detail[k]}
                    for k in GROUP_SETTINGS
                    if k in e.detail
                )
            elif e.kind in ("group_participants", "group_leave"):
                acts.append({"kind": e.kind, **e.detail})
        return acts

    async def history_arrives(self, device_id: str, chats: int, per_chat: int) -> None:
        await self.engine.send_history(device_id, chats, per_chat)


class TestSandboxConformance(EngineConformance):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.settings = Settings(
            data_dir=tmp_path, sandbox_time_scale=0, sandbox_reconnect_delay=0.2, _env_file=None
        )
        upgrade_to_head(self.settings.resolved_database_url)

    @asynccontextmanager
    async def harness(self) -> AsyncIterator[SandboxHarness]:
        db = Database(self.settings.resolved_database_url)
        engine = SandboxEngine(self.settings, db)
        h = SandboxHarness(engine, sum(qr_lifetimes(self.settings.sandbox_time_scale)))
        await engine.start(h.sink)
        try:
            yield h
        finally:
            await engine.shutdown()
            await db.dispose()

    def test_the_network_log_holds_every_act_done_before_it_is_read(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Acts are written in groups after the call that did them returns; a read of the
        log waits for them, so a client reads back what its last call did, even when the
        database is slow to write."""
        write = SandboxEngine._write_records

        async def slow_write(engine: SandboxEngine, *args: Any) -> None:
            await asyncio.sleep(0.05)
            await write(engine, *args)

        monkeypatch.setattr(SandboxEngine, "_write_records", slow_write)

        async def scenario(h: SandboxHarness) -> None:
            await link(h, "d1")
            for n in range(20):
                await h.engine.set_blocked("d1", f"62855500{n:05d}@s.whatsapp.net", True)
                blocks = [e for e in await h.engine.network_of("d1") if e.kind == "block"]
                assert len(blocks) == n + 1

        self.run(scenario)

    def test_a_session_another_replaced_ends_as_replaced_and_is_recorded(self) -> None:
        """WhatsApp's rule (CONTRACT §9): the witness (sandbox/witness.py) tells the engine
        that another session of the device connected; the device's session ends with reason
        `replaced`, and the record shows the session open until then."""

        async def scenario(h: SandboxHarness) -> None:
            connected = await link(h, "d1")
            records = await h.engine.witness.sessions("d1")
            assert [(r.close_reason, r.closed_at) for r in records] == [(None, None)]
            assert h.engine.witness.on_replaced is not None
            await h.engine.witness.on_replaced("d1")
            ended = [e for e in h.events if isinstance(e, SessionEnded)]
            assert [(e.device_id, e.epoch, e.reason) for e in ended] == [
                ("d1", connected.epoch, "replaced")
            ]
            log = [e for e in await h.engine.network_of("d1") if e.kind == "disconnect"]
            assert [e.detail["reason"] for e in log] == ["replaced"]
            with pytest.raises(SendError):  # the session is gone
                await h.engine.send(
                    "d1", OutboundMessage("3EB0", "628@s.whatsapp.net", "text", {"text": "x"})
                )

        self.run(scenario)
