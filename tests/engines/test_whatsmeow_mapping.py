"""neonize event objects (built from neonize's own protobuf classes) → engine events."""

from __future__ import annotations

import pytest

from wagateway.engines.base import InboundMessage, OwnerRead, Receipt, poll_option_hash
from wagateway.engines.whatsmeow import mapping, neonize_loader

if not neonize_loader.available():
    pytest.skip(neonize_loader.missing() or "", allow_module_level=True)

EV = neonize_loader.events()
PB = neonize_loader.module("neonize.proto.Neonize_pb2")
E2E = neonize_loader.module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0):  # noqa: ANN201
    return PB.JID(User=user, Server=server, Device=device)


def message_ev(message, *, sender=None, alt=None, from_me=False, chat=None):  # noqa: ANN001, ANN201
    sender = sender or jid("6285550001111")
    source = PB.MessageSource(
        Chat=chat or sender, Sender=sender, SenderAlt=alt or PB.JID(), IsFromMe=from_me
    )
    info = PB.MessageInfo(
        MessageSource=source, ID="3EB0ABC", Timestamp=1_790_000_000, Pushname="Ana"
    )
    return EV.MessageEv(Info=info, Message=message)


def test_plain_text_with_phone_sender() -> None:
    event = mapping.inbound_message("d", 3, message_ev(E2E.Message(conversation="halo")))
    assert isinstance(event, InboundMessage)
    assert (event.type, event.content) == ("text", {"text": "halo"})
    assert event.sender_phone == "6285550001111" and event.sender_lid is None
    assert event.chat == "6285550001111@s.whatsapp.net"
    assert event.wa_message_id == "3EB0ABC" and event.push_name == "Ana" and event.epoch == 3
    assert event.sent_at.timestamp() == 1_790_000_000


def test_lid_sender_with_its_phone_as_alt() -> None:
    event = mapping.inbound_message(
        "d",
        1,
        message_ev(E2E.Message(conversation="x"), sender=jid("12345", "lid"), alt=jid("6281999")),
    )
    assert event is not None
    assert (event.sender_phone, event.sender_lid) == ("6281999", "12345@lid")


def test_extended_text_carries_reply_and_mentions() -> None:
    text = E2E.ExtendedTextMessage(
        text="@6281 lihat ini",
        contextInfo=E2E.ContextInfo(stanzaID="3EB0QUOTED", mentionedJID=["6281@s.whatsapp.net"]),
    )
    event = mapping.inbound_message("d", 1, message_ev(E2E.Message(extendedTextMessage=text)))
    assert event is not None
    assert event.reply_to == "3EB0QUOTED" and event.mentions == ("6281@s.whatsapp.net",)


def test_location() -> None:
    location = E2E.LocationMessage(degreesLatitude=-6.2, degreesLongitude=106.8, name="Toko")
    event = mapping.inbound_message("d", 1, message_ev(E2E.Message(locationMessage=location)))
    assert event is not None and event.type == "location"
    assert event.content == {"latitude": -6.2, "longitude": 106.8, "name": "Toko"}


def test_unmapped_types_are_not_inbound() -> None:
    assert mapping.inbound_message("d", 1, message_ev(E2E.Message())) is None
    assert mapping.inbound_message("d", 1, message_ev(E2E.Message(), from_me=True)) is None


OWN = "6281234567890"


def test_own_message_from_the_phone_is_from_me_in_the_recipients_chat() -> None:
    """`IsFromMe`: the account wrote it on the phone or another linked device. whatsmeow puts
    the recipient in `Chat` and the account in `Sender`."""
    ev = message_ev(
        E2E.Message(conversation="sudah dikirim ya"),
        sender=jid(OWN, device=0),
        chat=jid("6285550001111"),
        from_me=True,
    )
    event = mapping.inbound_message("d", 5, ev)
    assert isinstance(event, InboundMessage) and event.from_me is True
    assert (event.type, event.content) == ("text", {"text": "sudah dikirim ya"})
    assert event.chat == "6285550001111@s.whatsapp.net"
    assert event.sender_phone == OWN and event.wa_message_id == "3EB0ABC"
    assert event.sent_at.timestamp() == 1_790_000_000 and event.epoch == 5
    contact = mapping.inbound_message("d", 5, message_ev(E2E.Message(conversation="x")))
    assert contact is not None and contact.from_me is False


