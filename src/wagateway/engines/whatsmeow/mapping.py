"""neonize's protobuf events → engine events (pure functions, no neonize import needed).

The arguments are neonize's own message objects (`neonize.proto.Neonize_pb2` and the
`waE2E` Message); only their attributes are read, so tests build them from the same classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from wagateway.engines.base import (
    ChatPresence,
    GroupChanged,
    GroupInfo,
    GroupMember,
    GroupParticipantChange,
    HistoryBatch,
    InboundMessage,
    IncomingCall,
    MessageEdited,
    MessageRevoked,
    OwnerRead,
    PollVote,
    PresenceUpdate,
    Receipt,
    ReceiptStatus,
)

REVOKE = 0  # waE2E ProtocolMessage.Type
MESSAGE_EDIT = 14
CHAT_PAUSED = 2  # ChatPresenceEv.State (COMPOSING = 1)
MEDIA_AUDIO = 2  # ChatPresenceEv.Media (TEXT = 1)

# whatsmeow's types.ReceiptType as neonize numbers it (Neonize.proto ReceiptEv.Type).
RECEIPT_STATUS = {1: ReceiptStatus.DELIVERED, 4: ReceiptStatus.READ, 6: ReceiptStatus.PLAYED}

# neonize's ConnectFailureEv.Reason (its own numbering of whatsmeow's reasons): the ones
# that end a session for good. The rest (GENERIC, INTERNAL_SERVER_ERROR, ...) are transient.
TERMINAL_CONNECT_FAILURES = {
    2: "logged_out",  # LOGGED_OUT
    4: "logged_out",  # MAIN_DEVICE_GONE
    5: "logged_out",  # UNKNOWN_LOGOUT
    3: "banned",  # TEMP_BANNED
    6: "client_outdated",  # CLIENT_OUTDATED
}


def text(value: Any) -> str:
    """A protobuf string field as text. WhatsApp's protos are proto2, which does not check
    UTF-8: for invalid bytes (a surrogate half sent by a broken client) protobuf hands over
    `bytes`, kept here with U+FFFD for what is not UTF-8 (`str()` would store "b'…'")."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def jid_string(jid: Any) -> str:
    """`user@server`, with `:device` when the JID names a device."""
    user, server = text(jid.User), text(jid.Server)
    device = int(getattr(jid, "Device", 0) or 0)
    return f"{user}:{device}@{server}" if device else f"{user}@{server}"


def _texts(values: Any) -> tuple[str, ...]:
    return tuple(text(v) for v in values)


def _phone_and_lid(jid: Any, alt: Any) -> tuple[str | None, str | None]:
    """A sender is addressed by phone number or by LID; whatsmeow gives the other form as
    the `Alt` JID when it knows it."""
    phone = lid = None
    for candidate in (jid, alt):
        if candidate is None or not getattr(candidate, "User", ""):
            continue
        if candidate.Server == "lid":
            lid = lid or f"{text(candidate.User)}@lid"
        elif candidate.Server == "s.whatsapp.net":
            phone = phone or text(candidate.User)
    return phone, lid


def _timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC) if seconds else datetime.now(UTC)


MEDIA_FIELDS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}


def media_of(message: Any) -> tuple[str, Any] | None:
    """(type, the media sub-message) when the message carries an attachment."""
    for field, kind in MEDIA_FIELDS.items():
        if message.HasField(field):
            return kind, getattr(message, field)
    return None


