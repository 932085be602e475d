"""OutboundMessage → neonize's waE2E `Message`, built from bytes only.

Media is uploaded with `client.upload(bytes, MediaType)` and the message is assembled from
the upload's keys and hashes here, instead of neonize's `build_*_message` helpers: those take
`str` as a URL *or a local path* (a user-controlled path must never reach them) and the video,
audio and sticker helpers shell out to ffmpeg. Reply and mentions go in `contextInfo`.
"""

from __future__ import annotations

import time
from typing import Any

from wagateway.engines.base import OutboundMessage, SendError
from wagateway.engines.whatsmeow import neonize_loader

# neonize.utils.enum.MediaType values
MEDIA_IMAGE, MEDIA_VIDEO, MEDIA_AUDIO, MEDIA_DOCUMENT = 0, 1, 2, 3
UPLOAD_KIND = {
    "image": MEDIA_IMAGE,
    "sticker": MEDIA_IMAGE,
    "video": MEDIA_VIDEO,
    "audio": MEDIA_AUDIO,
    "document": MEDIA_DOCUMENT,
}


def _e2e() -> Any:
    return neonize_loader.module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")


def _media_type(value: int) -> Any:
    enum = neonize_loader.module("neonize.utils.enum")
    return enum.MediaType(value)


def _context(e2e: Any, message: OutboundMessage) -> Any | None:
    if not message.reply_to and not message.mentions:
        return None
    context = e2e.ContextInfo(mentionedJID=list(message.mentions))
    if message.reply_to:
        context.stanzaID = message.reply_to
        # participant + quotedMessage: without them WhatsApp shows no quote.
        # (Not known for an id the gateway has not seen: then only the id, as before.)
        if message.quoted_sender:
            context.participant = message.quoted_sender
            context.quotedMessage.CopyFrom(e2e.Message(conversation=message.quoted_text or ""))
    return context


def _media_fields(upload: Any, message: OutboundMessage) -> dict[str, Any]:
    return {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": str(message.content.get("mime_type") or ""),
        "mediaKeyTimestamp": int(time.time()),
    }


async def build(client: Any, message: OutboundMessage) -> Any:
    """The protobuf Message to hand to `client.send_message`. Raises SendError for what this
    engine cannot send."""
    e2e = _e2e()
    content = message.content
    context = _context(e2e, message)
    kind = message.type

    if kind == "text":
        text = str(content.get("text", ""))
        preview = message.link_preview
        if context is None and not preview:
            return e2e.Message(conversation=text)
        extended = e2e.ExtendedTextMessage(text=text)
        if context is not None:
            extended.contextInfo.CopyFrom(context)
        if preview:
            # Fetched by the gateway under the outbound address rules; neonize's own
            # link_preview=True fetches by itself (no timeout, no address rules): never used.
            extended.matchedText = preview["url"]
            extended.title = preview.get("title", "")
            extended.description = preview.get("description", "")
            extended.previewType = e2e.ExtendedTextMessage.PreviewType.NONE
        return e2e.Message(extendedTextMessage=extended)

    if kind in UPLOAD_KIND:
        if message.media is None:
            raise SendError("media_error", "the media bytes are missing", permanent=True)
        upload = await client.upload(message.media, _media_type(UPLOAD_KIND[kind]))
        fields = _media_fields(upload, message)
        if context is not None:
            fields["contextInfo"] = context
        caption = content.get("caption")
        if kind == "image":
            return e2e.Message(imageMessage=e2e.ImageMessage(caption=caption, **fields))
        if kind == "video":
            return e2e.Message(videoMessage=e2e.VideoMessage(caption=caption, **fields))
        if kind == "audio":
            audio = e2e.AudioMessage(PTT=bool(content.get("ptt")), **fields)
            return e2e.Message(audioMessage=audio)
        if kind == "sticker":
            return e2e.Message(stickerMessage=e2e.StickerMessage(**fields))
        name = content.get("file_name")
        document = e2e.DocumentMessage(caption=caption, fileName=name, title=name, **fields)
        return e2e.Message(documentMessage=document)

    if kind == "contact":
        contact = e2e.ContactMessage(
            displayName=str(content.get("contact_name", "")), vcard=str(content.get("vcard", ""))
        )
        if context is not None:
            contact.contextInfo.CopyFrom(context)
        return e2e.Message(contactMessage=contact)

    if kind == "location":
        location = e2e.LocationMessage(
            degreesLatitude=float(content["latitude"]),
            degreesLongitude=float(content["longitude"]),
            name=content.get("name"),
            address=content.get("address"),
        )
        if context is not None:
            location.contextInfo.CopyFrom(context)
        return e2e.Message(locationMessage=location)

    if kind == "reaction":
        common = neonize_loader.module("neonize.proto.waCommon.WACommon_pb2")
        # The key names the target as WhatsApp does: fromMe for the account's own message;
        # in a group, the participant who wrote a contact's message. An id the gateway does
        # not know is taken to be a contact's message (the usual case).
        key = common.MessageKey(
            remoteJID=message.to_jid,
            fromMe=message.quoted_from_me,
            ID=str(content.get("message_id", "")),
        )
        if message.to_jid.endswith("@g.us") and message.quoted_sender:
            key.participant = message.quoted_sender
        reaction = e2e.ReactionMessage(
            key=key, text=str(content.get("emoji", "")), senderTimestampMS=int(time.time() * 1000)
        )
        return e2e.Message(reactionMessage=reaction)

    if kind == "interactive" and content.get("poll_question"):
        enum = neonize_loader.module("neonize.utils.enum")
        selectable = enum.VoteType.MULTIPLE if content.get("poll_multi") else enum.VoteType.SINGLE
        return await client.build_poll_vote_creation(
            str(content["poll_question"]),
            [str(o) for o in content.get("poll_options", [])],
            selectable,
        )

    raise SendError(
        "unsupported_type",
        f"{kind} messages cannot be sent by the whatsmeow engine"
        + (
            " (WhatsApp no longer shows buttons from companion devices)"
            if kind == "interactive"
            else ""
        ),
        permanent=True,
    )