def test_own_message_in_a_lid_chat_lands_in_the_phone_chat_and_groups_stay_groups() -> None:
    source = PB.MessageSource(
        Chat=jid("99887766554433", "lid"),
        Sender=jid("11223344556677", "lid"),
        SenderAlt=jid(OWN),
        RecipientAlt=jid("6285550001111"),
        IsFromMe=True,
    )
    info = PB.MessageInfo(MessageSource=source, ID="3EB0LID", Timestamp=1_790_000_000)
    image = E2E.ImageMessage(mimetype="image/jpeg", caption="nota", fileLength=2048)
    event = mapping.inbound_message(
        "d", 1, EV.MessageEv(Info=info, Message=E2E.Message(imageMessage=image))
    )
    assert event is not None and event.from_me
    assert event.chat == "6285550001111@s.whatsapp.net"
    assert (event.sender_phone, event.sender_lid) == (OWN, "11223344556677@lid")
    assert (event.type, event.content, event.media_size) == (
        "image",
        {"mime_type": "image/jpeg", "caption": "nota"},
        2048,
    )
    unknown_alt = PB.MessageSource(
        Chat=jid("99887766554433", "lid"), Sender=jid(OWN), IsFromMe=True
    )
    info = PB.MessageInfo(MessageSource=unknown_alt, ID="3EB0L2", Timestamp=1)
    alone = mapping.inbound_message(
        "d", 1, EV.MessageEv(Info=info, Message=E2E.Message(conversation="x"))
    )
    assert alone is not None and alone.chat == "99887766554433@lid"
    group = message_ev(
        E2E.Message(conversation="rapat jam 3"),
        sender=jid(OWN),
        chat=jid("120363012345", "g.us"),
        from_me=True,
    )
    in_group = mapping.inbound_message("d", 1, group)
    assert in_group is not None and in_group.from_me and in_group.chat == "120363012345@g.us"


def test_own_message_still_wrapped_as_device_sent_is_read_inside() -> None:
    """whatsmeow unwraps `deviceSentMessage` before neonize sees it; the raw form maps the
    same way."""
    inner = E2E.Message(conversation="dari WhatsApp Web")
    wrapped = E2E.Message(
        deviceSentMessage=E2E.DeviceSentMessage(
            destinationJID="6285550001111@s.whatsapp.net", message=inner
        )
    )
    ev = message_ev(wrapped, sender=jid(OWN), chat=jid("6285550001111"), from_me=True)
    event = mapping.inbound_message("d", 1, ev)
    assert event is not None and event.from_me
    assert (event.type, event.content) == ("text", {"text": "dari WhatsApp Web"})


@pytest.mark.parametrize(("kind", "status"), [(1, "delivered"), (4, "read"), (6, "played")])
def test_receipt_types(kind: int, status: str) -> None:
    source = PB.MessageSource(Chat=jid("6281"), Sender=jid("6281"))
    event = mapping.receipt(
        "d", 2, EV.ReceiptEv(MessageSource=source, MessageIDs=["A", "B"], Timestamp=1, Type=kind)
    )
    assert isinstance(event, Receipt)
    assert (event.status, event.wa_message_ids, event.participant) == (status, ("A", "B"), None)
    assert event.chat == "6281@s.whatsapp.net"


def test_group_receipts_name_the_participant_and_others_are_ignored() -> None:
    source = PB.MessageSource(Chat=jid("1203", "g.us"), Sender=jid("6282"), IsGroup=True)
    event = mapping.receipt(
        "d", 1, EV.ReceiptEv(MessageSource=source, MessageIDs=["A"], Timestamp=1, Type=4)
    )
    assert event is not None and event.participant == "6282" and event.chat == "1203@g.us"
    sender_receipt = EV.ReceiptEv(MessageSource=source, MessageIDs=["A"], Timestamp=1, Type=2)
    assert mapping.receipt("d", 1, sender_receipt) is None