def message_content(message: Any) -> tuple[str, dict[str, object], str | None, tuple[str, ...]]:
    """(type, content, reply_to, mentions) of a waE2E Message; type `unsupported` for what is
    not mapped (protocol messages, polls, calls...)."""
    if message.HasField("extendedTextMessage"):
        ext = message.extendedTextMessage
        context = ext.contextInfo
        reply_to = text(context.stanzaID) or None
        return "text", {"text": text(ext.text)}, reply_to, _texts(context.mentionedJID)
    if message.conversation:
        return "text", {"text": text(message.conversation)}, None, ()
    media = media_of(message)
    if media is not None:
        kind, sub = media
        content: dict[str, object] = {"mime_type": text(sub.mimetype)}
        if kind in ("image", "video", "document") and sub.caption:
            content["caption"] = text(sub.caption)
        if kind == "audio":
            content["ptt"] = bool(sub.PTT)
        if kind == "document" and sub.fileName:
            content["file_name"] = text(sub.fileName)
        context = sub.contextInfo
        return kind, content, text(context.stanzaID) or None, _texts(context.mentionedJID)
    if message.HasField("locationMessage"):
        loc = message.locationMessage
        content = {"latitude": loc.degreesLatitude, "longitude": loc.degreesLongitude}
        if loc.name:
            content["name"] = text(loc.name)
        if loc.address:
            content["address"] = text(loc.address)
        return "location", content, None, ()
    if message.HasField("contactMessage"):
        contact = message.contactMessage
        content = {"contact_name": text(contact.displayName), "vcard": text(contact.vcard)}
        return "contact", content, None, ()
    if message.HasField("buttonsResponseMessage"):
        reply = message.buttonsResponseMessage
        content = {
            "selected_id": text(reply.selectedButtonID),
            "selected_text": text(reply.selectedDisplayText),
        }
        return "button_response", content, text(reply.contextInfo.stanzaID) or None, ()
    if message.HasField("templateButtonReplyMessage"):
        template = message.templateButtonReplyMessage
        content = {
            "selected_id": text(template.selectedID),
            "selected_text": text(template.selectedDisplayText),
        }
        return "button_response", content, text(template.contextInfo.stanzaID) or None, ()
    if message.HasField("listResponseMessage"):
        row = message.listResponseMessage
        content = {
            "selected_row_id": text(row.singleSelectReply.selectedRowID),
            "title": text(row.title),
        }
        return "list_response", content, text(row.contextInfo.stanzaID) or None, ()
    if message.HasField("reactionMessage"):
        reaction = message.reactionMessage
        content = {"emoji": text(reaction.text), "message_id": text(reaction.key.ID)}
        return "reaction", content, None, ()
    return "unsupported", {}, None, ()


def is_forwarded(message: Any) -> bool:
    """WhatsApp's forwarded mark: `ContextInfo.isForwarded` of whichever sub-message the
    Message carries (a plain `conversation` has no context, and so is never forwarded)."""
    for descriptor, sub in message.ListFields():
        if (
            descriptor.message_type is None
            or "contextInfo" not in descriptor.message_type.fields_by_name
        ):
            continue
        if sub.HasField("contextInfo") and sub.contextInfo.isForwarded:
            return True
    return False


def announced_size(message: Any) -> int | None:
    media = media_of(message)
    return int(media[1].fileLength) if media is not None else None


def inbound_message(device_id: str, epoch: int, event: Any) -> InboundMessage | None:
    """A `MessageEv` with something to show: a contact's message, or one the account itself
    sent from the phone or another linked device (`IsFromMe`: `from_me`, in the recipient's
    chat); None for protocol messages and what is not mapped."""
    info = event.Info
    source = info.MessageSource
    message = event.Message
    if source.IsFromMe and message.HasField("deviceSentMessage"):
        # whatsmeow unwraps it (`UnwrapRaw`); the raw form is read too.
        message = message.deviceSentMessage.message
    kind, content, reply_to, mentions = message_content(message)
    if kind == "unsupported":
        return None
    phone, lid = _phone_and_lid(source.Sender, source.SenderAlt)
    return InboundMessage(
        device_id,
        epoch,
        wa_message_id=text(info.ID),
        chat=own_message_chat(source) if source.IsFromMe else jid_string(source.Chat),
        sender_phone=phone,
        sender_lid=lid,
        type=kind,
        content=content,
        sent_at=_timestamp(int(info.Timestamp)),
        push_name=text(info.Pushname) or None,
        forwarded=is_forwarded(message),
        reply_to=reply_to,
        mentions=mentions,
        media_size=announced_size(message),
        from_me=bool(source.IsFromMe),
    )


def _jid_parts(jid: str) -> tuple[str, str]:
    """(user without a device suffix, server) of a JID written as text."""
    user, _, server = jid.partition("@")
    return user.partition(":")[0], server


