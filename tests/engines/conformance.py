"""The engine conformance suite: what every Engine must do, whatever speaks to WhatsApp.

An engine's test module subclasses `EngineConformance` and provides `harness()`: the engine
plus a way to play the phone and the network (scan, type a code, unlink, drop the socket).
The sandbox passes it against its simulated network; the whatsmeow engine will pass it
against a fake at the neonize boundary.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wagateway.engines.base import (
    HISTORY_BATCH_SIZE,
    INVITE_LINK_PREFIX,
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
    OutboundMessage,
    OwnerRead,
    PairingWindowEnded,
    PollVote,
    PresenceUpdate,
    QrCode,
    Receipt,
    SessionEnded,
    poll_option_hash,
)

PHONE = "6281234567890"


class Harness(Protocol):
    engine: Engine
    events: list[EngineEvent]
    # the whole pairing window, in seconds, at the harness's timings
    window_seconds: float

    async def phone_scan(self, device_id: str, qr: str, phone: str) -> None: ...
    async def phone_enter_code(self, device_id: str, code: str) -> None: ...
    async def phone_logout(self, device_id: str) -> None: ...
    async def network_drop(self, device_id: str) -> None: ...
    async def contact_writes(self, device_id: str, sender_phone: str, text: str) -> None: ...
    # What the device did on the network besides messages, engine-neutral: {"kind": "read",
    # "chat", "sender", "wa_message_ids"}, {"kind": "chat_presence", "chat", "state"},
    # {"kind": "presence", "state"}, {"kind": "edit", "chat", "wa_message_id", "text"},
    # {"kind": "revoke", "chat", "wa_message_id"}; oldest first.
    async def chat_acts(self, device_id: str) -> list[dict[str, Any]]: ...

    async def contact_forwards(self, device_id: str, sender_phone: str, text: str) -> None: ...
    async def contact_chat_presence(
        self, device_id: str, sender_phone: str, state: str
    ) -> None: ...
    async def contact_revokes(
        self, device_id: str, sender_phone: str, wa_message_id: str
    ) -> None: ...
    async def contact_edits(
        self, device_id: str, sender_phone: str, wa_message_id: str, text: str
    ) -> None: ...
    async def contact_votes(
        self, device_id: str, voter_phone: str, poll_wa_message_id: str, options: list[str]
    ) -> None: ...
    async def contact_taps_button(
        self, device_id: str, sender_phone: str, reply_to: str, selected_id: str, text: str
    ) -> None: ...
    async def contact_picks_row(
        self, device_id: str, sender_phone: str, reply_to: str, row_id: str, title: str
    ) -> None: ...
    # The device's sent replies and reactions, engine-neutral, oldest first: {"type",
    # "to", "reply_to", "quoted_sender"} for a reply, {"type": "reaction", "to",
    # "reaction_to", "from_me", "quoted_sender"} for a reaction (None where not set).
    async def sent_quotes(self, device_id: str) -> list[dict[str, Any]]: ...
    # The link previews of the device's sent texts, oldest first: {"url", "title",
    # "description"} as sent, or None for a text without one.
    async def sent_previews(self, device_id: str) -> list[dict[str, Any] | None]: ...
    # The account's owner writes `text` to `to_phone` from the phone (CONTRACT §8.2 `phone`).
    async def owner_writes(self, device_id: str, to_phone: str, text: str) -> None: ...
    # A contact calls the device; nobody answers, so the ring ends (missed). A rejection by
    # the device shows in `chat_acts` as {"kind": "call_reject", "call_id", "to"}.
    async def contact_calls(self, device_id: str, sender_phone: str, video: bool) -> None: ...
    # A contact comes online (`available`) or goes offline (`unavailable`): True when the
    # network sent the device a presence (it subscribed and shows online). chat_acts reports
    # a subscription as {"kind": "presence_subscribe", "jid"}.
    async def contact_presence(self, device_id: str, sender_phone: str, state: str) -> bool: ...
    # The account itself (CONTRACT §8.4), engine-neutral, oldest first: {"kind":
    # "profile_name", "name"}, {"kind": "profile_about", "about"}, {"kind": "profile_picture",
    # "sha256"}, {"kind": "block" | "unblock", "jid"}.
    async def account_acts(self, device_id: str) -> list[dict[str, Any]]: ...
    # How many connections to WhatsApp the device has opened so far.
    async def connections(self, device_id: str) -> int: ...
    # The account's owner reads these messages of the chat with `chat_phone` on the phone
    # (CONTRACT §8.4): WhatsApp's read-self receipt.
    async def owner_reads(
        self, device_id: str, chat_phone: str, wa_message_ids: tuple[str, ...]
    ) -> None: ...
    # The device's group changes as the network got them, oldest first: {"kind":
    # "group_update", "group", <one setting>: value} per setting changed, {"kind":
    # "group_participants", "group", "action", "participants": [JIDs changed]}, {"kind":
    # "group_leave", "group"}.
    async def group_acts(self, device_id: str) -> list[dict[str, Any]]: ...
    # A member (`by`, a phone number) adds, removes, promotes or demotes `participants`
    # (phone numbers) in a group the account is in.
    async def someone_changes_group(
        self, device_id: str, group: str, action: str, participants: list[str], by: str
    ) -> None: ...
    # WhatsApp sends the linked device its history (CONTRACT §8.4): `chats` one-to-one chats
    # with contacts 62855000000NN, the most recent first, each of `per_chat` texts "history
    # {chat}/{n}" a minute apart, the contact's (even n) and the account's (odd n) in turn;
    # returns once the engine has handled it.
    async def history_arrives(self, device_id: str, chats: int, per_chat: int) -> None: ...


async def wait_for(
    harness: Harness, predicate: Callable[[EngineEvent], bool], timeout: float = 10.0
) -> EngineEvent:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for event in harness.events:
            if predicate(event):
                return event
        await asyncio.sleep(0.01)
    raise AssertionError(f"no matching event within {timeout}s; got {harness.events!r}")


def of(device_id: str, kind: type[EngineEvent]) -> Callable[[EngineEvent], bool]:
    return lambda e: e.device_id == device_id and isinstance(e, kind)


async def link(harness: Harness, device_id: str, epoch: int = 1) -> Connected:
    await harness.engine.begin_pairing(device_id, epoch)
    qr = await wait_for(harness, of(device_id, QrCode))
    assert isinstance(qr, QrCode)
    await harness.phone_scan(device_id, qr.code, PHONE)
    connected = await wait_for(harness, of(device_id, Connected))
    assert isinstance(connected, Connected)
    return connected


async def wait_for_acts(
    harness: Harness, device_id: str, count: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        acts = await harness.chat_acts(device_id)
        if len(acts) >= count or asyncio.get_running_loop().time() > deadline:
            return acts
        await asyncio.sleep(0.02)


class EngineConformance:
    """Subclass as `Test<Engine>Conformance` and implement `harness`."""

    def harness(self) -> AbstractAsyncContextManager[Harness]:
        raise NotImplementedError

    def run(self, scenario: Callable[[Harness], Awaitable[None]]) -> None:
        async def main() -> None:
            async with self.harness() as h:
                await scenario(h)

        asyncio.run(main())

    def test_pairing_window_rotates_then_ends(self) -> None:
        async def scenario(h: Harness) -> None:
            started = asyncio.get_running_loop().time()
            await h.engine.begin_pairing("d1", 7)
            await wait_for(h, of("d1", PairingWindowEnded), timeout=h.window_seconds + 5)
            elapsed = asyncio.get_running_loop().time() - started
            qrs = [e for e in h.events if isinstance(e, QrCode)]
            assert len(qrs) >= 2, "a window rotates its codes"
            assert len({q.code for q in qrs}) == len(qrs)
            assert all(e.epoch == 7 and e.device_id == "d1" for e in h.events)
            assert [q.expires_at for q in qrs] == sorted(q.expires_at for q in qrs)
            assert isinstance(h.events[-1], PairingWindowEnded)
            assert elapsed >= h.window_seconds * 0.9

        self.run(scenario)

    def test_scan_links_and_stops_the_window(self) -> None:
        async def scenario(h: Harness) -> None:
            connected = await link(h, "d1")
            assert connected.wa_number == PHONE and connected.epoch == 1
            assert connected.wa_device_jid.startswith(PHONE + ":")
            assert connected.wa_device_jid.endswith("@s.whatsapp.net")
            assert connected.reconnected is False
            count = len(h.events)
            await asyncio.sleep(h.window_seconds + 0.5)
            assert h.events[count:] == [], "no QR or window end after linking"

        self.run(scenario)

    def test_pairing_code_links_as_its_phone(self) -> None:
        async def scenario(h: Harness) -> None:
            await h.engine.begin_pairing("d1", 1)
            await wait_for(h, of("d1", QrCode))
            code = await h.engine.request_pairing_code("d1", 1, "6289876543210")
            assert len(code) == 8 and code.isalnum()
            await h.phone_enter_code("d1", code)
            connected = await wait_for(h, of("d1", Connected))
            assert isinstance(connected, Connected) and connected.wa_number == "6289876543210"

        self.run(scenario)

    def test_pairing_code_needs_an_open_window(self) -> None:
        async def scenario(h: Harness) -> None:
            try:
                await h.engine.request_pairing_code("nobody", 1, PHONE)
            except EngineError as exc:
                assert exc.code
            else:
                raise AssertionError("a pairing code without a pairing window must be refused")

        self.run(scenario)

    def test_close_silences_the_session(self) -> None:
        async def scenario(h: Harness) -> None:
            await h.engine.begin_pairing("d1", 1)
            await wait_for(h, of("d1", QrCode))
            await h.engine.close("d1")
            count = len(h.events)
            await asyncio.sleep(h.window_seconds + 0.5)
            assert h.events[count:] == []

        self.run(scenario)

    def test_restore_reconnects_a_linked_device_only(self) -> None:
        async def scenario(h: Harness) -> None:
            first = await link(h, "d1")
            await h.engine.close("d1")  # as at shutdown: no logout
            h.events.clear()
            await h.engine.restore("d1", 2)
            restored = await wait_for(h, of("d1", Connected))
            assert isinstance(restored, Connected)
            assert restored.epoch == 2 and restored.reconnected is True
            assert restored.wa_device_jid == first.wa_device_jid
            await h.engine.restore("never-linked", 1)
            missing = await wait_for(h, of("never-linked", SessionEnded))
            assert isinstance(missing, SessionEnded) and missing.reason == "session_missing"

        self.run(scenario)

    def test_logout_erases_the_session(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            h.events.clear()
            await h.engine.logout("d1")
            await asyncio.sleep(0.2)
            assert h.events == [], "logout is asked for, not reported"
            await h.engine.restore("d1", 2)
            ended = await wait_for(h, of("d1", SessionEnded))
            assert isinstance(ended, SessionEnded) and ended.reason == "session_missing"

        self.run(scenario)

    def test_unlink_from_phone_ends_the_session(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.phone_logout("d1")
            ended = await wait_for(h, of("d1", SessionEnded))
            assert isinstance(ended, SessionEnded) and ended.reason == "logged_out"
            await h.engine.restore("d1", 2)
            again = await wait_for(h, lambda e: isinstance(e, SessionEnded) and e.epoch == 2)
            assert isinstance(again, SessionEnded) and again.reason == "session_missing"

        self.run(scenario)

    def test_dropped_socket_reconnects_by_itself(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.network_drop("d1")
            lost = await wait_for(h, of("d1", ConnectionLost))
            assert isinstance(lost, ConnectionLost) and lost.error
            back = await wait_for(h, lambda e: isinstance(e, Connected) and e.reconnected)
            assert h.events.index(lost) < h.events.index(back)
            assert not any(isinstance(e, SessionEnded) for e in h.events)

        self.run(scenario)

    def test_devices_are_independent_and_shutdown_stops_all(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "a")
            await h.engine.begin_pairing("b", 1)
            await wait_for(h, of("b", QrCode))
            await h.engine.close("a")
            qrs_before = len([e for e in h.events if isinstance(e, QrCode) and e.device_id == "b"])
            await asyncio.sleep(min(1.0, h.window_seconds / 2))
            assert not any(isinstance(e, SessionEnded) and e.device_id == "b" for e in h.events)
            assert qrs_before >= 1
            health = await h.engine.health()
            assert health.ok
            await h.engine.shutdown()
            count = len(h.events)
            await asyncio.sleep(h.window_seconds + 0.5)
            assert h.events[count:] == []

        self.run(scenario)

    def test_inbound_text_arrives_with_sender(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.contact_writes("d1", "6285550001111", "halo, ada stok?")
            message = await wait_for(h, of("d1", InboundMessage))
            assert isinstance(message, InboundMessage)
            assert message.type == "text" and message.content == {"text": "halo, ada stok?"}
            assert message.sender_phone == "6285550001111"
            assert message.chat == "6285550001111@s.whatsapp.net"
            assert message.wa_message_id and message.epoch == 1

        self.run(scenario)

    def test_mark_read_sends_read_receipts(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            for text in ("satu", "dua"):
                await h.contact_writes("d1", "6285550001111", text)
            await wait_for(
                h, lambda e: len([x for x in h.events if isinstance(x, InboundMessage)]) == 2
            )
            ids = tuple(e.wa_message_id for e in h.events if isinstance(e, InboundMessage))
            chat = "6285550001111@s.whatsapp.net"
            await h.engine.mark_read("d1", chat, chat, ())  # nothing to read: nothing sent
            await h.engine.mark_read("d1", chat, chat, ids)
            acts = await wait_for_acts(h, "d1", 1)
            assert acts == [
                {"kind": "read", "chat": chat, "sender": chat, "wa_message_ids": list(ids)}
            ]

        self.run(scenario)

    def test_chat_presence_and_own_presence(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            chat = "6285550001111@s.whatsapp.net"
            for state in ("typing", "recording", "paused"):
                await h.engine.send_chat_presence("d1", chat, state)
            for state in ("available", "unavailable"):
                await h.engine.send_presence("d1", state)
            acts = await wait_for_acts(h, "d1", 5)
            assert acts == [
                {"kind": "chat_presence", "chat": chat, "state": "typing"},
                {"kind": "chat_presence", "chat": chat, "state": "recording"},
                {"kind": "chat_presence", "chat": chat, "state": "paused"},
                {"kind": "presence", "state": "available"},
                {"kind": "presence", "state": "unavailable"},
            ]

        self.run(scenario)

    def test_chat_actions_need_a_live_session(self) -> None:
        async def scenario(h: Harness) -> None:
            chat = "6285550001111@s.whatsapp.net"
            calls = [
                h.engine.mark_read("nobody", chat, chat, ("3EB0AA",)),
                h.engine.send_chat_presence("nobody", chat, "typing"),
                h.engine.send_presence("nobody", "available"),
            ]
            for call in calls:
                try:
                    await call
                except EngineError as exc:
                    assert exc.code == "not_connected"
                else:
                    raise AssertionError("a chat action without a session must be refused")
            assert await h.chat_acts("nobody") == []

    def test_forwarded_message_is_marked_forwarded(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.contact_writes("d1", "6285550001111", "asli")
            await h.contact_forwards("d1", "6285550001111", "diteruskan")
            for text in ("asli", "diteruskan"):  # each may arrive first (own task on neonize)
                await wait_for(
                    h, lambda e, t=text: isinstance(e, InboundMessage) and e.content["text"] == t
                )
            messages = [e for e in h.events if isinstance(e, InboundMessage)]
            assert {m.content["text"]: m.forwarded for m in messages} == {
                "asli": False,
                "diteruskan": True,
            }

        self.run(scenario)

    def test_contact_revokes_its_message(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.contact_writes("d1", "6285550001111", "salah kirim")
            message = await wait_for(h, of("d1", InboundMessage))
            assert isinstance(message, InboundMessage)
            await h.contact_revokes("d1", "6285550001111", message.wa_message_id)
            revoked = await wait_for(h, of("d1", MessageRevoked))
            assert isinstance(revoked, MessageRevoked)
            assert revoked.wa_message_id == message.wa_message_id and revoked.epoch == 1
            assert revoked.chat == "6285550001111@s.whatsapp.net"
            assert revoked.by == revoked.sender == "6285550001111"
            assert not [e for e in h.events if isinstance(e, InboundMessage)][1:], (
                "a revoke is not a message"
            )

        self.run(scenario)

    def test_contact_edits_its_message(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.contact_writes("d1", "6285550001111", "harga 40rb")
            message = await wait_for(h, of("d1", InboundMessage))
            assert isinstance(message, InboundMessage)
            await h.contact_edits("d1", "6285550001111", message.wa_message_id, "harga 50rb")
            edited = await wait_for(h, of("d1", MessageEdited))
            assert isinstance(edited, MessageEdited)
            assert (edited.wa_message_id, edited.text) == (message.wa_message_id, "harga 50rb")
            assert edited.chat == "6285550001111@s.whatsapp.net" and edited.epoch == 1
            assert edited.sender_phone == "6285550001111"
            assert edited.edited_at >= message.sent_at.replace(microsecond=0)
            assert len([e for e in h.events if isinstance(e, InboundMessage)]) == 1

        self.run(scenario)

    def test_contact_votes_on_the_device_poll(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            voter = "6285550001111"
            poll = OutboundMessage(
                "3EB0POLL0001",
                f"{voter}@s.whatsapp.net",
                "interactive",
                {"poll_question": "Jam?", "poll_options": ["09:00", "13:00"], "poll_multi": True},
            )
            sent = await h.engine.send("d1", poll)
            await h.contact_votes("d1", voter, sent.wa_message_id, ["13:00", "09:00"])
            vote = await wait_for(h, of("d1", PollVote))
            assert isinstance(vote, PollVote) and vote.epoch == 1
            assert vote.poll_wa_message_id == sent.wa_message_id
            assert vote.selected_hashes == (poll_option_hash("13:00"), poll_option_hash("09:00"))
            assert (vote.chat, vote.voter_phone) == (f"{voter}@s.whatsapp.net", voter)
            await h.contact_votes("d1", voter, sent.wa_message_id, [])
            await wait_for(h, lambda e: isinstance(e, PollVote) and e.selected_hashes == ())

        self.run(scenario)

    def test_button_and_list_replies_arrive_as_their_types(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.contact_taps_button("d1", "6285550001111", "3EB0ASKED", "btn-ya", "Ya")
            await h.contact_picks_row("d1", "6285550001111", "3EB0LIST", "row-2", "Paket B")
            for kind in ("button_response", "list_response"):
                await wait_for(h, lambda e, k=kind: isinstance(e, InboundMessage) and e.type == k)
            got = {
                e.type: (e.content, e.reply_to, e.sender_phone)
                for e in h.events
                if isinstance(e, InboundMessage)
            }
            assert got == {
                "button_response": (
                    {"selected_id": "btn-ya", "selected_text": "Ya"},
                    "3EB0ASKED",
                    "6285550001111",
                ),
                "list_response": (
                    {"selected_row_id": "row-2", "title": "Paket B"},
                    "3EB0LIST",
                    "6285550001111",
                ),
            }

        self.run(scenario)

    def test_contact_typing_recording_and_pausing_is_chat_presence(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            for state in ("typing", "recording", "paused"):
                await h.contact_chat_presence("d1", "6285550001111", state)
                await wait_for(h, lambda e, s=state: isinstance(e, ChatPresence) and e.state == s)
            seen = [e for e in h.events if isinstance(e, ChatPresence)]
            assert [e.state for e in seen] == ["typing", "recording", "paused"]
            assert all(
                e.chat == e.jid == "6285550001111@s.whatsapp.net" and e.epoch == 1 for e in seen
            )

        self.run(scenario)

    def test_edit_and_revoke_a_sent_message(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            chat = "6285550001111@s.whatsapp.net"
            sent = await h.engine.send(
                "d1", OutboundMessage("m-edit", chat, "text", {"text": "halo"})
            )
            await h.engine.edit_message("d1", chat, sent.wa_message_id, {"text": "halo lagi"})
            caption = {"caption": "foto baru", "type": "image"}
            await h.engine.edit_message("d1", chat, "3EB0PHOTO", caption)
            await h.engine.revoke_message("d1", chat, f"{PHONE}@s.whatsapp.net", sent.wa_message_id)
            acts = await wait_for_acts(h, "d1", 3)
            assert acts == [
                {
                    "kind": "edit",
                    "chat": chat,
                    "wa_message_id": sent.wa_message_id,
                    "text": "halo lagi",
                },
                {"kind": "edit", "chat": chat, "wa_message_id": "3EB0PHOTO", "text": "foto baru"},
                {
                    "kind": "revoke",
                    "chat": chat,
                    "wa_message_id": sent.wa_message_id,
                    "sender": f"{PHONE}@s.whatsapp.net",
                },
            ]

        self.run(scenario)

    def test_a_group_admin_deletes_another_members_message(self) -> None:
        """CONTRACT §8.1: the account's admin rights come from the engine's groups, and a
        revoke of another member's message names that member."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")

            def user(jid: str) -> str:
                return jid.partition("@")[0]

            groups = await h.engine.groups("d1")
            administered = [g for g in groups if PHONE in {user(a) for a in g.admins}]
            assert administered, groups
            group = administered[0]
            member = next(p for p in group.participants if user(p) != PHONE)
            member_jid = f"{user(member)}@s.whatsapp.net"
            await h.engine.revoke_message("d1", group.jid, member_jid, "3EB0MEMBER")
            assert await wait_for_acts(h, "d1", 1) == [
                {
                    "kind": "revoke",
                    "chat": group.jid,
                    "wa_message_id": "3EB0MEMBER",
                    "sender": member_jid,
                }
            ]

        self.run(scenario)

    def test_edit_and_revoke_need_a_live_session(self) -> None:
        async def scenario(h: Harness) -> None:
            chat = "6285550001111@s.whatsapp.net"
            calls = [
                h.engine.edit_message("nobody", chat, "3EB0AA", {"text": "x"}),
                h.engine.revoke_message("nobody", chat, chat, "3EB0AA"),
            ]
            for call in calls:
                try:
                    await call
                except EngineError as exc:
                    assert exc.code == "not_connected"
                else:
                    raise AssertionError("an edit or revoke without a session must be refused")
            assert await h.chat_acts("nobody") == []

        self.run(scenario)

    def test_replies_and_reactions_name_the_quoted_sender(self) -> None:
        contact, group, own = (
            "6285550001111@s.whatsapp.net",
            "120363000000000001@g.us",
            PHONE + "@s.whatsapp.net",
        )

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            sends = [
                OutboundMessage(
                    "3EB0R1", group, "text", {"text": "ya"}, reply_to="3EB0THEIRS",
                    quoted_sender=contact, quoted_text="jam?",
                ),
                OutboundMessage(
                    "3EB0R2", contact, "text", {"text": "lagi"}, reply_to="3EB0MINE",
                    quoted_sender=own, quoted_from_me=True, quoted_text="nota",
                ),
                OutboundMessage(
                    "3EB0R3", contact, "reaction", {"message_id": "3EB0IN", "emoji": "👍"},
                    quoted_sender=contact,
                ),
                OutboundMessage(
                    "3EB0R4", group, "reaction", {"message_id": "3EB0OUT", "emoji": "❤"},
                    quoted_sender=own, quoted_from_me=True,
                ),
            ]  # fmt: skip
            for message in sends:
                await h.engine.send("d1", message)
            assert await h.sent_quotes("d1") == [
                {"type": "text", "to": group, "reply_to": "3EB0THEIRS", "quoted_sender": contact},
                {"type": "text", "to": contact, "reply_to": "3EB0MINE", "quoted_sender": own},
                {
                    "type": "reaction",
                    "to": contact,
                    "reaction_to": "3EB0IN",
                    "from_me": False,
                    "quoted_sender": contact,
                },
                {
                    "type": "reaction",
                    "to": group,
                    "reaction_to": "3EB0OUT",
                    "from_me": True,
                    "quoted_sender": own,
                },
            ]

        self.run(scenario)

    def test_a_text_carries_the_link_preview_it_is_given(self) -> None:
        preview = {"url": "https://toko.example/a", "title": "Toko", "description": "Buka 9"}

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            to = "6285550001111@s.whatsapp.net"
            text = "lihat https://toko.example/a"
            await h.engine.send(
                "d1", OutboundMessage("3EB0L1", to, "text", {"text": text}, link_preview=preview)
            )
            await h.engine.send("d1", OutboundMessage("3EB0L2", to, "text", {"text": text}))
            assert await h.sent_previews("d1") == [preview, None]

        self.run(scenario)

    def test_owner_message_from_the_phone_arrives_from_me(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.owner_writes("d1", "6285550001111", "sudah dikirim ya")
            own = await wait_for(h, lambda e: isinstance(e, InboundMessage) and e.from_me)
            assert isinstance(own, InboundMessage)
            assert (own.type, own.content) == ("text", {"text": "sudah dikirim ya"})
            assert own.chat == "6285550001111@s.whatsapp.net", "the recipient's chat"
            assert own.sender_phone == PHONE and own.wa_message_id and own.epoch == 1
            await h.contact_writes("d1", "6285550001111", "terima kasih")
            theirs = await wait_for(h, lambda e: isinstance(e, InboundMessage) and not e.from_me)
            assert isinstance(theirs, InboundMessage) and theirs.sender_phone == "6285550001111"
            assert theirs.wa_message_id != own.wa_message_id

    def test_a_contact_call_rings_then_is_missed_and_can_be_rejected(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            caller = "6285550001111@s.whatsapp.net"

            def call(state: str) -> Callable[[EngineEvent], bool]:
                return lambda e: isinstance(e, IncomingCall) and e.state == state

            await h.contact_calls("d1", "6285550001111", True)
            offer = await wait_for(h, call("offer"))
            missed = await wait_for(h, call("missed"))
            assert isinstance(offer, IncomingCall) and isinstance(missed, IncomingCall)
            assert (offer.caller, offer.caller_phone, offer.video, offer.group, offer.epoch) == (
                caller,
                "6285550001111",
                True,
                False,
                1,
            )
            assert offer.caller_lid is not None and offer.caller_lid.endswith("@lid")
            assert (missed.call_id, missed.caller, missed.video) == (offer.call_id, caller, True)
            assert offer.call_id and offer.at is not None
            await h.engine.reject_call("d1", offer.call_id, offer.caller)
            acts = await wait_for_acts(h, "d1", 1)
            assert acts == [{"kind": "call_reject", "call_id": offer.call_id, "to": caller}]
            try:
                await h.engine.reject_call("nobody", offer.call_id, caller)
            except EngineError as exc:
                assert exc.code == "not_connected"
            else:
                raise AssertionError("rejecting a call needs a live session")

        self.run(scenario)

    def test_on_demand_shows_online_only_around_a_presence_subscription(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            contact = "6285550001111"
            jid = f"{contact}@s.whatsapp.net"
            await h.engine.set_presence_mode("d1", "on_demand")
            assert await h.chat_acts("d1") == [], "on_demand sends nothing at connect"
            await h.engine.subscribe_presence("d1", jid)
            assert await wait_for_acts(h, "d1", 3) == [
                {"kind": "presence", "state": "available"},
                {"kind": "presence_subscribe", "jid": jid},
                {"kind": "presence", "state": "unavailable"},
            ]
            # Subscribed, but the account shows offline: WhatsApp sends nothing.
            assert await h.contact_presence("d1", contact, "available") is False
            # Online (the account's own choice): the contact's next change arrives.
            await h.engine.send_presence("d1", "available")
            assert await h.contact_presence("d1", contact, "unavailable") is True
            update = await wait_for(h, of("d1", PresenceUpdate))
            assert isinstance(update, PresenceUpdate)
            assert (update.jid, update.presence) == (jid, "unavailable")
            assert [e for e in h.events if isinstance(e, PresenceUpdate)] == [update]
            # Already online: a subscription is not wrapped (and does not take it offline).
            await h.engine.subscribe_presence("d1", jid)
            acts = await wait_for_acts(h, "d1", 5)
            assert acts[3:] == [
                {"kind": "presence", "state": "available"},
                {"kind": "presence_subscribe", "jid": jid},
            ]
            # WhatsApp answers a subscription with the presence it knows.
            await wait_for(
                h, lambda e: len([x for x in h.events if isinstance(x, PresenceUpdate)]) == 2
            )
            answer = [e for e in h.events if isinstance(e, PresenceUpdate)][1]
            assert isinstance(answer, PresenceUpdate)
            assert (answer.jid, answer.presence) == (jid, "unavailable")
            try:
                await h.engine.subscribe_presence("nobody", jid)
            except EngineError as exc:
                assert exc.code == "not_connected"
            else:
                raise AssertionError("a subscription without a session must be refused")

        self.run(scenario)

    def test_always_online_goes_available_at_every_connect_and_keeps_presence_coming(
        self,
    ) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            contact = "6285550001111"
            jid = f"{contact}@s.whatsapp.net"
            # What the gateway does after each Connected.
            await h.engine.set_presence_mode("d1", "always_online")
            assert await wait_for_acts(h, "d1", 1) == [{"kind": "presence", "state": "available"}]
            await h.engine.subscribe_presence("d1", jid)
            assert (await wait_for_acts(h, "d1", 2))[1:] == [
                {"kind": "presence_subscribe", "jid": jid}
            ], "online already: no on_demand wrapping"
            assert await h.contact_presence("d1", contact, "available") is True
            first = await wait_for(h, of("d1", PresenceUpdate))
            assert isinstance(first, PresenceUpdate) and first.presence == "available"
            await h.network_drop("d1")
            await wait_for(h, lambda e: isinstance(e, Connected) and e.reconnected)
            await h.engine.set_presence_mode("d1", "always_online")
            acts = await wait_for_acts(h, "d1", 3)
            assert acts[2] == {"kind": "presence", "state": "available"}, acts
            # After the reconnect presence still comes (whatsmeow renews the subscription).
            assert await h.contact_presence("d1", contact, "unavailable") is True
            await wait_for(
                h, lambda e: isinstance(e, PresenceUpdate) and e.presence == "unavailable"
            )
            before = len(await h.chat_acts("d1"))
            await h.engine.set_presence_mode("d1", "on_demand")
            acts = await wait_for_acts(h, "d1", before + 1)
            assert acts[-1] == {"kind": "presence", "state": "unavailable"}

        self.run(scenario)

    def test_profile_has_the_push_name_and_picture(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            contact = "6285550001111"
            await h.contact_writes("d1", contact, "halo")
            message = await wait_for(h, of("d1", InboundMessage))
            assert isinstance(message, InboundMessage) and message.push_name
            profile = await h.engine.profile("d1", f"{contact}@s.whatsapp.net")
            assert profile.name == message.push_name, "the push name its messages carry"
            assert profile.picture_url and profile.picture_url.startswith("https://")
            assert contact in profile.picture_url
            hidden = await h.engine.profile("d1", "6285550001110@s.whatsapp.net")
            assert hidden.picture_url is None, "no picture (or hidden): none"

        self.run(scenario)

    # --- the account itself (CONTRACT §8.4) --------------------------------------------------

    def test_reconnect_drops_and_reconnects_without_unlinking(self) -> None:
        async def scenario(h: Harness) -> None:
            first = await link(h, "d1")
            assert await h.connections("d1") == 1
            await h.engine.reconnect("d1")
            lost = await wait_for(h, of("d1", ConnectionLost))
            back = await wait_for(h, lambda e: isinstance(e, Connected) and e.reconnected)
            assert isinstance(back, Connected) and h.events.index(lost) < h.events.index(back)
            assert back.epoch == 1 and back.wa_number == first.wa_number
            assert not any(isinstance(e, SessionEnded) for e in h.events)
            assert await h.connections("d1") == 2
            # still linked and usable
            await h.engine.send_presence("d1", "available")

        self.run(scenario)

    def test_account_actions_need_a_live_session(self) -> None:
        async def scenario(h: Harness) -> None:
            calls = [
                h.engine.reconnect("nobody"),
                h.engine.update_own_profile("nobody", name="Shop"),
                h.engine.set_blocked("nobody", "6285550001111@s.whatsapp.net", True),
                h.engine.blocklist("nobody"),
            ]
            for call in calls:
                try:
                    await call
                except EngineError as exc:
                    assert exc.code == "not_connected"
                else:
                    raise AssertionError("an account action without a session must be refused")

        self.run(scenario)

    def test_own_profile_changes_reach_the_network(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            picture = b"\xff\xd8\xff\xe0 a tiny jpeg"
            await h.engine.update_own_profile("d1", name="Toko Maju", about="Buka 08-17")
            await h.engine.update_own_profile("d1", picture=picture)
            acts = await h.account_acts("d1")
            deadline = asyncio.get_running_loop().time() + 10
            while len(acts) < 3 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
                acts = await h.account_acts("d1")
            assert acts == [
                {"kind": "profile_name", "name": "Toko Maju"},
                {"kind": "profile_about", "about": "Buka 08-17"},
                {"kind": "profile_picture", "sha256": hashlib.sha256(picture).hexdigest()},
            ]

        self.run(scenario)

    def test_block_unblock_and_the_blocklist(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            a, b = "6285550001111@s.whatsapp.net", "6285550002222@s.whatsapp.net"
            assert await h.engine.blocklist("d1") == []
            await h.engine.set_blocked("d1", a, True)
            await h.engine.set_blocked("d1", b, True)
            await h.engine.set_blocked("d1", a, False)
            assert await h.engine.blocklist("d1") == [b]
            acts = await h.account_acts("d1")
            assert acts == [
                {"kind": "block", "jid": a},
                {"kind": "block", "jid": b},
                {"kind": "unblock", "jid": a},
            ]

    def test_contacts_are_those_the_session_knows(self) -> None:
        """CONTRACT §8.4 `GET /contacts`: whoever wrote to the device is in the session's
        contact store, with the push name its messages carry, its phone and LID."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            for phone in ("6285550001111", "6285550002222"):
                await h.contact_writes("d1", phone, "halo")
            await wait_for(
                h, lambda e: len([x for x in h.events if isinstance(x, InboundMessage)]) == 2
            )
            names = {e.sender_phone: e.push_name for e in h.events if isinstance(e, InboundMessage)}
            contacts = {c.phone: c for c in await h.engine.contacts("d1")}
            assert set(contacts) >= {"6285550001111", "6285550002222"}
            for phone, push_name in names.items():
                contact = contacts[phone]
                assert contact.jid == f"{phone}@s.whatsapp.net"
                assert contact.push_name == push_name and push_name
                assert contact.lid is not None and contact.lid.endswith("@lid")
            try:
                await h.engine.contacts("nobody")
            except EngineError as exc:
                assert exc.code == "not_connected"
            else:
                raise AssertionError("contacts need a live session")

        self.run(scenario)

    def test_owner_reading_on_the_phone_is_reported(self) -> None:
        """The owner reads a chat on the phone: the device hears of it (a read-self receipt),
        naming the chat and the messages read."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            contact = "6285550001111"
            for text in ("satu", "dua"):
                await h.contact_writes("d1", contact, text)
            await wait_for(
                h, lambda e: len([x for x in h.events if isinstance(x, InboundMessage)]) == 2
            )
            ids = tuple(e.wa_message_id for e in h.events if isinstance(e, InboundMessage))
            await h.owner_reads("d1", contact, ids)
            read = await wait_for(h, of("d1", OwnerRead))
            assert isinstance(read, OwnerRead) and read.epoch == 1
            assert read.chat == f"{contact}@s.whatsapp.net"
            assert read.wa_message_ids == ids and read.at is not None
            assert not any(isinstance(e, Receipt) for e in h.events), "not a recipient's receipt"

    def test_groups_list_every_member_with_its_rights(self) -> None:
        """CONTRACT §8.3: a joined group has its subject and settings, and every member
        (the account itself included) with phone or LID and admin rights."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            groups = await h.engine.groups("d1")
            assert groups and all(g.jid.endswith("@g.us") for g in groups)
            for group in groups:
                assert group.name and group.members
                assert len(group.members) == len(group.participants)
                assert all(m.jid and (m.phone or m.lid) for m in group.members)
                assert {m.jid.partition("@")[0] for m in group.members if m.admin} == {
                    a.partition("@")[0] for a in group.admins
                }
                assert isinstance(group.announce, bool) and isinstance(group.locked, bool)
            own = [m for g in groups for m in g.members if m.phone == PHONE]
            assert own and own[0].admin, "the account is in (and admin of) a group"

        self.run(scenario)

    def test_an_admin_changes_a_groups_settings_and_members(self) -> None:
        """CONTRACT §8.3: settings and members change on the network, with a status per
        participant; numbers not on WhatsApp, privacy-restricted ones (ending in 77), members
        added twice and non-members removed are refused one by one."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            [group] = [
                g
                for g in await h.engine.groups("d1")
                if any(m.phone == PHONE and m.admin for m in g.members)
            ][:1]
            await h.engine.update_group("d1", group.jid, {"subject": "Renamed", "announce": True})
            newcomer, restricted, nobody = "6285550001234", "6285550001277", "9995550001234"
            changes = await h.engine.update_group_participants(
                "d1",
                group.jid,
                "add",
                [f"{p}@s.whatsapp.net" for p in (newcomer, restricted, nobody, newcomer)],
            )
            assert [c.status for c in changes] == [
                "ok",
                "privacy_restricted",
                "not_on_whatsapp",
                "already_member",
            ]
            assert changes[0].phone == newcomer
            newcomer_jid = f"{newcomer}@s.whatsapp.net"
            promoted = await h.engine.update_group_participants(
                "d1", group.jid, "promote", [newcomer_jid]
            )
            assert [c.status for c in promoted] == ["ok"]
            [after] = [g for g in await h.engine.groups("d1") if g.jid == group.jid]
            assert after.name == "Renamed" and after.announce
            assert any(m.phone == newcomer and m.admin for m in after.members)
            removed = await h.engine.update_group_participants(
                "d1", group.jid, "remove", [newcomer_jid, f"{restricted}@s.whatsapp.net"]
            )
            assert [c.status for c in removed] == ["ok", "not_member"]
            await h.engine.leave_group("d1", group.jid)
            assert group.jid not in [g.jid for g in await h.engine.groups("d1")]
            assert await h.group_acts("d1") == [
                {"kind": "group_update", "group": group.jid, "subject": "Renamed"},
                {"kind": "group_update", "group": group.jid, "announce": True},
                {
                    "kind": "group_participants",
                    "group": group.jid,
                    "action": "add",
                    "participants": [newcomer_jid],
                },
                {
                    "kind": "group_participants",
                    "group": group.jid,
                    "action": "promote",
                    "participants": [newcomer_jid],
                },
                {
                    "kind": "group_participants",
                    "group": group.jid,
                    "action": "remove",
                    "participants": [newcomer_jid],
                },
                {"kind": "group_leave", "group": group.jid},
            ]

        self.run(scenario)

    def test_group_changes_need_a_known_group_and_admin_rights(self) -> None:
        """CONTRACT §8.3: an unknown group is `not_found`; nothing reaches the network."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            unknown = "120363999999999@g.us"
            for call in (
                h.engine.update_group("d1", unknown, {"subject": "x"}),
                h.engine.update_group_participants(
                    "d1", unknown, "add", ["6285550001234@s.whatsapp.net"]
                ),
                h.engine.leave_group("d1", unknown),
            ):
                try:
                    await call
                except EngineError as exc:
                    assert exc.code == "not_found"
                else:
                    raise AssertionError("a change to an unknown group went through")
            assert await h.group_acts("d1") == []

        self.run(scenario)

    def test_a_members_change_to_a_group_is_an_event(self) -> None:
        """CONTRACT §8.2: someone else's change of members is `group_participants`."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            group = (await h.engine.groups("d1"))[0].jid
            for action in ("add", "promote"):
                await h.someone_changes_group("d1", group, action, ["6285550004444"], "6281111")
            changes = [
                await wait_for(
                    h,
                    lambda e, a=action: isinstance(e, GroupChanged) and e.action == a,
                )
                for action in ("add", "promote")
            ]
            for change, action in zip(changes, ("add", "promote"), strict=True):
                assert isinstance(change, GroupChanged)
                assert (change.kind, change.group, change.action, change.by) == (
                    "group_participants",
                    group,
                    action,
                    "6281111",
                )
                assert change.participants == ("6285550004444",)

        self.run(scenario)

    def test_a_group_is_created_and_joined_by_its_invite_link(self) -> None:
        """CONTRACT §8.3: a new group has the account as admin and the participants that can
        be added; an invite link works until it is reset."""

        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            newcomer, restricted = "6285550005555", "6285550005577"
            created = await h.engine.create_group(
                "d1", "Arisan", [f"{newcomer}@s.whatsapp.net", f"{restricted}@s.whatsapp.net"]
            )
            assert created.jid.endswith("@g.us") and created.name == "Arisan"
            phones = {m.phone: m.admin for m in created.members}
            assert phones.get(PHONE) is True and phones.get(newcomer) is False
            assert restricted not in phones

            [group] = [
                g
                for g in await h.engine.groups("d1")
                if any(m.phone == PHONE and m.admin for m in g.members)
            ][:1]
            first = await h.engine.group_invite_link("d1", group.jid, reset=False)
            assert first.startswith(INVITE_LINK_PREFIX)
            assert await h.engine.group_invite_link("d1", group.jid, reset=False) == first
            second = await h.engine.group_invite_link("d1", group.jid, reset=True)
            assert second != first and second.startswith(INVITE_LINK_PREFIX)
            try:
                await h.engine.join_group("d1", first.removeprefix(INVITE_LINK_PREFIX))
            except EngineError as exc:
                assert exc.code == "not_found"
            else:
                raise AssertionError("a reset invite link still worked")
            joined = await h.engine.join_group("d1", second.removeprefix(INVITE_LINK_PREFIX))
            assert joined.jid == group.jid

        self.run(scenario)

    def test_history_is_handed_over_in_batches_up_to_the_sessions_limit(self) -> None:
        async def scenario(h: Harness) -> None:
            await link(h, "d1")
            await h.history_arrives("d1", 3, 40)  # no limit told: nothing handed over
            await h.engine.set_history_limit("d1", 1000)
            await h.history_arrives("d1", 3, 400)  # 1,200 sent
            batches = [e for e in h.events if isinstance(e, HistoryBatch)]
            assert batches and batches[-1].progress == 100
            assert all(0 < len(b.messages) <= HISTORY_BATCH_SIZE for b in batches[:-1])
            messages = [m for b in batches for m in b.messages]
            assert len(messages) == 1000
            assert len({m.wa_message_id for m in messages}) == 1000
            chats = {f"{6285500000000 + i}@s.whatsapp.net" for i in range(3)}
            assert {m.chat for m in messages} == chats
            assert sum(b.chats for b in batches) >= len(chats)
            own = [m for m in messages if m.from_me]
            theirs = [m for m in messages if not m.from_me]
            assert own and all(m.sender_phone == PHONE for m in own)
            assert theirs and all(m.sender_phone == m.chat.partition("@")[0] for m in theirs)
            assert all(m.push_name for m in theirs)
            assert all(
                m.type == "text" and str(m.content["text"]).startswith("history ") for m in messages
            )
            # the most recent chat's newest message is about a minute old
            newest = max(m.sent_at for m in messages if m.chat.startswith("6285500000000@"))
            assert timedelta(0) < datetime.now(UTC) - newest < timedelta(minutes=5)
            # the limit is used up: a later part hands over nothing more
            await h.history_arrives("d1", 1, 10)
            assert [e for e in h.events if isinstance(e, HistoryBatch)] == batches

        self.run(scenario)