def test_device_jids_keep_their_device_number() -> None:
    assert mapping.jid_string(jid("6281", device=12)) == "6281:12@s.whatsapp.net"
    assert mapping.jid_string(jid("6281")) == "6281@s.whatsapp.net"


def test_forwarded_mark_on_every_message_type() -> None:
    forwarded = E2E.ContextInfo(isForwarded=True, forwardingScore=1)
    plain = E2E.ContextInfo(stanzaID="3EB0QUOTED")
    kinds = {
        "text": lambda c: E2E.Message(
            extendedTextMessage=E2E.ExtendedTextMessage(text="fwd", contextInfo=c)
        ),
        "image": lambda c: E2E.Message(
            imageMessage=E2E.ImageMessage(mimetype="image/png", contextInfo=c)
        ),
        "video": lambda c: E2E.Message(
            videoMessage=E2E.VideoMessage(mimetype="video/mp4", contextInfo=c)
        ),
        "audio": lambda c: E2E.Message(
            audioMessage=E2E.AudioMessage(mimetype="audio/ogg", contextInfo=c)
        ),
        "document": lambda c: E2E.Message(
            documentMessage=E2E.DocumentMessage(mimetype="application/pdf", contextInfo=c)
        ),
        "sticker": lambda c: E2E.Message(
            stickerMessage=E2E.StickerMessage(mimetype="image/webp", contextInfo=c)
        ),
        "location": lambda c: E2E.Message(
            locationMessage=E2E.LocationMessage(degreesLatitude=1.5, contextInfo=c)
        ),
        "contact": lambda c: E2E.Message(
            contactMessage=E2E.ContactMessage(displayName="Ana", vcard="V", contextInfo=c)
        ),
    }
    for kind, build in kinds.items():
        marked = mapping.inbound_message("d", 1, message_ev(build(forwarded)))
        unmarked = mapping.inbound_message("d", 1, message_ev(build(plain)))
        assert marked is not None and unmarked is not None, kind
        assert (marked.type, marked.forwarded) == (kind, True), kind
        assert (unmarked.type, unmarked.forwarded) == (kind, False), kind
    conversation = mapping.inbound_message("d", 1, message_ev(E2E.Message(conversation="x")))
    assert conversation is not None and conversation.forwarded is False


def test_button_and_list_replies() -> None:
    quoted = E2E.ContextInfo(stanzaID="3EB0ASKED")
    button = E2E.ButtonsResponseMessage(
        selectedButtonID="btn-ya", selectedDisplayText="Ya", contextInfo=quoted
    )
    template = E2E.TemplateButtonReplyMessage(
        selectedID="btn-no", selectedDisplayText="Tidak", contextInfo=quoted
    )
    row = E2E.ListResponseMessage(
        title="Paket B",
        singleSelectReply=E2E.ListResponseMessage.SingleSelectReply(selectedRowID="row-2"),
        contextInfo=quoted,
    )
    expected = [
        (
            E2E.Message(buttonsResponseMessage=button),
            "button_response",
            {"selected_id": "btn-ya", "selected_text": "Ya"},
        ),
        (
            E2E.Message(templateButtonReplyMessage=template),
            "button_response",
            {"selected_id": "btn-no", "selected_text": "Tidak"},
        ),
        (
            E2E.Message(listResponseMessage=row),
            "list_response",
            {"selected_row_id": "row-2", "title": "Paket B"},
        ),
    ]
    for message, kind, content in expected:
        event = mapping.inbound_message("d", 1, message_ev(message))
        assert event is not None
        assert (event.type, event.content, event.reply_to) == (kind, content, "3EB0ASKED")


