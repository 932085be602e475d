"""A stand-in for neonize's `NewAClient`, at the neonize boundary, for the whatsmeow engine.

It offers the surface the backend uses (`event(...)` registration, `event.qr`, `connect`
returning a task, `PairPhone`, `get_me`, `send_message`, `logout`, `stop`) and emits the
**same event objects neonize emits**, built from neonize's own protobuf classes
(`Neonize_pb2`, `WAWebProtobufsE2E_pb2`). Like neonize, each event reaches its handler as a
task of its own. `FakeWhatsApp` plays the phone and the servers: it knows which store holds
a paired session (a small JSON file at the store path, so erasing the store erases the
session), turns a scanned QR or an entered code into a link, and can unlink, drop the
socket, or deliver a contact's message.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from wagateway.engines.base import QR_CODE_LIFETIMES
from wagateway.engines.whatsmeow import neonize_loader

EV = neonize_loader.events()
PB = neonize_loader.module("neonize.proto.Neonize_pb2")
E2E = neonize_loader.module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")


class FakeNeonizeError(Exception):
    pass


def phone_of(device_id: str) -> str:
    """The phone number an auto-linking fake pairs a device with (stable per device)."""
    return "628" + str(int(hashlib.sha256(device_id.encode()).hexdigest(), 16))[:9]


_AUTO_NETWORK: FakeWhatsApp | None = None


def auto_linking_client(
    store: str, uuid: str, new_device: bool, jid: str | None = None
) -> FakeClient:
    """`WAGW_WHATSMEOW_CLIENT_FACTORY` for whole-gateway tests: one auto-linking fake network
    per worker process, recording sends under $FAKE_NEONIZE_DIR."""
    global _AUTO_NETWORK
    if _AUTO_NETWORK is None:
        _AUTO_NETWORK = FakeWhatsApp(
            list(QR_CODE_LIFETIMES),
            auto_link=True,
            record_dir=Path(os.environ["FAKE_NEONIZE_DIR"]),
            receipts_first=os.environ.get("FAKE_NEONIZE_RECEIPTS_FIRST") == "1",
        )
    return _AUTO_NETWORK.factory(store, uuid, new_device, jid=jid)


def push_name_of(phone: str) -> str:
    """The push name a fake contact's messages carry."""
    return f"Contact {phone[-4:]}"


def picture_url_of(phone: str) -> str:
    """A fake contact's profile picture URL (numbers ending in 0 have none)."""
    return f"https://pps.whatsapp.net/v/t61/{phone}.jpg"


class _ContactStore:
    """neonize's `client.contact` (ContactStore): what whatsmeow's store knows of contacts."""

    def __init__(self) -> None:
        self.push_names: dict[str, str] = {}

    async def get_contact(self, user: Any) -> Any:
        name = self.push_names.get(user.User)
        return PB.ContactInfo(Found=name is not None, PushName=name or "")

    async def get_all_contacts(self) -> list[Any]:
        """Every contact in whatsmeow's store (neonize's `Contact` messages), by phone JID (a
        key ending `@lid`: by LID, as whatsmeow keeps contacts it knows only by LID)."""
        return [
            PB.Contact(
                JID=_jid(user.removesuffix("@lid"), "lid") if user.endswith("@lid") else _jid(user),
                Info=PB.ContactInfo(Found=True, PushName=name),
            )
            for user, name in self.push_names.items()
        ]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The lines of a record file the fake network keeps (none yet: empty)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    return PB.JID(User=user, Server=server, Device=device, IsEmpty=False)


def history_sync(chats: int, per_chat: int, progress: int) -> Any:
    """What whatsmeow hands over as `HistorySyncEv.Data`: a waHistorySync `HistorySync` of
    `chats` one-to-one conversations (the most recent first, with contacts 62855… as the
    sandbox's), each of `per_chat` messages (`WebMessageInfo`) a minute apart, the contact's
    and the account's (`fromMe`) in turn, newest first as WhatsApp lists them."""
    history = neonize_loader.module("neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2")
    web = neonize_loader.module("neonize.proto.waWeb.WAWebProtobufsWeb_pb2")
    common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
    now = int(time.time())
    conversations = []
    for chat_index in range(chats):
        phone = str(6285500000000 + chat_index)
        chat = f"{phone}@s.whatsapp.net"
        newest = now - 3600 * chat_index - 60
        entries = []
        for n in reversed(range(per_chat)):
            own = n % 2 == 1
            info = web.WebMessageInfo(
                key=common.MessageKey(
                    remoteJID=chat, fromMe=own, ID=f"3EB0H{chat_index:06d}{n:06d}"
                ),
                message=E2E.Message(conversation=f"history {chat_index}/{n}"),
                messageTimestamp=newest - 60 * (per_chat - 1 - n),
                pushName="" if own else push_name_of(phone),
            )
            entries.append(history.HistorySyncMsg(message=info, msgOrderID=n))
        conversations.append(history.Conversation(ID=chat, messages=entries))
    return history.HistorySync(
        syncType=history.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
        conversations=conversations,
        progress=progress,
        chunkOrder=1,
    )


class _EventRegistry:
    def __init__(self) -> None:
        self.handlers: dict[type[Any], Callable[[Any, Any], Awaitable[None]]] = {}
        self.qr_handler: Callable[[Any, bytes], Awaitable[None]] | None = None

    def __call__(self, event_type: type[Any]) -> Callable[[Any], None]:
        def register(func: Callable[[Any, Any], Awaitable[None]]) -> None:
            self.handlers[event_type] = func  # one handler per type, as in neonize

        return register

    def qr(self, func: Callable[[Any, bytes], Awaitable[None]]) -> None:
        self.qr_handler = func


