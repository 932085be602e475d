"""The whatsmeow backend's chat actions at the neonize boundary (read receipts, chat presence,
own presence), and the fake kept honest: every call the backend makes on a neonize client
binds to the real `NewAClient` method's signature (CONTRACT issue 17, item 7)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.engines.conformance import wait_for
from wagateway.engines.base import (
    QR_CODE_LIFETIMES,
    Connected,
    EngineError,
    EngineEvent,
    InboundMessage,
    IncomingCall,
    OutboundMessage,
    PollVote,
    QrCode,
)

fake_neonize = pytest.importorskip("tests.support.fake_neonize", reason="neonize is not installed")

from wagateway.engines.whatsmeow import neonize_loader  # noqa: E402
from wagateway.engines.whatsmeow.backend import WhatsmeowBackend  # noqa: E402

SCALE = 0.02
CHAT = "6285550001111@s.whatsapp.net"
PB = neonize_loader.module("neonize.proto.Neonize_pb2")
ENUM = neonize_loader.module("neonize.utils.enum")
# The fake's own helpers, not neonize's surface.
FAKE_INSIDES = {"link", "emit", "forget_session"}


class Recording:
    """A neonize client seen through what the backend calls on it: (name, args, kwargs)."""

    def __init__(self, client: Any, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]):
        self._client = client
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name == "event" or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, args, kwargs))
            return attr(*args, **kwargs)

        return call


async def _events_until(events: list[EngineEvent], predicate: Callable[[EngineEvent], bool]) -> Any:
    holder = type("H", (), {"events": events})()
    return await wait_for(holder, predicate)


def run(
    tmp_path: Path, scenario: Callable[..., Any], **config: Any
) -> list[tuple[str, tuple, dict]]:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def main() -> None:
        network = fake_neonize.FakeWhatsApp([t * SCALE for t in QR_CODE_LIFETIMES])

        def factory(store: str, uuid: str, new_device: bool, jid: str | None = None) -> Recording:
            return Recording(network.factory(store, uuid, new_device, jid), calls)

        backend = WhatsmeowBackend(
            {"store_dir": str(tmp_path), "time_scale": SCALE, **config}, client_factory=factory
        )
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        await backend.start(sink)
        try:
            await backend.begin_pairing("d1", 1)
            qr = await _events_until(events, lambda e: isinstance(e, QrCode))
            await network.scan(qr.code, "6281234567890")
            await _events_until(events, lambda e: isinstance(e, Connected))
            await scenario(backend, network, events)
        finally:
            await backend.shutdown()

    asyncio.run(main())
    return calls


def test_mark_read_sends_a_read_receipt_with_neonize_types(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        await backend.mark_read("d1", CHAT, CHAT, ("3EB0A", "3EB0B"))
        group = "120363000@g.us"
        await backend.mark_read("d1", group, "6285550002222@s.whatsapp.net", ("3EB0C",))
        assert [a for _, name, a in network.acts if name == "mark_read"] == [
            {"ids": ["3EB0A", "3EB0B"], "chat": CHAT, "sender": CHAT, "receipt": "READ"},
            {
                "ids": ["3EB0C"],
                "chat": group,
                "sender": "6285550002222@s.whatsapp.net",
                "receipt": "READ",
            },
        ]

        async def refused(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("MarkReadError: server said no")

        network.clients["d1"].mark_read = refused
        with pytest.raises(EngineError) as failed:
            await backend.mark_read("d1", CHAT, CHAT, ("3EB0D",))
        assert failed.value.code == "read_failed"

    calls = run(tmp_path, scenario)
    name, args, kwargs = next(c for c in calls if c[0] == "mark_read")
    assert args == ("3EB0A", "3EB0B")
    assert isinstance(kwargs["chat"], PB.JID) and isinstance(kwargs["sender"], PB.JID)
    assert kwargs["receipt"] is ENUM.ReceiptType.READ


def test_presences_use_neonize_enums(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        for state in ("typing", "recording", "paused"):
            await backend.send_chat_presence("d1", CHAT, state)
        await backend.send_presence("d1", "available")
        await backend.send_presence("d1", "unavailable")
        with pytest.raises(EngineError) as offline:
            await backend.send_presence("nobody", "available")
        assert offline.value.code == "not_connected"

    calls = run(tmp_path, scenario)
    chat = [c for c in calls if c[0] == "send_chat_presence"]
    assert [(args[1], args[2]) for _, args, _ in chat] == [
        (
            ENUM.ChatPresence.CHAT_PRESENCE_COMPOSING,
            ENUM.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT,
        ),
        (
            ENUM.ChatPresence.CHAT_PRESENCE_COMPOSING,
            ENUM.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO,
        ),
        (ENUM.ChatPresence.CHAT_PRESENCE_PAUSED, ENUM.ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
    ]
    assert all(isinstance(args[0], PB.JID) for _, args, _ in chat)
    own = [args[0] for name, args, _ in calls if name == "send_presence"]
    assert own == [ENUM.Presence.AVAILABLE, ENUM.Presence.UNAVAILABLE]


def test_edit_and_revoke_send_neonize_protocol_messages(tmp_path: Path) -> None:
    e2e = neonize_loader.module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")
    group = "120363000@g.us"

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        await backend.edit_message("d1", CHAT, "3EB0A", {"text": "baru"})
        await backend.edit_message("d1", CHAT, "3EB0B", {"caption": "foto baru", "type": "image"})
        await backend.revoke_message("d1", CHAT, "6281234567890@s.whatsapp.net", "3EB0A")
        await backend.revoke_message("d1", group, "6285550002222@s.whatsapp.net", "3EB0C")
        assert [a for _, name, a in network.acts if name in ("edit", "revoke")] == [
            {"id": "3EB0A", "chat": CHAT, "text": "baru"},
            {"id": "3EB0B", "chat": CHAT, "text": "foto baru"},
            {"id": "3EB0A", "chat": CHAT, "from_me": True, "participant": ""},
            {
                "id": "3EB0C",
                "chat": group,
                "from_me": False,
                "participant": "6285550002222@s.whatsapp.net",
            },
        ]

        async def refused(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("websocket not connected")

        network.clients["d1"].send_message = refused
        with pytest.raises(EngineError) as edit:
            await backend.edit_message("d1", CHAT, "3EB0A", {"text": "x"})
        with pytest.raises(EngineError) as revoke:
            await backend.revoke_message("d1", CHAT, CHAT, "3EB0A")
        assert (edit.value.code, revoke.value.code) == ("edit_failed", "revoke_failed")

    calls = run(tmp_path, scenario)
    sent = [args[1] for name, args, _ in calls if name == "send_message"]
    assert all(isinstance(m, e2e.Message) for m in sent)
    edit = sent[1].editedMessage.message.protocolMessage
    assert edit.type == e2e.ProtocolMessage.MESSAGE_EDIT
    assert edit.editedMessage.imageMessage.caption == "foto baru"
    assert sent[2].protocolMessage.type == e2e.ProtocolMessage.REVOKE


CALLER = "6285550003333"


def test_calls_map_from_neonize_call_events_and_are_rejected_with_reject_call(
    tmp_path: Path,
) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        def states(call_id: str) -> list[str]:
            return [e.state for e in events if isinstance(e, IncomingCall) and e.call_id == call_id]

        # A group video call (whatsmeow: CallOfferNotice), unanswered: offer, then missed.
        group = await network.contact_calls("d1", CALLER, video=True, group=True)
        await network.call_over("d1", group)
        # A voice call answered on the phone: offer, accepted (CallAccept), ended.
        answered = await network.contact_calls("d1", CALLER, answered=True)
        await network.call_over("d1", answered)
        # A call the device rejects: its end (CallTerminate) is no news.
        rejected = await network.contact_calls("d1", CALLER, ring_seconds=0.2)
        offer = await _events_until(
            events, lambda e: isinstance(e, IncomingCall) and e.call_id == rejected
        )
        await backend.reject_call("d1", rejected, offer.caller)
        await network.call_over("d1", rejected)
        assert (states(group), states(answered), states(rejected)) == (
            ["offer", "missed"],
            ["offer", "accepted", "ended"],
            ["offer"],
        )
        first = next(e for e in events if isinstance(e, IncomingCall) and e.call_id == group)
        lid = f"{str(int(CALLER) * 7)[:15]}@lid"  # the fake's CallCreatorAlt
        assert (first.caller, first.caller_phone, first.caller_lid) == (
            f"{CALLER}@s.whatsapp.net",  # the CallCreator, not the caller's device (From)
            CALLER,
            lid,
        )
        assert (first.video, first.group) == (True, True)
        ended = [e for e in events if isinstance(e, IncomingCall) and e.call_id == answered]
        assert all((e.video, e.group) == (False, False) for e in ended)
        assert [a for _, name, a in network.acts if name == "reject_call"] == [
            {"call_id": rejected, "to": f"{CALLER}@s.whatsapp.net"}
        ]

        async def refused(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("RejectCallError: server said no")

        network.clients["d1"].reject_call = refused
        with pytest.raises(EngineError) as failed:
            await backend.reject_call("d1", rejected, offer.caller)
        assert failed.value.code == "reject_failed"

    calls = run(tmp_path, scenario)
    name, args, kwargs = next(c for c in calls if c[0] == "reject_call")
    jid, call_id = args
    assert isinstance(jid, PB.JID) and (jid.User, jid.Server) == (CALLER, "s.whatsapp.net")
    assert isinstance(call_id, str) and not kwargs


def test_a_video_call_offer_maps_from_its_offer_node() -> None:
    """`CallOfferEv` as whatsmeow builds it: the `<offer>` node's `<video>` child makes a video
    call, a `group-jid` attribute a group one; a LID caller keeps its phone from the Alt."""
    from wagateway.engines.whatsmeow import mapping

    meta = PB.BasicCallMeta(
        **{"from": PB.JID(User="555", Server="lid", Device=2)},
        timestamp=1_700_000_000,
        callCreator=PB.JID(User="555", Server="lid"),
        callCreatorAlt=PB.JID(User=CALLER, Server="s.whatsapp.net"),
        callID="CALL1",
    )
    offer = PB.Node(
        Tag="offer",
        Attrs=[PB.NodeAttrs(name="group-jid", jid=PB.JID(User="120363000", Server="g.us"))],
        Nodes=[PB.Node(Tag="audio"), PB.Node(Tag="video")],
    )
    call = mapping.call_offer("d1", 4, fake_neonize.EV.CallOfferEv(basicCallMeta=meta, data=offer))
    assert (call.call_id, call.caller, call.caller_phone, call.caller_lid) == (
        "CALL1",
        "555@lid",
        CALLER,
        "555@lid",
    )
    assert (call.state, call.video, call.group, call.epoch) == ("offer", True, True, 4)
    assert call.at is not None and int(call.at.timestamp()) == 1_700_000_000
    voice = PB.Node(Tag="offer", Nodes=[PB.Node(Tag="audio")])
    plain = mapping.call_offer("d1", 4, fake_neonize.EV.CallOfferEv(basicCallMeta=meta, data=voice))
    assert (plain.video, plain.group) == (False, False)


def test_every_neonize_call_the_backend_makes_binds_to_the_real_signature(tmp_path: Path) -> None:
    """The fake must not drift from neonize: whatever the backend passes to the fake, it
    would pass to `NewAClient`, and neonize must accept it."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(100))

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        def out(kind: str, content: dict[str, Any], media: bytes | None = None) -> OutboundMessage:
            return OutboundMessage("3EB0OURS", CHAT, kind, content, media, reply_to="3EB0Q")

        await backend.send("d1", out("text", {"text": "hi"}))
        await backend.send("d1", out("image", {"mime_type": "image/png"}, png))
        poll = await backend.send(
            "d1", out("interactive", {"poll_question": "?", "poll_options": ["a"]})
        )
        await backend.send_typing("d1", CHAT, 1.0)
        await backend.send_chat_presence("d1", CHAT, "recording")
        await backend.send_presence("d1", "available")
        await backend.mark_read("d1", CHAT, CHAT, ("3EB0A",))
        await backend.edit_message("d1", CHAT, "3EB0A", {"text": "baru"})
        await backend.revoke_message("d1", CHAT, "6281234567890@s.whatsapp.net", "3EB0A")
        await backend.groups("d1")
        await backend.profile("d1", CHAT)
        await backend.subscribe_presence("d1", CHAT)
        await backend.check_contacts("d1", ["6285550001111"])
        network.clients["d1"].contact.push_names["98765432101234@lid"] = "Hanya LID"
        known = await backend.contacts("d1")
        assert [(c.jid, c.phone, c.lid, c.push_name) for c in known] == [
            ("98765432101234@lid", None, "98765432101234@lid", "Hanya LID")
        ]
        await network.contact_sends_image("d1", "6285550001111", png, "lihat")
        await _events_until(events, lambda e: isinstance(e, InboundMessage))
        await network.contact_votes("d1", "6285550001111", poll.wa_message_id, ["a"])
        await _events_until(events, lambda e: isinstance(e, PollVote))
        call_id = await network.contact_calls("d1", "6285550001111", ring_seconds=5.0)
        offer = await _events_until(events, lambda e: isinstance(e, IncomingCall))
        await backend.reject_call("d1", call_id, offer.caller)
        await backend.update_own_profile("d1", name="Shop", about="Buka", picture=png)
        await backend.set_blocked("d1", CHAT, True)
        await backend.blocklist("d1")
        group = "120363000@g.us"
        await backend.update_group(
            "d1",
            group,
            {"subject": "Toko", "description": "Buka", "announce": True, "locked": True},
        )
        await backend.update_group_participants(
            "d1", group, "add", ["6285550001111@s.whatsapp.net"]
        )
        await backend.create_group("d1", "Arisan", ["6285550005555@s.whatsapp.net"])
        invite = await backend.group_invite_link("d1", group, reset=True)
        await backend.join_group("d1", invite.rsplit("/", 1)[-1])
        await backend.leave_group("d1", group)
        await backend.begin_pairing("d2", 1)
        await _events_until(events, lambda e: isinstance(e, QrCode) and e.device_id == "d2")
        await backend.request_pairing_code("d2", 1, "6289876543210")
        await backend.logout("d1")

    calls = run(tmp_path, scenario)
    client_class = neonize_loader.module("neonize.aioze.client").NewAClient
    made = {name for name, _, _ in calls}
    for name, args, kwargs in calls:
        method = getattr(client_class, name, None)
        assert method is not None, f"neonize's NewAClient has no {name}"
        try:
            inspect.signature(method).bind(None, *args, **kwargs)
        except TypeError as exc:
            raise AssertionError(f"{name}{args!r} {kwargs!r} does not fit neonize: {exc}") from exc
    # Every neonize call the fake offers was made here, so all of them were checked.
    offered = {
        name
        for name, member in inspect.getmembers(fake_neonize.FakeClient, inspect.isfunction)
        if not name.startswith("_") and name not in FAKE_INSIDES
    }
    assert offered <= made, f"not exercised: {sorted(offered - made)}"
    assert {"mark_read", "send_chat_presence", "send_presence"} <= made
    assert {"build_revoke", "send_message"} <= made
    assert "reject_call" in made


