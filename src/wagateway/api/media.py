"""An app's stored media, and nothing else: `GET /media?path=` with the app's token
(CONTRACT §3), the signed `media_url` links without one, and `GET /devices/{device_id}/media`
for internal callers by device (CONTRACT §10). All three answer the same file the same way."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Response

from wagateway.api.deps import CurrentApp
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.openapi import APP_CALLER, DEVICE_ROUTE, errors
from wagateway.gateway import Gateway, GatewayDep
from wagateway.media.links import EXPIRED, INVALID
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


_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with the `Content-Type` it came with (or "
        "`application/octet-stream`) and `Content-Disposition: attachment`",
        # Listed first for generated clients (bytes); `*/*` for the file's own type.
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in ("application/octet-stream", "*/*")
        },
    },
}


async def _file(gw: Gateway, app_id: str, path: str) -> Response:
    """The file at `path`, a `media_path` of `app_id` whose shape was checked: 404 unless a
    message of that app has its attachment stored there."""
    message = await message_with_media(gw.db, app_id, path)
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


def _checked(path: str) -> re.Match[str]:
    match = _MEDIA_PATH.fullmatch(path)  # not .match: "$" would let a trailing newline by
    if match is None:
        raise validation_error("path must be a media_path given by this API", "path")
    return match


@router.get(
    "/media",
    response_class=Response,
    responses={**_FILE_RESPONSE, **errors(APP_CALLER, "validation_error", "not_found")},
)
async def get_media(path: str, app: CurrentApp, gw: GatewayDep) -> Response:
    """Download an inbound attachment by the `media_path` its `message` event gave."""
    if _checked(path).group(1) != app.id:
        raise not_found("media")  # another app's media: as if it did not exist
    return await _file(gw, app.id, path)


@router.get(
    "/devices/{device_id}/media",
    response_class=Response,
    responses={**_FILE_RESPONSE, **errors(DEVICE_ROUTE)},
)
async def get_device_media(device_id: str, path: str, app: CurrentApp, gw: GatewayDep) -> Response:
    """Download an attachment of this device by its `media_path`: what `GET /media` does,
    for internal callers, who name a device instead of carrying a token (CONTRACT §10)."""
    await gw.devices.get(app.id, device_id)  # 404 another app's, 410 a destroyed device
    match = _checked(path)
    if match.group(1) != app.id or match.group(2) != device_id:
        raise not_found("media")  # another device's or app's media: as if it did not exist
    return await _file(gw, app.id, path)


@router.get(
    "/media/link",
    response_class=Response,
    responses={**_FILE_RESPONSE, **errors("validation_error", "forbidden", "not_found")},
)
async def get_linked_media(path: str, expires: int, sig: str, gw: GatewayDep) -> Response:
    """Download an attachment by its `media_url`, without a token (CONTRACT §10). A link whose
    signature does not match (changed, or made for another app's path) is 404 `not_found`,
    as a file that does not exist; a genuine link past its expiry is 403 `forbidden` with
    `details.reason` `expired` (the file stays available with the app's token)."""
    app_id = _checked(path).group(1)
    refusal = gw.media_links.refusal(app_id, path, expires, sig)
    if refusal == INVALID:
        raise not_found("media")  # as a file that does not exist: a forgery learns nothing
    if refusal == EXPIRED:
        raise ApiError(
            403,
            "forbidden",
            "this media link has expired: fetch the file with the app's token (GET /media)",
            {"reason": EXPIRED},
        )
    return await _file(gw, app_id, path)
