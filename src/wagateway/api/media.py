"""`GET /media?path=` (CONTRACT §3): an app's stored media, and nothing else."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Response

from wagateway.api.deps import CurrentApp
from wagateway.core.errors import not_found, validation_error
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.gateway import GatewayDep
from wagateway.messages.archive import message_with_media

router = APIRouter(tags=["media"])

# The only shape a media path has: media/{app_id}/{device_id}-{message_id}.{ext}. Matching it
# whole leaves no room for "..", slashes, backslashes, encodings or absolute paths.
_MEDIA_PATH = re.compile(r"media/([0-9a-f-]{36})/([0-9a-f-]{36})-([0-9a-f-]{36})\.([a-z0-9]{1,10})")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", re.I)


def content_disposition(file_name: str) -> str:
    """`attachment` with the name as the sender gave it (RFC 6266): an ASCII `filename` for
    old clients and, when the name is more than that, `filename*` in UTF-8. A name comes
    from whoever sent the attachment: control characters (a CR LF would split the header),
    quotes and backslashes never reach the header as they are."""
    printable = "".join(ch for ch in file_name if ch.isprintable()).strip()
    fallback = printable.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    header = f'attachment; filename="{fallback.strip() or "download"}"'
    if printable and fallback != printable:
        header += f"; filename*=UTF-8''{quote(printable, safe='')}"
    return header


@router.get(
    "/media",
    response_class=Response,
    responses={
        200: {
            "description": "The file, with the `Content-Type` it came with (or "
            "`application/octet-stream`) and `Content-Disposition: attachment`",
            # Listed first for generated clients (bytes); `*/*` for the file's own type.
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ("application/octet-stream", "*/*")
            },
        },
        **errors(APP_CALLER, "validation_error", "not_found"),
    },
)
async def get_media(path: str, app: CurrentApp, gw: GatewayDep) -> Response:
    """Download an inbound attachment by the `media_path` its `message` event gave."""
    match = _MEDIA_PATH.fullmatch(path)  # not .match: "$" would let a trailing newline by
    if match is None:
        raise validation_error("path must be a media_path given by this API", "path")
    if match.group(1) != app.id:
        raise not_found("media")  # another app's media: as if it did not exist
    message = await message_with_media(gw.db, app.id, path)
    if message is None:
        raise not_found("media")
    try:
        data = await gw.media.get(path)
    except (FileNotFoundError, ValueError) as exc:
        raise not_found("media") from exc
    filename = str(message.content.get("file_name") or path.rsplit("/", 1)[1])
    mime_type = str(message.content.get("mime_type") or "")
    return Response(
        data,
        media_type=mime_type if _MIME_TYPE.fullmatch(mime_type) else "application/octet-stream",
        headers={"Content-Disposition": content_disposition(filename)},
    )