def history_message(
    device_id: str, epoch: int, chat: str, info: Any, own_phone: str | None
) -> InboundMessage | None:
    """One message of a history sync (a `WebMessageInfo` of a `HistorySync` conversation)
    as an inbound message of the chat `chat`: the account's own (`fromMe`) or a contact's
    (in a group, the `participant`). Attachments are announced (`media_size`), never fetched.
    None for what is not shown (protocol messages, what is not mapped)."""
    key = info.key
    kind, content, reply_to, mentions = message_content(info.message)
    if kind == "unsupported":
        return None
    own = bool(key.fromMe)
    chat = text(key.remoteJID) or chat
    sender = text(key.participant) or text(info.participant) or ("" if own else chat)
    user, server = _jid_parts(sender)
    phone = own_phone if own else (user if server == "s.whatsapp.net" and user else None)
    lid = f"{user}@lid" if server == "lid" and not own else None
    return InboundMessage(
        device_id,
        epoch,
        wa_message_id=text(key.ID),
        chat=chat,
        sender_phone=phone,
        sender_lid=lid,
        type=kind,
        content=content,
        sent_at=_timestamp(int(info.messageTimestamp)),
        push_name=text(info.pushName) or None,
        forwarded=is_forwarded(info.message),
        reply_to=reply_to,
        mentions=mentions,
        media_size=announced_size(info.message),
        from_me=own,
    )


def history_batches(
    device_id: str, epoch: int, data: Any, limit: int, own_phone: str | None, size: int
) -> Iterator[HistoryBatch]:
    """A `HistorySync` (neonize's `HistorySyncEv.Data`, one part of what WhatsApp sends
    after linking) as batches of at most `size` messages, mapped one at a time while they
    are iterated and no more than `limit` of them: the rest of a large history is never
    mapped. Each batch carries the part's `progress` (None when WhatsApp gives none); the
    last one is there also when no message of the part is handed over."""
    progress = int(data.progress) if data.HasField("progress") else None
    batch: list[InboundMessage] = []
    handed = 0
    for conversation in data.conversations:
        chat = text(conversation.ID)
        if chat.endswith("@broadcast") or chat.endswith("@newsletter"):
            continue
        for entry in conversation.messages:
            if handed >= limit:
                break
            message = history_message(device_id, epoch, chat, entry.message, own_phone)
            if message is None:
                continue
            batch.append(message)
            handed += 1
            if len(batch) == size:
                yield HistoryBatch(
                    device_id, epoch, tuple(batch), len({m.chat for m in batch}), progress
                )
                batch = []
        if handed >= limit:
            break
    yield HistoryBatch(device_id, epoch, tuple(batch), len({m.chat for m in batch}), progress)


def own_message_chat(source: Any) -> str:
    """The chat of a message the account sent: the recipient's. In a one-to-one chat that
    WhatsApp addresses by LID, its phone JID (`RecipientAlt`) when whatsmeow knows it, so
    the message lands in the chat the gateway's own sends to that number use."""
    chat = source.Chat
    alt = source.RecipientAlt
    if chat.Server == "lid" and alt.Server == "s.whatsapp.net" and alt.User:
        return f"{text(alt.User)}@s.whatsapp.net"
    return jid_string(chat)


def receipt(device_id: str, epoch: int, event: Any) -> Receipt | None:
    status = RECEIPT_STATUS.get(int(event.Type))
    if status is None:
        return None
    source = event.MessageSource
    participant = None
    if source.IsGroup and source.Sender.User:
        participant = text(source.Sender.User)
    return Receipt(
        device_id,
        epoch,
        wa_message_ids=_texts(event.MessageIDs),
        status=status,
        chat=jid_string(source.Chat),
        participant=participant,
        at=_timestamp(int(event.Timestamp)),
    )


def revoke(device_id: str, epoch: int, event: Any) -> MessageRevoked | None:
    """A contact deleted a message for everyone: a `MessageEv` carrying a REVOKE protocol
    message that names the deleted message's id."""
    message = event.Message
    if not message.HasField("protocolMessage") or message.protocolMessage.type != REVOKE:
        return None
    source = event.Info.MessageSource
    phone, lid = _phone_and_lid(source.Sender, source.SenderAlt)
    return MessageRevoked(
        device_id,
        epoch,
        wa_message_id=text(message.protocolMessage.key.ID),
        chat=jid_string(source.Chat),
        sender=phone or lid,
        by=phone or lid,
    )


