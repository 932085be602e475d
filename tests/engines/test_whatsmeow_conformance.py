"""The whatsmeow engine against the shared conformance suite, with a fake at the neonize
boundary (tests/support/fake_neonize.py builds neonize's own protobuf event objects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.engines.conformance import PHONE, EngineConformance
from tests.support.databases import DatabaseProvider
from wagateway.engines.base import QR_CODE_LIFETIMES, EngineEvent

fake_neonize = pytest.importorskip(
    "tests.support.fake_neonize", reason="neonize is not installed (pip install -e '.[test]')"
)

from wagateway.engines.whatsmeow.backend import WhatsmeowBackend  # noqa: E402
from wagateway.engines.whatsmeow.stores import store_url_for  # noqa: E402

CHAT_STATES = {
    ("CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_TEXT"): "typing",
    ("CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_MEDIA_AUDIO"): "recording",
    ("CHAT_PRESENCE_PAUSED", "CHAT_PRESENCE_MEDIA_TEXT"): "paused",
}
TIME_SCALE = 0.02  # a 160 s pairing window lasts 3.2 s


class WhatsmeowHarness:
    def __init__(self, engine: WhatsmeowBackend, network: fake_neonize.FakeWhatsApp) -> None:
        self.engine = engine
        self.network = network
        self.events: list[EngineEvent] = []
        self.window_seconds = sum(QR_CODE_LIFETIMES) * TIME_SCALE

    async def sink(self, event: EngineEvent) -> None:
        self.events.append(event)

    async def phone_scan(self, device_id: str, qr: str, phone: str) -> None:
        await self.network.scan(qr, phone)

    async def phone_enter_code(self, device_id: str, code: str) -> None:
        await self.network.enter_code(code)

    async def phone_logout(self, device_id: str) -> None:
        await self.network.phone_logout(device_id)

    async def network_drop(self, device_id: str) -> None:
        await self.network.drop(device_id)

    async def contact_writes(self, device_id: str, sender_phone: str, text: str) -> None:
        await self.network.contact_writes(device_id, sender_phone, text)

    async def chat_acts(self, device_id: str) -> list[dict[str, Any]]:
        """What the fake servers got, read back into the gateway's words: neonize's enums
        mapped back, so a wrong mapping in the backend shows here."""
        acts: list[dict[str, Any]] = []
        for device, method, args in self.network.acts:
            if device != device_id:
                continue
            if method == "mark_read":
                assert args["receipt"] == "READ"
                acts.append(
                    {
                        "kind": "read",
                        "chat": args["chat"],
                        "sender": args["sender"],
                        "wa_message_ids": args["ids"],
                    }
                )
            elif method == "send_chat_presence":
                state = CHAT_STATES[(args["state"], args["media"])]
                acts.append({"kind": "chat_presence", "chat": args["chat"], "state": state})
            elif method == "send_presence":
                acts.append({"kind": "presence", "state": args["presence"].lower()})
            elif method == "subscribe_presence":
                acts.append({"kind": "presence_subscribe", "jid": args["jid"]})
            elif method == "edit":
                acts.append(
                    {
                        "kind": "edit",
                        "chat": args["chat"],
                        "wa_message_id": args["id"],
                        "text": args["text"],
                    }
                )
            elif method == "revoke":
                # The key's participant names another member's message (an admin's delete);
                # the device's own message has fromMe instead.
                sender = f"{PHONE}@s.whatsapp.net" if args["from_me"] else args["participant"]
                acts.append(
                    {
                        "kind": "revoke",
                        "chat": args["chat"],
                        "wa_message_id": args["id"],
                        "sender": sender,
                    }
                )
            elif method == "reject_call":
                acts.append({"kind": "call_reject", "call_id": args["call_id"], "to": args["to"]})
        return acts

    async def contact_calls(self, device_id: str, sender_phone: str, video: bool) -> None:
        await self.network.contact_calls(device_id, sender_phone, video=video)

    async def sent_previews(self, device_id: str) -> list[dict[str, Any] | None]:
        """ExtendedTextMessage's matchedText / title / description, as the servers got them."""
        previews: list[dict[str, Any] | None] = []
        for device, _, message in self.network.sent:
            if device != device_id or isinstance(message, str):
                continue
            if message.conversation:
                previews.append(None)
            elif message.HasField("extendedTextMessage"):
                ext = message.extendedTextMessage
                assert not ext.JPEGThumbnail
                previews.append(
                    {"url": ext.matchedText, "title": ext.title, "description": ext.description}
                    if ext.matchedText
                    else None
                )
        return previews

    async def sent_quotes(self, device_id: str) -> list[dict[str, Any]]:
        """Replies and reactions as the fake servers got them: ContextInfo's stanzaID and
        participant, the reaction key's ID, fromMe and participant (else the chat's JID)."""
        quotes: list[dict[str, Any]] = []
        for device, to, message in self.network.sent:
            if device != device_id or isinstance(message, str):
                continue
            if message.HasField("reactionMessage"):
                key = message.reactionMessage.key
                quotes.append(
                    {
                        "type": "reaction",
                        "to": to,
                        "reaction_to": key.ID,
                        "from_me": key.fromMe,
                        "quoted_sender": key.participant or to,
                    }
                )
            elif message.HasField("extendedTextMessage"):
                context = message.extendedTextMessage.contextInfo
                if context.stanzaID:
                    assert context.HasField("quotedMessage")
                    quotes.append(
                        {
                            "type": "text",
                            "to": to,
                            "reply_to": context.stanzaID,
                            "quoted_sender": context.participant or None,
                        }
                    )
        return quotes

    async def contact_presence(self, device_id: str, sender_phone: str, state: str) -> bool:
        return await self.network.contact_presence(device_id, sender_phone, state == "available")

    async def contact_chat_presence(self, device_id: str, sender_phone: str, state: str) -> None:
        await self.network.contact_chat_presence(device_id, sender_phone, state)

    async def contact_forwards(self, device_id: str, sender_phone: str, text: str) -> None:
        await self.network.contact_forwards(device_id, sender_phone, text)

    async def contact_revokes(self, device_id: str, sender_phone: str, wa_message_id: str) -> None:
        await self.network.contact_revokes(device_id, sender_phone, wa_message_id)

    async def contact_edits(
        self, device_id: str, sender_phone: str, wa_message_id: str, text: str
    ) -> None:
        await self.network.contact_edits(device_id, sender_phone, wa_message_id, text)

    async def contact_votes(
        self, device_id: str, voter_phone: str, poll_wa_message_id: str, options: list[str]
    ) -> None:
        await self.network.contact_votes(device_id, voter_phone, poll_wa_message_id, options)

    async def contact_taps_button(
        self, device_id: str, sender_phone: str, reply_to: str, selected_id: str, text: str
    ) -> None:
        await self.network.contact_taps_button(device_id, sender_phone, reply_to, selected_id, text)

    async def contact_picks_row(
        self, device_id: str, sender_phone: str, reply_to: str, row_id: str, title: str
    ) -> None:
        await self.network.contact_picks_row(device_id, sender_phone, reply_to, row_id, title)

    async def owner_writes(self, device_id: str, to_phone: str, text: str) -> None:
        await self.network.owner_writes(device_id, to_phone, text)

    async def account_acts(self, device_id: str) -> list[dict[str, Any]]:
        """neonize's set_profile_name / set_status_message / set_profile_photo and
        update_blocklist (BlocklistAction BLOCK / UNBLOCK) as the fake servers got them."""
        acts: list[dict[str, Any]] = []
        for device, method, args in self.network.acts:
            if device != device_id:
                continue
            if method == "set_profile_name":
                acts.append({"kind": "profile_name", "name": args["name"]})
            elif method == "set_status_message":
                acts.append({"kind": "profile_about", "about": args["about"]})
            elif method == "set_profile_photo":
                acts.append({"kind": "profile_picture", "sha256": args["sha256"]})
            elif method in ("block", "unblock"):
                acts.append({"kind": method, "jid": args["jid"]})
        return acts

    async def connections(self, device_id: str) -> int:
        return self.network.connects.get(device_id, 0)

    async def owner_reads(
        self, device_id: str, chat_phone: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        await self.network.owner_reads(device_id, chat_phone, wa_message_ids)

    async def someone_changes_group(
        self, device_id: str, group: str, action: str, participants: list[str], by: str
    ) -> None:
        await self.network.someone_changes_group(device_id, group, action, participants, by)

    async def history_arrives(self, device_id: str, chats: int, per_chat: int) -> None:
        await self.network.sends_history(device_id, chats, per_chat)

    async def group_acts(self, device_id: str) -> list[dict[str, Any]]:
        """The group changes the fake servers got, in the gateway's words."""
        names = {"name": "subject", "topic": "description", "announce": "announce"}
        names["locked"] = "locked"
        acts: list[dict[str, Any]] = []
        for device, method, args in self.network.acts:
            if device != device_id:
                continue
            if method.startswith("set_group_"):
                setting = names[method.removeprefix("set_group_")]
                acts.append(
                    {"kind": "group_update", "group": args["group"], setting: args["value"]}
                )
            elif method == "update_group_participants":
                acts.append({"kind": "group_participants", **args})
            elif method == "leave_group":
                acts.append({"kind": "group_leave", **args})
        return acts


class TestWhatsmeowConformance(EngineConformance):
    @pytest.fixture(autouse=True)
    def _stores(self, tmp_path: Path) -> None:
        self.store_dir = tmp_path / "stores"
        self.store_url: str | None = None  # a store per device, in files

    @asynccontextmanager
    async def harness(self) -> AsyncIterator[WhatsmeowHarness]:
        network = fake_neonize.FakeWhatsApp([t * TIME_SCALE for t in QR_CODE_LIFETIMES])
        engine = WhatsmeowBackend(
            {
                "store_dir": str(self.store_dir),
                "store_url": self.store_url,
                "time_scale": TIME_SCALE,
            },
            client_factory=network.factory,
        )
        h = WhatsmeowHarness(engine, network)
        await engine.start(h.sink)
        try:
            yield h
        finally:
            await engine.shutdown()


# The rules that touch where a session is kept: how it is made, found, resumed and erased.
# (The others act on a live session, wherever it came from.)
SESSION_STORE_RULES = {
    "test_scan_links_and_stops_the_window",
    "test_pairing_code_links_as_its_phone",
    "test_restore_reconnects_a_linked_device_only",
    "test_logout_erases_the_session",
    "test_unlink_from_phone_ends_the_session",
    "test_reconnect_drops_and_reconnects_without_unlinking",
}


class TestWhatsmeowConformanceOnASharedStore(TestWhatsmeowConformance):
    """The session rules with the sessions in whatsmeow's PostgreSQL store, which every node
    reaches (several nodes, CONTRACT §9): each device's client opens its session by JID."""

    @pytest.fixture(autouse=True)
    def _stores(self, tmp_path: Path, postgresql: DatabaseProvider) -> None:
        self.store_dir = tmp_path / "stores"
        self.store_url = store_url_for(postgresql.new_url(tmp_path))


for _name in dir(TestWhatsmeowConformance):
    if _name.startswith("test_") and _name not in SESSION_STORE_RULES:
        setattr(TestWhatsmeowConformanceOnASharedStore, _name, None)  # not collected
assert SESSION_STORE_RULES <= set(dir(TestWhatsmeowConformance)), "a rule was renamed"