def test_revoke_names_the_deleted_message() -> None:
    common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
    protocol = E2E.ProtocolMessage(type=0, key=common.MessageKey(ID="3EB0GONE"))
    event = mapping.revoke("d", 1, message_ev(E2E.Message(protocolMessage=protocol)))
    assert event is not None
    assert (event.wa_message_id, event.chat, event.sender) == (
        "3EB0GONE",
        "6285550001111@s.whatsapp.net",
        "6285550001111",
    )
    assert event.by == "6285550001111"
    assert mapping.revoke("d", 1, message_ev(E2E.Message(conversation="x"))) is None
    in_group = mapping.revoke(
        "d",
        1,
        message_ev(
            E2E.Message(protocolMessage=protocol),
            sender=jid("12345", "lid"),
            chat=jid("1203630", "g.us"),
        ),
    )
    assert in_group is not None
    assert (in_group.chat, in_group.by) == ("1203630@g.us", "12345@lid")


def test_edit_names_the_message_and_its_new_text() -> None:
    common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
    key = common.MessageKey(ID="3EB0ORIG")
    new_text = E2E.Message(conversation="harga 50rb")
    protocol = E2E.ProtocolMessage(
        type=14, key=key, editedMessage=new_text, timestampMS=1_790_000_123_456
    )
    # whatsmeow unwraps the edit (IsEdit); WhatsApp's raw form wraps it in editedMessage
    unwrapped = E2E.Message(protocolMessage=protocol)
    wrapped = E2E.Message(editedMessage=E2E.FutureProofMessage(message=unwrapped))
    for message in (unwrapped, wrapped):
        event = mapping.edit("d", 2, message_ev(message))
        assert event is not None
        assert (event.wa_message_id, event.chat, event.text) == (
            "3EB0ORIG",
            "6285550001111@s.whatsapp.net",
            "harga 50rb",
        )
        assert (event.sender_phone, event.epoch) == ("6285550001111", 2)
        assert event.edited_at.timestamp() == 1_790_000_123.456
        assert mapping.revoke("d", 2, message_ev(message)) is None
        assert mapping.inbound_message("d", 2, message_ev(message)) is None
    caption = E2E.Message(imageMessage=E2E.ImageMessage(mimetype="image/png", caption="foto baru"))
    no_stamp = E2E.ProtocolMessage(type=14, key=key, editedMessage=caption)
    edited = mapping.edit("d", 1, message_ev(E2E.Message(protocolMessage=no_stamp)))
    assert edited is not None and edited.text == "foto baru"
    assert edited.edited_at.timestamp() == 1_790_000_000  # the event's own timestamp
    revoke = E2E.ProtocolMessage(type=0, key=key)
    assert mapping.edit("d", 1, message_ev(E2E.Message(protocolMessage=revoke))) is None
    assert mapping.edit("d", 1, message_ev(E2E.Message(conversation="x"))) is None


def test_poll_vote_names_the_poll_and_the_option_hashes() -> None:
    common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
    update = E2E.PollUpdateMessage(
        pollCreationMessageKey=common.MessageKey(ID="3EB0POLL", fromMe=True),
        vote=E2E.PollEncValue(encPayload=b"sealed", encIV=b"iv"),
        senderTimestampMS=1_790_000_500_000,
    )
    event = message_ev(
        E2E.Message(pollUpdateMessage=update),
        sender=jid("12345", "lid"),
        alt=jid("6281999"),
        chat=jid("1203630", "g.us"),
    )
    assert mapping.is_poll_vote(event)
    assert not mapping.is_poll_vote(message_ev(E2E.Message(conversation="x")))
    assert mapping.inbound_message("d", 1, event) is None
    digest = bytes.fromhex(poll_option_hash("Ya"))
    decrypted = E2E.PollVoteMessage(selectedOptions=[digest])  # what decrypt_poll_vote returns
    vote = mapping.poll_vote("d", 4, event, decrypted)
    assert (vote.poll_wa_message_id, vote.chat, vote.epoch) == ("3EB0POLL", "1203630@g.us", 4)
    assert (vote.voter_phone, vote.voter_lid) == ("6281999", "12345@lid")
    assert vote.selected_hashes == (poll_option_hash("Ya"),)
    assert vote.voted_at.timestamp() == 1_790_000_500
    withdrawn = mapping.poll_vote("d", 4, event, E2E.PollVoteMessage())
    assert withdrawn.selected_hashes == ()