def _protocol_message(message: Any) -> Any | None:
    """The protocol message a Message carries, also inside the `editedMessage` wrapper that
    WhatsApp puts around edits (whatsmeow unwraps it and sets `IsEdit`; both forms are read)."""
    if message.HasField("editedMessage") and message.editedMessage.HasField("message"):
        message = message.editedMessage.message
    return message.protocolMessage if message.HasField("protocolMessage") else None


def edit(device_id: str, epoch: int, event: Any) -> MessageEdited | None:
    """A sender edited a message: a `MessageEv` carrying a MESSAGE_EDIT protocol message that
    names the edited message and holds its new content (a text, or a media caption)."""
    protocol = _protocol_message(event.Message)
    if protocol is None or protocol.type != MESSAGE_EDIT:
        return None
    kind, content, _, _ = message_content(protocol.editedMessage)
    new_text = content.get("text", content.get("caption", ""))
    info = event.Info
    source = info.MessageSource
    phone, lid = _phone_and_lid(source.Sender, source.SenderAlt)
    at_ms = int(protocol.timestampMS)
    return MessageEdited(
        device_id,
        epoch,
        wa_message_id=text(protocol.key.ID),
        chat=jid_string(source.Chat),
        sender_phone=phone,
        sender_lid=lid,
        text=str(new_text),
        edited_at=(
            datetime.fromtimestamp(at_ms / 1000, UTC) if at_ms else _timestamp(int(info.Timestamp))
        ),
    )


def is_poll_vote(event: Any) -> bool:
    """A `MessageEv` carrying an (encrypted) vote on a poll."""
    return bool(event.Message.HasField("pollUpdateMessage"))


def poll_vote(device_id: str, epoch: int, event: Any, vote: Any) -> PollVote:
    """A vote: the `MessageEv` with its `pollUpdateMessage` (naming the poll) and the
    `PollVoteMessage` that neonize's `decrypt_poll_vote` made of it (option hashes)."""
    update = event.Message.pollUpdateMessage
    info = event.Info
    source = info.MessageSource
    phone, lid = _phone_and_lid(source.Sender, source.SenderAlt)
    at_ms = int(update.senderTimestampMS)
    return PollVote(
        device_id,
        epoch,
        poll_wa_message_id=text(update.pollCreationMessageKey.ID),
        chat=jid_string(source.Chat),
        voter_phone=phone,
        voter_lid=lid,
        selected_hashes=tuple(bytes(h).hex() for h in vote.selectedOptions),
        voted_at=(
            datetime.fromtimestamp(at_ms / 1000, UTC) if at_ms else _timestamp(int(info.Timestamp))
        ),
    )


def presence(device_id: str, epoch: int, event: Any) -> PresenceUpdate:
    """`PresenceEv` (online / last seen) of a contact whose presence the device follows."""
    last_seen = int(event.LastSeen)
    return PresenceUpdate(
        device_id,
        epoch,
        jid=jid_string(event.From),
        presence="unavailable" if event.Unavailable else "available",
        last_seen=datetime.fromtimestamp(last_seen, UTC) if last_seen else None,
    )


def chat_presence(device_id: str, epoch: int, event: Any) -> ChatPresence:
    """`ChatPresenceEv`: typing (composing), recording (audio) or paused, in a chat."""
    state = int(event.State)
    kind = (
        "paused"
        if state == CHAT_PAUSED
        else ("recording" if int(event.Media) == MEDIA_AUDIO else "typing")
    )
    source = event.MessageSource
    return ChatPresence(
        device_id,
        epoch,
        chat=jid_string(source.Chat),
        jid=jid_string(source.Sender),
        state=kind,
    )


def _node_attr(node: Any, name: str) -> str | None:
    """A whatsmeow binary node's attribute (neonize's `Node.Attrs`), as text, if set."""
    for attr in node.Attrs:
        if attr.name == name:
            if attr.HasField("jid"):
                return jid_string(attr.jid)
            return text(attr.text) if attr.text else str(attr.integer or attr.boolean or "")
    return None