def test_presence_mode_subscription_and_profile_at_the_neonize_boundary(tmp_path: Path) -> None:
    """always_online: send_presence(Presence.AVAILABLE) once connected; on_demand wraps
    subscribe_presence(JID) in AVAILABLE … UNAVAILABLE; the profile's picture comes from
    get_profile_picture(JID), its name from the contact store's push name (get_contact)."""
    contact_calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        store = network.clients["d1"].contact
        real_get_contact = store.get_contact

        async def get_contact(*args: Any, **kwargs: Any) -> Any:
            contact_calls.append((args, kwargs))
            return await real_get_contact(*args, **kwargs)

        store.get_contact = get_contact
        await backend.set_presence_mode("d1", "on_demand")
        assert network.acts == [], "on_demand shows nothing at connect"
        await backend.subscribe_presence("d1", CHAT)
        await backend.set_presence_mode("d1", "always_online")
        await backend.subscribe_presence("d1", CHAT)
        await network.contact_writes("d1", "6285550001111", "halo")
        message = await _events_until(events, lambda e: isinstance(e, InboundMessage))
        profile = await backend.profile("d1", CHAT)
        assert profile.name == message.push_name == "Contact 1111"
        assert profile.picture_url == "https://pps.whatsapp.net/v/t61/6285550001111.jpg"

        async def refused(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("SubscribePresenceError: server said no")

        network.clients["d1"].subscribe_presence = refused
        with pytest.raises(EngineError) as failed:
            await backend.subscribe_presence("d1", CHAT)
        assert failed.value.code == "presence_failed"

        async def private(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("GetProfilePictureError: 401 not-authorized")

        network.clients["d1"].get_profile_picture = private
        assert (await backend.profile("d1", CHAT)).picture_url is None, "hidden: no picture"

    calls = run(tmp_path, scenario)
    made = [(n, a) for n, a, _ in calls if n in ("send_presence", "subscribe_presence")]
    presence = ENUM.Presence
    assert [(n, a[0] if n == "send_presence" else None) for n, a in made][:5] == [
        ("send_presence", presence.AVAILABLE),
        ("subscribe_presence", None),
        ("send_presence", presence.UNAVAILABLE),
        ("send_presence", presence.AVAILABLE),  # always_online, at once
        ("subscribe_presence", None),  # not wrapped: online already
    ]
    jids = [a[0] for n, a, _ in calls if n in ("subscribe_presence", "get_profile_picture")]
    assert all(isinstance(j, PB.JID) and f"{j.User}@{j.Server}" == CHAT for j in jids)
    client_module = neonize_loader.module("neonize.aioze.client")
    for name, args, kwargs in calls:
        if name in ("send_presence", "subscribe_presence", "get_profile_picture"):
            inspect.signature(getattr(client_module.NewAClient, name)).bind(None, *args, **kwargs)
    assert contact_calls and all(isinstance(args[0], PB.JID) for args, _ in contact_calls)
    for args, kwargs in contact_calls:
        inspect.signature(client_module.ContactStore.get_contact).bind(None, *args, **kwargs)


def test_always_online_tries_again_while_whatsmeow_has_no_push_name(tmp_path: Path) -> None:
    """Just after pairing whatsmeow refuses presence until the phone's app state brings the
    account's push name (ErrNoPushName): always_online sends AVAILABLE again a little later; an
    on_demand subscription is made all the same."""

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        client = network.clients["d1"]
        real_send_presence = client.send_presence
        refusals = []

        async def no_push_name_yet(presence: Any) -> None:
            if len(refusals) < 2:
                refusals.append(presence)
                raise RuntimeError("SendPresenceError: can't send presence without PushName set")
            await real_send_presence(presence)

        client.send_presence = no_push_name_yet
        await backend.subscribe_presence("d1", CHAT)  # on_demand: AVAILABLE refused
        assert [n for _, n, _ in network.acts] == ["subscribe_presence"]
        await backend.set_presence_mode("d1", "always_online")  # refused, then retried
        for _ in range(500):
            if len(network.acts) >= 3:
                break
            await asyncio.sleep(0.01)
        assert [(n, a) for _, n, a in network.acts] == [
            ("subscribe_presence", {"jid": CHAT}),
            ("send_presence", {"presence": "AVAILABLE"}),
            ("subscribe_presence", {"jid": CHAT}),  # renewed once online
        ]
        assert len(refusals) == 2

    run(tmp_path, scenario, presence_retry_delays=[0.01, 0.01])
