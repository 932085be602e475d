"""Per-type rules for outbound messages (CONTRACT §3): what each type requires, and the
checks a send must pass before it is accepted into the queue."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wagateway.core.addresses import normalise_recipient
from wagateway.core.errors import ApiError, validation_error
from wagateway.messages.schemas import SendMessageRequest

MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
# The mime families each media type accepts (document: anything).
MIME_FAMILIES = {
    "image": ("image/",),
    "video": ("video/",),
    "audio": ("audio/",),
    "sticker": ("image/webp",),
}
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*(;.*)?$", re.I)
TEXT_MAX = 65536
CAPTION_MAX = 3000


@dataclass
class PreparedMessage:
    chat: str
    type: str
    content: dict[str, Any]
    media: bytes | None = None
    media_url: str | None = None
    reply_to: str | None = None
    mentions: list[str] = field(default_factory=list)


def _require(value: Any, name: str, type_: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise validation_error(f"{name} is required for type {type_}", name)
    return value


def _max_len(value: str | None, name: str, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise validation_error(f"{name} is longer than {limit} characters", name)


def _media(req: SendMessageRequest, max_bytes: int) -> tuple[bytes | None, str | None]:
    sources = [s for s in ("url", "data_base64") if getattr(req, s)]
    if len(sources) != 1:
        raise validation_error(
            f"type {req.type} needs exactly one media source: url or data_base64",
            "data_base64" if len(sources) > 1 else "url",
        )
    mime = _require(req.mime_type, "mime_type", req.type)
    if not _MIME.match(mime):
        raise validation_error("mime_type must look like type/subtype", "mime_type")
    families = MIME_FAMILIES.get(req.type)
    if families and not mime.lower().startswith(families):
        raise validation_error(f"mime_type {mime} does not fit type {req.type}", "mime_type")
    if req.url:
        parts = urlsplit(req.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise validation_error("url must be an http(s):// URL", "url")
        return None, req.url
    raw = "".join((req.data_base64 or "").split())
    if len(raw) * 3 // 4 > max_bytes + 3:
        raise _too_large(max_bytes)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise validation_error("data_base64 is not valid base64", "data_base64") from exc
    if not data:
        raise validation_error("data_base64 is empty", "data_base64")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data, None


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "request_too_large",
        f"media is larger than {max_bytes} bytes",
        {"field": "data_base64"},
    )


def prepare(req: SendMessageRequest, media_max_bytes: int) -> PreparedMessage:
    """Check a send request and turn it into what the queue stores (400/413 otherwise)."""
    chat = normalise_recipient(req.to)
    content: dict[str, Any] = {}
    media: bytes | None = None
    media_url: str | None = None
    t = req.type
    if t == "text":
        content["text"] = _require(req.text, "text", t)
        _max_len(req.text, "text", TEXT_MAX)
        if req.preview_url is not None:
            content["preview_url"] = req.preview_url
    elif t in MEDIA_TYPES:
        media, media_url = _media(req, media_max_bytes)
        content["mime_type"] = req.mime_type
        _max_len(req.caption, "caption", CAPTION_MAX)
        if req.caption is not None and t in ("image", "video", "document"):
            content["caption"] = req.caption
        if t == "audio":
            content["ptt"] = bool(req.ptt)
        if t == "document":
            _max_len(req.file_name, "file_name", 255)
            content["file_name"] = req.file_name or "document"
    elif t == "contact":
        content["contact_name"] = _require(req.contact_name, "contact_name", t)
        vcard = _require(req.vcard, "vcard", t)
        if "BEGIN:VCARD" not in vcard.upper():
            raise validation_error("vcard must be a vCard (BEGIN:VCARD … END:VCARD)", "vcard")
        content["vcard"] = vcard
    elif t == "location":
        lat = _require(req.latitude, "latitude", t)
        lon = _require(req.longitude, "longitude", t)
        if not -90 <= lat <= 90:
            raise validation_error("latitude must be between -90 and 90", "latitude")
        if not -180 <= lon <= 180:
            raise validation_error("longitude must be between -180 and 180", "longitude")
        content.update(latitude=lat, longitude=lon)
        for key in ("address", "name"):
            if getattr(req, key) is not None:
                content[key] = getattr(req, key)
    elif t == "reaction":
        content["message_id"] = _require(req.message_id, "message_id", t)
        emoji = req.emoji
        if emoji is None:
            raise validation_error("emoji is required for type reaction", "emoji")
        if len(emoji) > 10:
            raise validation_error("emoji must be a single emoji (or empty to remove)", "emoji")
        content["emoji"] = emoji
    elif t == "interactive":
        content.update(_interactive(req))
    if req.mentions is not None:
        mentions = [normalise_recipient(m, "mentions") for m in req.mentions]
    else:
        mentions = []
    if req.reply_to is not None and not req.reply_to.strip():
        raise validation_error("reply_to must be a WhatsApp message id", "reply_to")
    return PreparedMessage(chat, t, content, media, media_url, req.reply_to, mentions)


def _interactive(req: SendMessageRequest) -> dict[str, Any]:
    if req.buttons and req.poll_question:
        raise validation_error("send either buttons or a poll, not both", "buttons")
    content: dict[str, Any] = {}
    if req.buttons:
        if len(req.buttons) > 3:
            raise validation_error("at most 3 buttons", "buttons")
        content["text"] = _require(req.text, "text", "interactive with buttons")
        content["buttons"] = [b.model_dump() for b in req.buttons]
    elif req.poll_question:
        options = req.poll_options or []
        if not 2 <= len(options) <= 12:
            raise validation_error("a poll needs 2 to 12 poll_options", "poll_options")
        if len(set(options)) != len(options) or any(not o.strip() for o in options):
            raise validation_error("poll_options must be distinct and non-empty", "poll_options")
        content.update(
            poll_question=req.poll_question, poll_options=options, poll_multi=bool(req.poll_multi)
        )
    else:
        raise validation_error("interactive needs buttons or poll_question", "buttons")
    if req.footer is not None:
        content["footer"] = req.footer
    return content