def _call(device_id: str, epoch: int, meta: Any, state: str, **flags: bool) -> IncomingCall:
    """A call event from whatsmeow's BasicCallMeta: the caller is its `CallCreator` (else
    `From`), with `CallCreatorAlt` the other form (phone / LID) where known."""
    creator = meta.callCreator if meta.callCreator.User else getattr(meta, "from")
    phone, lid = _phone_and_lid(creator, meta.callCreatorAlt)
    return IncomingCall(
        device_id,
        epoch,
        call_id=text(meta.callID),
        caller=f"{text(creator.User)}@{text(creator.Server)}",
        caller_phone=phone,
        caller_lid=lid,
        state=state,
        at=_timestamp(int(meta.timestamp)),
        **flags,
    )


def call_offer(device_id: str, epoch: int, event: Any) -> IncomingCall:
    """`CallOfferEv`: a call rings. `Data` is the `<offer>` node: a `<video>` child makes it
    a video call, a `group-jid` (or `type="group"`) attribute a group call."""
    node = event.data
    video = any(text(child.Tag) == "video" for child in node.Nodes)
    group = bool(_node_attr(node, "group-jid")) or _node_attr(node, "type") == "group"
    return _call(device_id, epoch, event.basicCallMeta, "offer", video=video, group=group)


def call_offer_notice(device_id: str, epoch: int, event: Any) -> IncomingCall:
    """`CallOfferNoticeEv`: how whatsmeow hands on a group call's offer (`Type` "group",
    `Media` "audio" or "video")."""
    return _call(
        device_id,
        epoch,
        event.basicCallMeta,
        "offer",
        video=text(event.media) == "video",
        group=text(event.type) == "group",
    )


def call_update(device_id: str, epoch: int, event: Any, state: str) -> IncomingCall:
    """`CallAcceptEv` (state `accepted`) or `CallTerminateEv` (`missed` / `ended`, which the
    backend tells apart by whether the call was answered)."""
    return _call(device_id, epoch, event.basicCallMeta, state)


READ_SELF = 5  # Neonize.proto ReceiptEv.Type: whatsmeow's ReceiptTypeReadSelf ("read-self")


def owner_read(device_id: str, epoch: int, event: Any) -> OwnerRead | None:
    """A read-self receipt: the account's owner read these messages of a chat on the phone or
    another linked device. whatsmeow sends it from the account's own JID (`IsFromMe`), with
    `Chat` the chat read (the contact's JID, or the group). None for any other receipt."""
    if int(event.Type) != READ_SELF or not event.MessageSource.IsFromMe:
        return None
    ids = _texts(event.MessageIDs)
    if not ids:
        return None
    return OwnerRead(
        device_id,
        epoch,
        chat=jid_string(event.MessageSource.Chat),
        wa_message_ids=ids,
        at=_timestamp(int(event.Timestamp)),
    )


def receipt_event(device_id: str, epoch: int, event: Any) -> Receipt | OwnerRead | None:
    """A `ReceiptEv`: a recipient's receipt for a message the device sent (`receipt`), or the
    owner's read-self receipt for messages the device received (`owner_read`)."""
    if int(event.Type) == READ_SELF:
        return owner_read(device_id, epoch, event)
    return receipt(device_id, epoch, event)


def group_member(participant: Any) -> GroupMember:
    """A neonize `GroupParticipant`: its JID (a phone JID or a LID) with the other form
    where WhatsApp gives it (`PhoneNumber`, `LID`)."""
    phone, lid = _phone_and_lid(participant.JID, None)
    for other in (participant.PhoneNumber, participant.LID):
        more_phone, more_lid = _phone_and_lid(other, None)
        phone, lid = phone or more_phone, lid or more_lid
    return GroupMember(
        jid=jid_string(participant.JID),
        phone=phone,
        lid=lid,
        admin=bool(participant.IsAdmin or participant.IsSuperAdmin),
    )