def test_presence_and_chat_presence() -> None:
    online = mapping.presence("d", 1, EV.PresenceEv(From=jid("6281"), Unavailable=False))
    assert (online.jid, online.presence, online.last_seen) == (
        "6281@s.whatsapp.net",
        "available",
        None,
    )
    away = mapping.presence(
        "d", 1, EV.PresenceEv(From=jid("6281"), Unavailable=True, LastSeen=1_790_000_000)
    )
    assert away.presence == "unavailable" and away.last_seen is not None
    source = PB.MessageSource(Chat=jid("6281"), Sender=jid("6281"))
    typing = mapping.chat_presence(
        "d", 1, EV.ChatPresenceEv(MessageSource=source, State=1, Media=1)
    )
    recording = mapping.chat_presence(
        "d", 1, EV.ChatPresenceEv(MessageSource=source, State=1, Media=2)
    )
    paused = mapping.chat_presence(
        "d", 1, EV.ChatPresenceEv(MessageSource=source, State=2, Media=1)
    )
    assert [typing.state, recording.state, paused.state] == [
        "typing",
        "recording",
        "paused",
    ]
    assert (typing.chat, typing.jid) == ("6281@s.whatsapp.net", "6281@s.whatsapp.net")
    in_group = PB.MessageSource(Chat=jid("1203630", "g.us"), Sender=jid("6281"), IsGroup=True)
    group = mapping.chat_presence(
        "d", 1, EV.ChatPresenceEv(MessageSource=in_group, State=1, Media=1)
    )
    assert (group.chat, group.jid, group.state) == (
        "1203630@g.us",
        "6281@s.whatsapp.net",
        "typing",
    )


def _with_bytes(message, placeholder: str, raw: bytes):  # noqa: ANN001, ANN201
    """`message` as WhatsApp may send it: a string field holding bytes that are not UTF-8
    (half an emoji, UTF-8-encoded on its own), which proto2 strings let through. `raw`
    replaces `placeholder`, of the same length, in the wire bytes."""
    assert len(placeholder.encode()) == len(raw)
    parsed = type(message)()
    parsed.MergeFromString(message.SerializePartialToString().replace(placeholder.encode(), raw))
    return parsed


def test_text_that_is_not_utf8_keeps_its_message_with_the_replacement_character() -> None:
    half = b"\xed\xa0\xbd"  # the surrogate U+D83D, UTF-8-encoded: no character at all
    ev = message_ev(E2E.Message(conversation="trunc HLF"))
    ev.Info.Pushname = "Ana PSH"
    ev = _with_bytes(_with_bytes(ev, "HLF", half), "PSH", half)
    event = mapping.inbound_message("d", 1, ev)
    assert event is not None
    assert event.content == {"text": "trunc \ufffd\ufffd\ufffd"}
    assert event.push_name == "Ana \ufffd\ufffd\ufffd"
    document = E2E.DocumentMessage(mimetype="application/pdf", caption="CA", fileName="FILE.pdf")
    ev = _with_bytes(message_ev(E2E.Message(documentMessage=document)), "CA", b"c\xff")
    event = mapping.inbound_message("d", 1, _with_bytes(ev, "FILE.pdf", b"f\xed\xbf\xbf.pdf"))
    assert event is not None
    assert event.content == {
        "mime_type": "application/pdf",
        "caption": "c\ufffd",
        "file_name": "f\ufffd\ufffd\ufffd.pdf",
    }