class FakeWhatsApp:
    """The phone and the servers for every fake client of a test."""

    def __init__(
        self,
        qr_lifetimes: list[float],
        *,
        online: bool = True,
        auto_link: bool = False,
        record_dir: Path | None = None,
        receipts_first: bool = False,
    ) -> None:
        self.qr_lifetimes = qr_lifetimes
        # The recipient reads before the sender's own send call returns (it can, on a busy
        # host): the gateway hears of the receipt before it knows the message id.
        self.receipts_first = receipts_first
        self.online = online
        # Whole-gateway tests: each pairing links by itself after its first QR (the phone is
        # the device's own), every send is appended to record_dir/sent.jsonl (it survives a
        # killed worker) and answered with delivered and read receipts.
        self.auto_link = auto_link
        self.record_dir = record_dir
        self.clients: dict[str, FakeClient] = {}  # uuid (device id) -> live client
        self.device_numbers = itertools.count(11)
        self.sent: list[tuple[str, str, Any]] = []  # (device id, to, waE2E Message or text)
        self.uploads: dict[bytes, bytes] = {}  # FileSHA256 -> the bytes uploaded
        self.presences: list[tuple[str, str, str]] = []  # (device id, to user, state)
        # Chat actions as the servers saw them: (device id, neonize method, its arguments).
        self.acts: list[tuple[str, str, dict[str, Any]]] = []
        # ids of the polls the devices sent: whatsmeow keeps their secrets, so it can decrypt
        # votes on these and no others
        self.poll_ids: set[str] = set()
        self.rings: dict[str, asyncio.Future[None]] = {}  # call id -> its ring (contact_calls)
        # Contacts' presence as the servers know it: phone -> (unavailable, last seen).
        self.contact_presences: dict[str, tuple[bool, int]] = {}
        # Per device: the JIDs it blocked (update_blocklist), and how many times a client
        # of it connected (a restart is a stop and a new client's connect).
        self.blocklists: dict[str, list[str]] = {}
        self.connects: dict[str, int] = {}
        # The group 120363000@g.us per device, as the servers keep it: device id -> member
        # user -> (server, phone, admin); absent until first asked for; None once left.
        self.group_members: dict[str, dict[str, tuple[str, str | None, bool]] | None] = {}
        self.group_settings: dict[str, dict[str, Any]] = {}
        self.invite_codes: dict[str, str] = {}  # group user -> its invite link's code

    def factory(
        self, store: str, uuid: str, new_device: bool, jid: str | None = None
    ) -> FakeClient:
        client = FakeClient(self, store, uuid, new_device, jid)
        self.clients[uuid] = client
        return client

    # the phone
    async def scan(self, qr: str, phone: str) -> None:
        client = next(c for c in self.clients.values() if qr in c.shown_qrs)
        await client.link(phone, next(self.device_numbers))

    async def enter_code(self, code: str) -> None:
        client = next(c for c in self.clients.values() if code in c.codes)
        await client.link(client.codes[code], next(self.device_numbers))

    async def phone_logout(self, device_id: str) -> None:
        client = self.clients[device_id]
        await client.forget_session()  # whatsmeow deletes the device's rows
        client.emit(EV.LoggedOutEv(OnConnect=False, Reason=2))  # LOGGED_OUT

    async def drop(self, device_id: str) -> None:
        client = self.clients[device_id]
        client.emit(EV.DisconnectedEv(status=True))
        # the servers forget the old connection's presence and subscriptions
        client.available = False
        client.subscribed.clear()
        await asyncio.sleep(0.05)
        client.emit(EV.ConnectedEv(status=True))  # whatsmeow reconnects a linked session

    async def contact_sends_image(
        self, device_id: str, sender_phone: str, data: bytes, caption: str
    ) -> None:
        digest = hashlib.sha256(data).digest()
        self.uploads[digest] = data
        image = E2E.ImageMessage(
            mimetype="image/png", caption=caption, fileSHA256=digest, fileLength=len(data)
        )
        self._deliver(device_id, sender_phone, E2E.Message(imageMessage=image))

    async def contact_writes(self, device_id: str, sender_phone: str, text: str) -> None:
        self._deliver(device_id, sender_phone, E2E.Message(conversation=text))

    async def contact_forwards(self, device_id: str, sender_phone: str, text: str) -> None:
        """The contact forwards a text: WhatsApp sends it as an extended text whose context
        says forwarded."""
        context = E2E.ContextInfo(isForwarded=True, forwardingScore=1)
        ext = E2E.ExtendedTextMessage(text=text, contextInfo=context)
        self._deliver(device_id, sender_phone, E2E.Message(extendedTextMessage=ext))

    async def contact_revokes(self, device_id: str, sender_phone: str, wa_message_id: str) -> None:
        """The contact deletes its message for everyone: a REVOKE protocol message."""
        common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
        protocol = E2E.ProtocolMessage(
            type=0,  # REVOKE
            key=common.MessageKey(
                remoteJID=f"{sender_phone}@s.whatsapp.net", fromMe=False, ID=wa_message_id
            ),
        )
        self._deliver(device_id, sender_phone, E2E.Message(protocolMessage=protocol))

    async def contact_edits(
        self, device_id: str, sender_phone: str, wa_message_id: str, text: str
    ) -> None:
        """The contact edits its text: a MESSAGE_EDIT protocol message, as whatsmeow hands it
        on once unwrapped (`IsEdit`)."""
        common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
        protocol = E2E.ProtocolMessage(
            type=14,  # MESSAGE_EDIT
            key=common.MessageKey(
                remoteJID=f"{sender_phone}@s.whatsapp.net", fromMe=False, ID=wa_message_id
            ),
            editedMessage=E2E.Message(conversation=text),
            timestampMS=int(time.time() * 1000),
        )
        self._deliver(device_id, sender_phone, E2E.Message(protocolMessage=protocol))

    async def contact_votes(
        self, device_id: str, voter_phone: str, poll_wa_message_id: str, options: list[str]
    ) -> None:
        """The contact votes: a pollUpdateMessage naming the poll, its vote encrypted with the
        poll's secret (here: the PollVoteMessage's bytes, which the fake decrypts)."""
        common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
        vote = E2E.PollVoteMessage(
            selectedOptions=[hashlib.sha256(o.encode()).digest() for o in options]
        )
        update = E2E.PollUpdateMessage(
            pollCreationMessageKey=common.MessageKey(ID=poll_wa_message_id, fromMe=True),
            vote=E2E.PollEncValue(encPayload=vote.SerializeToString(), encIV=b"0" * 12),
            senderTimestampMS=int(time.time() * 1000),
        )
        self._deliver(device_id, voter_phone, E2E.Message(pollUpdateMessage=update))

    async def contact_taps_button(
        self, device_id: str, sender_phone: str, reply_to: str, selected_id: str, text: str
    ) -> None:
        context = E2E.ContextInfo(stanzaID=reply_to)
        reply = E2E.ButtonsResponseMessage(
            selectedButtonID=selected_id, selectedDisplayText=text, contextInfo=context
        )
        self._deliver(device_id, sender_phone, E2E.Message(buttonsResponseMessage=reply))

    async def contact_picks_row(
        self, device_id: str, sender_phone: str, reply_to: str, row_id: str, title: str
    ) -> None:
        row = E2E.ListResponseMessage(
            title=title,
            listType=1,  # SINGLE_SELECT
            singleSelectReply=E2E.ListResponseMessage.SingleSelectReply(selectedRowID=row_id),
            contextInfo=E2E.ContextInfo(stanzaID=reply_to),
        )
        self._deliver(device_id, sender_phone, E2E.Message(listResponseMessage=row))

    async def contact_chat_presence(self, device_id: str, sender_phone: str, state: str) -> None:
        """The contact types (COMPOSING, text), records audio (COMPOSING, audio) or pauses."""
        composing, paused, text, audio = 1, 2, 1, 2  # ChatPresenceEv.State / .Media
        source = PB.MessageSource(
            Chat=_jid(sender_phone), Sender=_jid(sender_phone), IsFromMe=False, IsGroup=False
        )
        self.clients[device_id].emit(
            EV.ChatPresenceEv(
                MessageSource=source,
                State=paused if state == "paused" else composing,
                Media=audio if state == "recording" else text,
            )
        )

    async def someone_changes_group(
        self, device_id: str, group: str, action: str, participants: list[str], by: str
    ) -> None:
        """A member changes the group: whatsmeow's GroupInfo notification (Join, Leave,
        Promote or Demote)."""
        lists = {"add": "Join", "remove": "Leave", "promote": "Promote", "demote": "Demote"}
        user, _, server = group.partition("@")
        self.clients[device_id].emit(
            EV.GroupInfoEv(
                JID=_jid(user, server),
                Sender=_jid(by),
                **{lists[action]: [_jid(p) for p in participants]},
            )
        )

    async def owner_writes(
        self, device_id: str, to_phone: str, text: str, wa_message_id: str | None = None
    ) -> None:
        """The account's owner writes from the phone (or WhatsApp hands a client its own send
        back, with that send's `wa_message_id`): whatsmeow reports it `IsFromMe`, with the
        recipient as `Chat` and the account as `Sender`."""
        client = self.clients[device_id]
        session = client._session()
        assert session, "only a linked device hears of the account's own messages"
        source = PB.MessageSource(
            Chat=_jid(to_phone), Sender=_jid(session["phone"]), IsFromMe=True, IsGroup=False
        )
        info = PB.MessageInfo(
            MessageSource=source,
            ID=wa_message_id or "3EB0" + secrets.token_hex(8).upper(),
            Timestamp=int(time.time()),
            Pushname="Shop",
        )
        client.emit(EV.MessageEv(Info=info, Message=E2E.Message(conversation=text)))

    async def contact_calls(
        self,
        device_id: str,
        caller_phone: str,
        *,
        video: bool = False,
        group: bool = False,
        answered: bool = False,
        ring_seconds: float = 0.05,
    ) -> str:
        """The contact calls the device: a CallOffer (a group call as whatsmeow hands it on:
        CallOfferNotice), whose `<offer>` node has a `<video>` child for a video call. After
        the ring: answered on the phone (CallAccept, then CallTerminate), or unanswered
        (CallTerminate, reason "timeout"); also after the device rejected it. Returns the
        call id."""
        call_id = secrets.token_hex(16).upper()
        creator = _jid(caller_phone)
        meta = PB.BasicCallMeta(
            **{"from": _jid(caller_phone, device=3)},
            timestamp=int(time.time()),
            callCreator=creator,
            callCreatorAlt=_jid(str(int(caller_phone) * 7)[:15], "lid"),
            callID=call_id,
        )
        attrs = [
            PB.NodeAttrs(name="call-id", text=call_id),
            PB.NodeAttrs(name="call-creator", jid=creator),
        ]
        media = [PB.Node(Tag="audio", Attrs=[PB.NodeAttrs(name="enc", text="opus")])]
        if video:
            media.append(PB.Node(Tag="video", Attrs=[PB.NodeAttrs(name="enc", text="vp8")]))
        client = self.clients[device_id]
        if group:
            notice = PB.Node(Tag="offer_notice", Attrs=attrs)
            client.emit(
                EV.CallOfferNoticeEv(
                    basicCallMeta=meta,
                    media="video" if video else "audio",
                    type="group",
                    data=notice,
                )
            )
        else:
            offer = PB.Node(Tag="offer", Attrs=attrs, Nodes=media)
            remote = PB.CallRemoteMeta(remotePlatform="android", remoteVersion="2.24.1")
            client.emit(EV.CallOfferEv(basicCallMeta=meta, callRemoteMeta=remote, data=offer))
        ring = asyncio.ensure_future(self._ring(client, meta, answered, ring_seconds))
        self.rings[call_id] = ring
        return call_id

    async def call_over(self, device_id: str, call_id: str) -> None:
        """Until the call's ring ended and the client's handlers of its events returned."""
        await self.rings.pop(call_id)
        await asyncio.gather(*list(self.clients[device_id]._tasks))

    @staticmethod
    async def _ring(client: FakeClient, meta: Any, answered: bool, ring_seconds: float) -> None:
        await asyncio.sleep(ring_seconds)
        if answered:
            client.emit(EV.CallAcceptEv(basicCallMeta=meta))
            await asyncio.sleep(ring_seconds)
        reason = "" if answered else "timeout"
        client.emit(EV.CallTerminateEv(basicCallMeta=meta, reason=reason))

    async def contact_presence(
        self, device_id: str, sender_phone: str, available: bool, last_seen: int = 0
    ) -> bool:
        """The contact comes online or goes offline: the servers send a PresenceEv only to a
        client that subscribed to the contact and sent `available` (as WhatsApp does);
        returns whether they did."""
        self.contact_presences[sender_phone] = (not available, last_seen)
        client = self.clients[device_id]
        if sender_phone not in client.subscribed or not client.available:
            return False
        client.emit(
            EV.PresenceEv(From=_jid(sender_phone), Unavailable=not available, LastSeen=last_seen)
        )
        return True

    async def owner_reads(
        self, device_id: str, chat_phone: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        """The owner reads the chat on the phone: whatsmeow hands the linked device a
        read-self receipt (ReceiptEv Type READ_SELF) from the account's own JID."""
        client = self.clients[device_id]
        session = client._session()
        assert session, "only a linked device hears of the owner's reads"
        source = PB.MessageSource(
            Chat=_jid(chat_phone), Sender=_jid(session["phone"]), IsFromMe=True, IsGroup=False
        )
        client.emit(
            EV.ReceiptEv(
                MessageSource=source,
                MessageIDs=list(wa_message_ids),
                Timestamp=int(time.time()),
                Type=5,
            )
        )

    async def sends_history(self, device_id: str, chats: int, per_chat: int) -> None:
        """WhatsApp sends the linked device its history: one `HistorySyncEv`, handled before
        this returns."""
        client = self.clients[device_id]
        session = client._session()
        assert session, "only a linked device is sent history"
        handler = client.event.handlers.get(EV.HistorySyncEv)
        if handler is not None:
            data = history_sync(chats, per_chat, 100)
            await handler(client, EV.HistorySyncEv(Data=data))

    def _deliver(self, device_id: str, sender_phone: str, message: Any) -> None:
        source = PB.MessageSource(
            Chat=_jid(sender_phone), Sender=_jid(sender_phone), IsFromMe=False, IsGroup=False
        )
        info = PB.MessageInfo(
            MessageSource=source,
            ID="3EB0" + secrets.token_hex(8).upper(),
            Timestamp=int(time.time()),
            Pushname=push_name_of(sender_phone),
        )
        client = self.clients[device_id]
        # whatsmeow saves the push name of every message in its contact store
        client.contact.push_names[sender_phone] = push_name_of(sender_phone)
        client.emit(EV.MessageEv(Info=info, Message=message))


class FakeClient:
    """One client. Its session is whatsmeow's store as far as the gateway can tell: a JSON
    file at the store's path (a store per device), or, on a shared PostgreSQL store, a row
    of `whatsmeow_device` keyed by the device JID the client was given (created at pairing,
    read at connect) — so another node's client, given the same JID, resumes it."""

    def __init__(
        self,
        network: FakeWhatsApp,
        store: str,
        uuid: str,
        new_device: bool,
        jid: str | None = None,
    ) -> None:
        self.network = network
        self.shared_store = store if store.startswith("postgres") else None
        self.store = store.split("?", 1)[0]
        self.uuid = uuid
        self.new_device = new_device
        self.jid = jid
        self._row: dict[str, Any] | None = None  # the shared store's session, as last read
        self._live = False  # a session is open on the servers (until stop)
        self.event = _EventRegistry()
        self.shown_qrs: list[str] = []
        self.codes: dict[str, str] = {}
        self.stopped = False
        self._stopped = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.contact = _ContactStore()
        # the account's own presence as last sent, and the contacts it subscribed to
        self.available = False
        self.subscribed: set[str] = set()

    # neonize's surface
    async def connect(self) -> asyncio.Task[None]:
        if self.shared_store is not None:
            await self._open_shared_store()
        else:
            Path(self.store).touch()  # whatsmeow creates the database before pairing
        self.network.connects[self.uuid] = self.network.connects.get(self.uuid, 0) + 1
        self._loop_task = asyncio.create_task(self._go_loop())
        return self._loop_task

    async def _go_loop(self) -> None:
        if not self.network.online:
            await asyncio.sleep(0.01)
            raise FakeNeonizeError("failed to dial whatsapp web websocket: no such host")
        session = self._session()
        if session and not self.new_device:
            self._record_session("open")
            self.emit(EV.ConnectedEv(status=True))
            await asyncio.sleep(0.05)
            self._spawn(self._replay_unacked())
        else:
            for lifetime in self.network.qr_lifetimes:
                code = f"2@{secrets.token_urlsafe(12)},{secrets.token_urlsafe(8)},x,y"
                self.shown_qrs.append(code)
                if self.event.qr_handler is not None:
                    self._spawn(self.event.qr_handler(self, code.encode()))
                if self.network.auto_link:
                    await asyncio.sleep(0.1)
                    await self.link(phone_of(self.uuid), next(self.network.device_numbers))
                    if os.environ.get("FAKE_NEONIZE_GREET") == "1":
                        self._spawn(self._greet_when_asked())
                        self._spawn(self._call_when_asked())
                    if os.environ.get("FAKE_NEONIZE_HISTORY") == "1":
                        self._spawn(self._history_when_asked())
                    break
                await asyncio.sleep(lifetime)
                if self._session():
                    break
        await self._stopped.wait()  # the Go loop runs until Stop

    async def _greet_when_asked(self) -> None:
        """Whole-gateway tests with FAKE_NEONIZE_GREET=1: once record_dir/greet-<device id>
        exists (the test writes it when the gateway shows the device online), a contact
        writes its text to the device."""
        assert self.network.record_dir is not None
        trigger = self.network.record_dir / f"greet-{self.uuid}"
        while not self.stopped and not trigger.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if not self.stopped:
            await self.network.contact_writes(self.uuid, "6285550001111", trigger.read_text())

    async def _history_when_asked(self) -> None:
        """Whole-gateway tests with FAKE_NEONIZE_HISTORY=1: once record_dir/history-<device
        id> exists, WhatsApp sends the device the history it names ("<chats> <per chat>")."""
        assert self.network.record_dir is not None
        trigger = self.network.record_dir / f"history-{self.uuid}"
        while not self.stopped and not trigger.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if not self.stopped:
            chats, per_chat = (int(n) for n in trigger.read_text().split())
            await self.network.sends_history(self.uuid, chats, per_chat)

    async def _call_when_asked(self) -> None:
        """As `_greet_when_asked`, for record_dir/call-<device id>: the number written there
        calls the device (unanswered)."""
        assert self.network.record_dir is not None
        trigger = self.network.record_dir / f"call-{self.uuid}"
        while not self.stopped and not trigger.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if not self.stopped:
            await self.network.contact_calls(self.uuid, trigger.read_text())

    async def PairPhone(self, phone: str, show_push_notification: bool) -> str:  # noqa: N802
        if not self.shown_qrs:
            raise FakeNeonizeError("client is nil")
        code = secrets.token_hex(4).upper()
        self.codes[code] = phone
        return code

    async def get_me(self) -> Any:
        session = self._session()
        assert session, "get_me before pairing panics in neonize"
        return PB.Device(JID=_jid(session["phone"], device=session["device"]), PushName="Shop")

    async def build_revoke(self, chat: Any, sender: Any, message_id: str) -> Any:
        builder = neonize_loader.module("neonize.builder")
        return builder.build_revoke(chat, sender, message_id, (await self.get_me()).JID)

    async def send_message(self, to: Any, message: Any) -> Any:
        if not isinstance(message, str) and self._protocol_act(to, message):
            return PB.SendResponse(ID="3EB0" + secrets.token_hex(8).upper(), Timestamp=0)
        if self.network.record_dir is not None:
            # A test holds every send (the queue stays full) while record_dir/hold exists.
            # (A file, not an Event: the test and this worker are different processes.)
            while (self.network.record_dir / "hold").exists():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        self.network.sent.append((self.uuid, to, message))
        message_id = "3EB0" + secrets.token_hex(8).upper()
        if not isinstance(message, str) and message.HasField("pollCreationMessage"):
            self.network.poll_ids.add(message_id)
        if self.network.record_dir is not None:
            text = message if isinstance(message, str) else message.conversation
            line = json.dumps(
                {
                    "device": self.uuid,
                    "to": to,
                    "id": message_id,
                    "text": text,
                    "pid": os.getpid(),
                    "at": time.time(),
                    **_quote_and_preview(message),
                }
            )
            with open(self.network.record_dir / "sent.jsonl", "a") as record:
                record.write(line + "\n")
            if self.network.receipts_first:  # read at once, before this call returns
                await self._deliver_receipt(to.partition("@")[0], message_id, 4)
            else:
                self._spawn(self._receipts(to.partition("@")[0], message_id))
        return PB.SendResponse(ID=message_id, Timestamp=int(time.time()))

    async def _receipts(self, user: str, message_id: str) -> None:
        for kind in (1, 4):  # DELIVERED, READ
            await asyncio.sleep(0.05)
            await self._deliver_receipt(user, message_id, kind)

    async def _deliver_receipt(self, user: str, message_id: str, kind: int) -> None:
        """As WhatsApp's server does: a receipt counts once the client's handler has returned
        (whatsmeow acknowledges it then); until then it is offered again at the next
        connect, so a worker killed in between loses nothing (see `_replay_unacked`)."""
        handler = self.event.handlers.get(EV.ReceiptEv)
        if self.stopped or handler is None:
            return
        source = PB.MessageSource(Chat=_jid(user), Sender=_jid(user))
        receipt = EV.ReceiptEv(
            MessageSource=source, MessageIDs=[message_id], Timestamp=int(time.time()), Type=kind
        )
        await handler(self, receipt)
        if self.network.record_dir is not None:
            with open(self.network.record_dir / "receipts-acked.jsonl", "a") as acked:
                acked.write(json.dumps({"id": message_id, "kind": kind}) + "\n")

    async def _replay_unacked(self) -> None:
        if self.network.record_dir is None:
            return
        acked = {
            (line["id"], line["kind"])
            for line in read_jsonl(self.network.record_dir / "receipts-acked.jsonl")
        }
        for sent in read_jsonl(self.network.record_dir / "sent.jsonl"):
            for kind in (1, 4):
                if sent["device"] == self.uuid and (sent["id"], kind) not in acked:
                    await self._deliver_receipt(sent["to"].partition("@")[0], sent["id"], kind)

    async def upload(self, data: bytes, media_type: Any) -> Any:
        digest = hashlib.sha256(data).digest()
        self.network.uploads[digest] = data
        return PB.UploadResponse(
            url=f"https://mmg.whatsapp.net/{digest.hex()[:16]}",
            DirectPath=f"/v/t62/{digest.hex()[:16]}",
            MediaKey=secrets.token_bytes(32),
            FileEncSHA256=secrets.token_bytes(32),
            FileSHA256=digest,
            FileLength=len(data),
        )

    async def download_any(self, message: Any) -> bytes:
        for field in ("imageMessage", "videoMessage", "audioMessage", "documentMessage"):
            if message.HasField(field):
                return self.network.uploads[getattr(message, field).fileSHA256]
        raise FakeNeonizeError("no media in this message")

    async def build_poll_vote_creation(self, name: str, options: list[str], selectable: Any) -> Any:
        poll = E2E.PollCreationMessage(
            name=name,
            options=[E2E.PollCreationMessage.Option(optionName=o) for o in options],
            selectableOptionsCount=0 if selectable.name == "MULTIPLE" else 1,
        )
        return E2E.Message(pollCreationMessage=poll)

    async def decrypt_poll_vote(self, event: Any) -> Any:
        """neonize's DecryptPollVote: the vote, for a poll whose secret the store has."""
        update = event.Message.pollUpdateMessage
        if update.pollCreationMessageKey.ID not in self.network.poll_ids:
            raise FakeNeonizeError("failed to get message secret: not found")
        return E2E.PollVoteMessage.FromString(update.vote.encPayload)

    def _group(self) -> dict[str, tuple[str, str | None, bool]] | None:
        """The device's view of the group 120363000@g.us: its members (None: left)."""
        if self.uuid not in self.network.group_members:
            members: dict[str, tuple[str, str | None, bool]] = {
                "6281111": ("s.whatsapp.net", None, False),
                # a member WhatsApp names by LID, with its phone number beside it
                "99887766554433": ("lid", "6282222", False),
            }
            session = self._session()
            if session:  # the account is in the group, as its admin
                members[session["phone"]] = ("s.whatsapp.net", None, True)
            self.network.group_members[self.uuid] = members
            self.network.group_settings[self.uuid] = {
                "name": "Tim Toko",
                "topic": "Jadwal piket",
                "announce": True,
                "locked": False,
            }
        return self.network.group_members[self.uuid]

    async def get_joined_groups(self) -> list[Any]:
        members = self._group()
        if members is None:
            return []
        settings = self.network.group_settings[self.uuid]
        participants = [
            PB.GroupParticipant(
                JID=_jid(user, server),
                PhoneNumber=_jid(phone) if phone else None,
                IsAdmin=admin,
            )
            for user, (server, phone, admin) in members.items()
        ]
        return [
            PB.GroupInfo(
                JID=_jid("120363000", "g.us"),
                OwnerJID=_jid("6281111"),
                GroupName=PB.GroupName(Name=settings["name"]),
                GroupTopic=PB.GroupTopic(Topic=settings["topic"]),
                GroupAnnounce=PB.GroupAnnounce(IsAnnounce=settings["announce"]),
                GroupLocked=PB.GroupLocked(isLocked=settings["locked"]),
                GroupCreated=1767225600.0,
                Participants=participants,
            )
        ]

    def _group_setting(self, jid: Any, name: str, value: Any) -> None:
        assert jid.User == "120363000" and self._group() is not None, "not in that group"
        self.network.group_settings[self.uuid][name] = value
        self._act(f"set_group_{name}", {"group": f"{jid.User}@{jid.Server}", "value": value})

    async def set_group_name(self, jid: Any, name: str) -> None:
        self._group_setting(jid, "name", name)

    async def set_group_topic(self, jid: Any, previous_id: str, new_id: str, topic: str) -> None:
        self._group_setting(jid, "topic", topic)

    async def set_group_announce(self, jid: Any, announce: bool) -> None:
        self._group_setting(jid, "announce", announce)

    async def set_group_locked(self, jid: Any, locked: bool) -> None:
        self._group_setting(jid, "locked", locked)

    async def update_group_participants(self, jid: Any, changes: list[Any], action: Any) -> Any:
        """whatsmeow's UpdateGroupParticipants: a GroupParticipant per change, with `Error`
        (404 unknown number or not a member, 403 privacy settings, 409 already in)."""
        members = self._group()
        assert jid.User == "120363000" and members is not None, "not in that group"
        done: list[str] = []
        results = []
        for change in changes:
            user, error = change.User, 0
            if action.value == "add":
                if user.startswith("999"):
                    error = 404
                elif user in members:
                    error = 409
                elif user.endswith("77"):
                    error = 403
                else:
                    members[user] = ("s.whatsapp.net", None, False)
            elif user not in members:
                error = 404
            elif action.value == "remove":
                del members[user]
            else:
                server, phone, _ = members[user]
                members[user] = (server, phone, action.value == "promote")
            if not error:
                done.append(f"{user}@{change.Server}")
            results.append(PB.GroupParticipant(JID=change, Error=error))
        group = f"{jid.User}@{jid.Server}"
        self._act(
            "update_group_participants",
            {"group": group, "action": action.value, "participants": done},
        )
        return results

    async def create_group(self, name: str, participants: list[Any] = []) -> Any:  # noqa: B006
        """whatsmeow's CreateGroup: the new group's info (numbers whose privacy settings
        refuse, ending in 77, and numbers not on WhatsApp are left out)."""
        session = self._session()
        assert session, "not linked"
        members = [PB.GroupParticipant(JID=_jid(session["phone"]), IsAdmin=True, IsSuperAdmin=True)]
        members += [
            PB.GroupParticipant(JID=p)
            for p in participants
            if not p.User.endswith("77") and not p.User.startswith("999")
        ]
        self._act("create_group", {"name": name, "participants": [p.User for p in participants]})
        return PB.GroupInfo(
            JID=_jid("120363777", "g.us"),
            OwnerJID=_jid(session["phone"]),
            GroupName=PB.GroupName(Name=name),
            GroupCreated=1767225600.0,
            Participants=members,
        )

    async def get_group_invite_link(self, jid: Any, revoke: bool = False) -> str:
        assert jid.User == "120363000" and self._group() is not None, "not in that group"
        codes = self.network.invite_codes
        if revoke or jid.User not in codes:
            codes[jid.User] = f"Inv{len(self.network.acts):04d}{self.uuid[:6]}x"
        self._act("get_group_invite_link", {"group": f"{jid.User}@{jid.Server}", "revoke": revoke})
        return f"https://chat.whatsapp.com/{codes[jid.User]}"

    async def join_group_with_link(self, code: str) -> Any:
        group = next((g for g, c in self.network.invite_codes.items() if c == code), None)
        if group is None:
            raise FakeNeonizeError("invalid invite link")
        self._act("join_group_with_link", {"code": code})
        return _jid(group, "g.us")

    async def get_group_info(self, jid: Any) -> Any:
        for info in await self.get_joined_groups():
            if info.JID.User == jid.User:
                return info
        raise FakeNeonizeError("group not found")

    async def leave_group(self, jid: Any) -> None:
        assert jid.User == "120363000" and self._group() is not None, "not in that group"
        self.network.group_members[self.uuid] = None
        self._act("leave_group", {"group": f"{jid.User}@{jid.Server}"})

    async def get_user_info(self, *jids: Any) -> list[Any]:
        return [
            PB.GetUserInfoSingleReturnFunction(JID=j, UserInfo=PB.UserInfo(Status="Buka 9-5"))
            for j in jids
            if not j.User.startswith("999")
        ]

    async def is_on_whatsapp(self, *numbers: str) -> list[Any]:
        return [
            PB.IsOnWhatsAppResponse(
                Query=n, JID=_jid(n.lstrip("+")), IsIn=not n.lstrip("+").startswith("999")
            )
            for n in numbers
        ]

    async def get_lid_from_pn(self, jid: Any) -> Any:
        return _jid(str(int(jid.User) * 7)[:15], "lid")

    async def get_pn_from_lid(self, jid: Any) -> Any:
        return PB.JID()  # whatsmeow's answer when its LID map has no phone number for it

    async def send_chat_presence(self, jid: Any, state: Any, media: Any) -> None:
        self.network.presences.append((self.uuid, jid.User, state.name))
        chat = f"{jid.User}@{jid.Server}"
        act = {"chat": chat, "state": state.name, "media": media.name}
        self._act("send_chat_presence", act)

    async def mark_read(
        self, *message_ids: str, chat: Any, sender: Any, receipt: Any, timestamp: int | None = None
    ) -> None:
        act = {
            "ids": list(message_ids),
            "chat": f"{chat.User}@{chat.Server}",
            "sender": f"{sender.User}@{sender.Server}",
            "receipt": receipt.name,
        }
        self._act("mark_read", act)

    async def send_presence(self, presence: Any) -> None:
        self.available = presence.name == "AVAILABLE"
        self._act("send_presence", {"presence": presence.name})

    async def reject_call(self, call_from: Any, call_id: str) -> None:
        self._act("reject_call", {"call_id": call_id, "to": f"{call_from.User}@{call_from.Server}"})

    async def subscribe_presence(self, jid: Any) -> None:
        """The servers answer a subscription with the contact's presence when they know it
        and the client shows online."""
        self.subscribed.add(jid.User)
        self._act("subscribe_presence", {"jid": f"{jid.User}@{jid.Server}"})
        known = self.network.contact_presences.get(jid.User)
        if known is not None and self.available:
            self.emit(EV.PresenceEv(From=_jid(jid.User), Unavailable=known[0], LastSeen=known[1]))

    async def get_profile_picture(self, jid: Any, extra: Any = None) -> Any:
        if jid.User.endswith("0"):
            return PB.ProfilePictureInfo()  # whatsmeow: no picture (or hidden) → empty
        return PB.ProfilePictureInfo(URL=picture_url_of(jid.User), ID="1", Type="image")

    def _protocol_act(self, to: Any, message: Any) -> bool:
        """An edit or a revoke (neonize's build_edit / build_revoke) reached the servers:
        kept as an act ("edit": id, chat, text; "revoke": id, chat, participant)."""
        if message.HasField("editedMessage"):
            proto = message.editedMessage.message.protocolMessage
            edited = proto.editedMessage
            text = edited.conversation
            for field in ("imageMessage", "videoMessage", "documentMessage"):
                if edited.HasField(field):
                    text = getattr(edited, field).caption
            assert proto.type == E2E.ProtocolMessage.MESSAGE_EDIT and proto.key.fromMe
            self._act("edit", {"id": proto.key.ID, "chat": proto.key.remoteJID, "text": text})
            return True
        if (
            message.HasField("protocolMessage")
            and message.protocolMessage.type == E2E.ProtocolMessage.REVOKE
        ):
            key = message.protocolMessage.key
            self._act(
                "revoke",
                {
                    "id": key.ID,
                    "chat": key.remoteJID,
                    "from_me": key.fromMe,
                    "participant": key.participant,
                },
            )
            return True
        return False

    def _act(self, method: str, args: dict[str, Any]) -> None:
        """A chat action reached the servers: kept, and in whole-gateway tests appended to
        record_dir/acts.jsonl (the worker is another process)."""
        self.network.acts.append((self.uuid, method, args))
        if self.network.record_dir is not None:
            line = json.dumps({"device": self.uuid, "method": method, **args})
            with open(self.network.record_dir / "acts.jsonl", "a") as record:
                record.write(line + "\n")

    async def logout(self) -> None:
        await self.forget_session()

    async def stop(self) -> None:
        if self._live and not self.stopped:
            self._record_session("close")
        self.stopped = True
        self._stopped.set()  # no more events; handlers already running finish (as in neonize)

    # the fake's insides
    def _session(self) -> dict[str, Any] | None:
        if self.shared_store is not None:
            return self._row
        path = Path(self.store)
        if not path.exists() or not path.stat().st_size:
            return None
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    async def _open_shared_store(self) -> None:
        """As whatsmeow at connect: its tables are created if missing (a real store has many
        more columns), and the device named by the JID is loaded (neonize would crash on a
        JID the store does not have: the gateway must never pass one)."""
        import asyncpg

        assert self.shared_store is not None
        connection = await asyncpg.connect(self.shared_store)
        try:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS whatsmeow_device "
                "(jid text PRIMARY KEY, push_name text NOT NULL DEFAULT '')"
            )
            if self.jid is not None and not self.new_device:
                found = await connection.fetchval(
                    "SELECT jid FROM whatsmeow_device WHERE jid = $1", self.jid
                )
                assert found is not None, f"a JID not in the store crashes neonize: {self.jid}"
                user, _, device = self.jid.partition("@")[0].partition(":")
                self._row = {"phone": user, "device": int(device or 0)}
        finally:
            await connection.close()

    async def forget_session(self) -> None:
        if self.shared_store is None:
            Path(self.store).unlink(missing_ok=True)
            return
        import asyncpg

        session, self._row = self._row, None
        if session is not None:
            connection = await asyncpg.connect(self.shared_store)
            try:
                jid = f"{session['phone']}:{session['device']}@s.whatsapp.net"
                await connection.execute("DELETE FROM whatsmeow_device WHERE jid = $1", jid)
            finally:
                await connection.close()

    async def link(self, phone: str, device_number: int) -> None:
        if self.shared_store is not None:
            import asyncpg

            connection = await asyncpg.connect(self.shared_store)
            try:
                await connection.execute(
                    "INSERT INTO whatsmeow_device (jid) VALUES ($1)",
                    f"{phone}:{device_number}@s.whatsapp.net",
                )
            finally:
                await connection.close()
            self._row = {"phone": phone, "device": device_number}
        else:
            Path(self.store).write_text(json.dumps({"phone": phone, "device": device_number}))
        self._record_session("open", linked=True)
        self.emit(
            EV.PairStatusEv(ID=_jid(phone, device=device_number), Status=2, Platform="android")
        )
        await asyncio.sleep(0.01)
        self.emit(EV.ConnectedEv(status=True))

    def _record_session(self, change: str, *, linked: bool = False) -> None:
        """WhatsApp's servers see a device's session open (a connect, or the link itself) and
        close (the client stopped): in record_dir/sessions.jsonl, with the process that held
        it, so a test can check that two processes never held one device's session at once.
        A killed process's session has no close: it ended when the process did."""
        self._live = change == "open"
        if self.network.record_dir is None:
            return
        line = {"device": self.uuid, "change": change, "linked": linked, "pid": os.getpid()}
        with open(self.network.record_dir / "sessions.jsonl", "a") as record:
            record.write(json.dumps({**line, "at": time.time()}) + "\n")

    def emit(self, event: Any) -> None:
        if self.stopped:
            return
        handler = self.event.handlers.get(type(event))
        if handler is not None:
            self._spawn(handler(self, event))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # the account itself (CONTRACT §8.4): neonize's own-profile and blocklist calls
    async def set_profile_name(self, name: str) -> str:
        self._act("set_profile_name", {"name": name})
        return ""

    async def set_status_message(self, msg: str) -> None:
        self._act("set_status_message", {"about": msg})

    async def set_profile_photo(self, file_or_bytes: str | bytes) -> str:
        assert isinstance(file_or_bytes, bytes), "a str is read as a path or URL by neonize"
        digest = hashlib.sha256(file_or_bytes).hexdigest()
        self._act("set_profile_photo", {"size": len(file_or_bytes), "sha256": digest})
        return "1"

    async def update_blocklist(self, jid: Any, action: Any) -> Any:
        """neonize's BlocklistAction (an Enum: BLOCK / UNBLOCK); the servers answer the new
        blocklist."""
        blocked = self.network.blocklists.setdefault(self.uuid, [])
        user = f"{jid.User}@{jid.Server}"
        if action.name == "BLOCK" and user not in blocked:
            blocked.append(user)
        elif action.name == "UNBLOCK" and user in blocked:
            blocked.remove(user)
        self._act(action.name.lower(), {"jid": user})
        return await self.get_blocklist()

    async def get_blocklist(self) -> Any:
        jids = [_jid(*jid.split("@", 1)) for jid in self.network.blocklists.get(self.uuid, [])]
        return PB.Blocklist(DHash="fake", JIDs=jids)


def _quote_and_preview(message: Any) -> dict[str, Any]:
    """sent.jsonl's record of a reply (stanzaID, participant), a link preview (matchedText,
    title, description) or a reaction's key, for tests through a worker process."""
    if isinstance(message, str):
        return {}
    if message.HasField("extendedTextMessage"):
        ext = message.extendedTextMessage
        return {
            "extended_text": ext.text,
            "reply_to": ext.contextInfo.stanzaID,
            "participant": ext.contextInfo.participant,
            "preview": {"url": ext.matchedText, "title": ext.title, "description": ext.description},
        }
    if message.HasField("reactionMessage"):
        key = message.reactionMessage.key
        return {"reaction_to": key.ID, "from_me": key.fromMe, "participant": key.participant}
    return {}