def group_info(group: Any) -> GroupInfo:
    """A neonize `GroupInfo` (from `get_joined_groups` / `get_group_info`)."""
    members = tuple(group_member(p) for p in group.Participants)
    created = float(group.GroupCreated or 0)
    return GroupInfo(
        jid=jid_string(group.JID),
        name=text(group.GroupName.Name),
        participants=tuple(text(p.JID.User) for p in group.Participants),
        owner=text(group.OwnerJID.User) or None,
        admins=tuple(text(p.JID.User) for p in group.Participants if p.IsAdmin or p.IsSuperAdmin),
        description=text(group.GroupTopic.Topic) or None,
        announce=bool(group.GroupAnnounce.IsAnnounce),
        locked=bool(group.GroupLocked.isLocked),
        created_at=datetime.fromtimestamp(created, UTC) if created > 0 else None,
        members=members,
    )


# whatsmeow's per-participant error codes of a participant change.
PARTICIPANT_ERRORS = {403: "privacy_restricted", 409: "already_member"}


def participant_changes(
    action: str, asked: list[str], changed: Any
) -> list[GroupParticipantChange]:
    """update_group_participants' answer (neonize `GroupParticipant`s with `Error`) as a status
    per participant asked for, in the order asked; one WhatsApp does not mention: `error`."""
    by_user: dict[str, list[str]] = {}
    for participant in changed:
        code = int(participant.Error or 0)
        if code == 0:
            status = "ok"
        elif code == 404:
            status = "not_on_whatsapp" if action == "add" else "not_member"
        else:
            status = PARTICIPANT_ERRORS.get(code, "error")
        for jid in (participant.JID, participant.PhoneNumber):
            if getattr(jid, "User", ""):
                by_user.setdefault(text(jid.User), []).append(status)
    results = []
    for jid in asked:
        user = jid.partition("@")[0]
        phone = user if jid.endswith("@s.whatsapp.net") else None
        results.append(
            GroupParticipantChange(jid=jid, phone=phone, status=_next(by_user.get(user)))
        )
    return results


def _next(statuses: list[str] | None) -> str:
    """The next status WhatsApp gave for a participant (one asked for twice has two)."""
    return statuses.pop(0) if statuses else "error"


def _who(jid: Any, alt: Any = None) -> str | None:
    """Who did a group change: the phone number, else the JID."""
    phone, lid = _phone_and_lid(jid, alt)
    return phone or lid


# GroupInfoEvent's member lists → the `action` of a `group_participants` event.
GROUP_MEMBER_CHANGES = {"Join": "add", "Leave": "remove", "Promote": "promote", "Demote": "demote"}


def group_info_event(device_id: str, epoch: int, event: Any) -> list[GroupChanged]:
    """neonize's GroupInfoEv (whatsmeow's events.GroupInfo): members who joined, left, were
    promoted or demoted, and changed settings (name, topic, announce, locked)."""
    group, by = jid_string(event.JID), _who(event.Sender)
    changed: list[GroupChanged] = []
    for field_name, action in GROUP_MEMBER_CHANGES.items():
        members = getattr(event, field_name)
        if len(members):
            changed.append(
                GroupChanged(
                    device_id,
                    epoch,
                    kind="group_participants",
                    group=group,
                    by=by,
                    action=action,
                    participants=tuple(_who(m) or jid_string(m) for m in members),
                )
            )
    changes: dict[str, Any] = {}
    if event.HasField("Name"):
        changes["subject"] = text(event.Name.Name)
    if event.HasField("Topic"):
        changes["description"] = text(event.Topic.Topic) or None
    if event.HasField("Announce"):
        changes["announce"] = bool(event.Announce.IsAnnounce)
    if event.HasField("Locked"):
        changes["locked"] = bool(event.Locked.isLocked)
    if changes:
        changed.append(
            GroupChanged(
                device_id, epoch, kind="group_updated", group=group, by=by, changes=changes
            )
        )
    return changed


def joined_group(device_id: str, epoch: int, event: Any) -> GroupChanged:
    """neonize's JoinedGroupEv: the account was added to a group, or joined it by link."""
    info = event.GroupInfo
    return GroupChanged(
        device_id,
        epoch,
        kind="group_joined",
        group=jid_string(info.JID),
        by=_who(event.Sender, event.SenderPN),
        subject=text(info.GroupName.Name) or None,
    )