def test_read_self_receipt_is_the_owner_reading_a_chat() -> None:
    """whatsmeow's read-self receipt (the owner read on the phone or another linked device):
    from the account's own JID, `IsFromMe`, `Chat` the chat read; ignored before, now an
    `OwnerRead` (CONTRACT §8.4 `unread_count`)."""
    own = PB.JID(User="6281234567890", Server="s.whatsapp.net", Device=0)
    source = PB.MessageSource(Chat=jid("6285550001111"), Sender=own, IsFromMe=True)
    read_self = EV.ReceiptEv(
        MessageSource=source, MessageIDs=["3EB0A", "3EB0B"], Timestamp=1_700_000_000, Type=5
    )
    event = mapping.receipt_event("d", 3, read_self)
    assert isinstance(event, OwnerRead)
    assert (event.device_id, event.epoch, event.chat) == ("d", 3, "6285550001111@s.whatsapp.net")
    assert event.wa_message_ids == ("3EB0A", "3EB0B")
    assert event.at is not None and int(event.at.timestamp()) == 1_700_000_000
    assert mapping.receipt("d", 3, read_self) is None, "not a recipient's receipt"
    group = PB.MessageSource(
        Chat=PB.JID(User="120363000000000001", Server="g.us"), Sender=own, IsFromMe=True
    )
    in_group = mapping.receipt_event(
        "d", 3, EV.ReceiptEv(MessageSource=group, MessageIDs=["3EB0C"], Timestamp=1, Type=5)
    )
    assert isinstance(in_group, OwnerRead) and in_group.chat == "120363000000000001@g.us"
    # A read-self not from the account itself, or naming nothing, is no owner read.
    others = EV.ReceiptEv(
        MessageSource=PB.MessageSource(Chat=jid("6285550001111"), Sender=own),
        MessageIDs=["3EB0A"],
        Timestamp=1,
        Type=5,
    )
    assert mapping.receipt_event("d", 3, others) is None
    empty = EV.ReceiptEv(MessageSource=source, MessageIDs=[], Timestamp=1, Type=5)
    assert mapping.receipt_event("d", 3, empty) is None
    # Other receipts still map as before.
    delivered = EV.ReceiptEv(MessageSource=source, MessageIDs=["3EB0A"], Timestamp=1, Type=1)
    assert isinstance(mapping.receipt_event("d", 3, delivered), Receipt)


def test_group_info_events_are_member_changes_and_setting_changes() -> None:
    """CONTRACT §8.2: whatsmeow's GroupInfo notification → `group_participants` per list and
    one `group_updated` with the settings it carries; `by` is the sender's phone."""
    event = EV.GroupInfoEv(
        JID=jid("120363000", "g.us"),
        Sender=jid("6281111"),
        Join=[jid("6285550001234"), jid("99887766554433", "lid")],
        Demote=[jid("6282222")],
        Name=PB.GroupName(Name="Tim Baru"),
        Announce=PB.GroupAnnounce(IsAnnounce=True),
    )
    changes = mapping.group_info_event("d1", 3, event)
    assert [(c.kind, c.action, c.participants) for c in changes] == [
        ("group_participants", "add", ("6285550001234", "99887766554433@lid")),
        ("group_participants", "demote", ("6282222",)),
        ("group_updated", None, ()),
    ]
    assert all(c.group == "120363000@g.us" and c.by == "6281111" for c in changes)
    assert changes[2].changes == {"subject": "Tim Baru", "announce": True}
    assert mapping.group_info_event("d1", 3, EV.GroupInfoEv(JID=jid("1", "g.us"))) == []


def test_joined_group_is_group_joined_with_its_subject() -> None:
    event = EV.JoinedGroupEv(
        Reason="invite",
        GroupInfo=PB.GroupInfo(JID=jid("120363000", "g.us"), GroupName=PB.GroupName(Name="Tim")),
        Sender=jid("99887766554433", "lid"),
        SenderPN=jid("6281111"),
    )
    joined = mapping.joined_group("d1", 3, event)
    assert (joined.kind, joined.group, joined.subject, joined.by) == (
        "group_joined",
        "120363000@g.us",
        "Tim",
        "6281111",
    )
