"""The account itself (CONTRACT §8.4): restart the session, change the own profile, block and
unblock contacts. Each asks the device's engine (outside any transaction) and records only
what the engine did; the restart's `connection` changes come back as the engine's
`ConnectionLost` / `Connected` events, through the runtime like any reconnect."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from wagateway.audit.service import Actor
from wagateway.core.addresses import normalise_recipient
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError, validation_error
from wagateway.devices.models import Device
from wagateway.devices.refusals import engine_failed, not_connected
from wagateway.devices.runtime import SessionRuntime
from wagateway.devices.service import DeviceService, _record
from wagateway.devices.state import Connection, Status
from wagateway.engines.base import Engine, EngineError

PUSH_NAME_MAX = 25  # WhatsApp's limit on a push name
ABOUT_MAX = 139  # WhatsApp's limit on the about text
PICTURE_MIME = ("image/jpeg", "image/png")
# How long the dashboard shows a blocklist before asking the engine again (seconds).
BLOCKLIST_MAX_AGE = 30.0


@dataclass(frozen=True)
class ProfileChange:
    name: str | None = None
    about: str | None = None
    picture: bytes | None = None
    # A picture given by URL: fetched once the device is known to be the caller's and
    # connected (`AccountActions.update_profile`), then checked as `picture`.
    picture_url: str | None = None

    @property
    def parts(self) -> list[str]:
        picture = self.picture is not None or self.picture_url is not None
        given = {"name": self.name is not None, "about": self.about is not None}
        return [k for k, v in {**given, "picture": picture}.items() if v]


# Fetches a picture's URL (the outbound address rules apply), or raises ApiError.
PictureFetch = Callable[[str], Awaitable[bytes]]


def contact_jid(raw: str) -> str:
    """A contact to block: a phone, phone JID or LID JID (a group is not a contact → 400)."""
    jid = normalise_recipient(raw, "jid")
    if jid.endswith("@g.us"):
        raise validation_error("a group cannot be blocked: give a contact's phone or JID", "jid")
    return jid


def profile_change(
    name: str | None,
    about: str | None,
    picture_base64: str | None,
    picture_mime: str | None,
    max_bytes: int,
    picture_url: str | None = None,
) -> ProfileChange:
    """The checked change of `PATCH /devices/{id}/profile`: at least one part, each valid.
    The picture is a media source as a message's (CONTRACT §3): exactly one of
    `data_base64` and `url`, with `mime_type`."""
    if name is None and about is None and picture_base64 is None and picture_url is None:
        raise validation_error("give at least one of name, about, picture", "name")
    if picture_base64 is not None and picture_url is not None:
        raise validation_error(
            "picture needs exactly one media source: url or data_base64", "picture.data_base64"
        )
    if picture_url is not None:
        _picture_mime(picture_mime)
        parts = urlsplit(picture_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise validation_error("picture.url must be an http(s):// URL", "picture.url")
    if name is not None:
        name = name.strip()
        if not name or len(name) > PUSH_NAME_MAX:
            raise validation_error(f"name must be 1 to {PUSH_NAME_MAX} characters", "name")
    if about is not None and len(about) > ABOUT_MAX:
        raise validation_error(f"about is longer than {ABOUT_MAX} characters", "about")
    picture = None
    if picture_base64 is not None:
        _picture_mime(picture_mime)
        raw = "".join(picture_base64.split())
        if len(raw) * 3 // 4 > max_bytes + 3:
            raise _too_large(max_bytes)
        try:
            picture = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise validation_error(
                "picture.data_base64 is not valid base64", "picture.data_base64"
            ) from exc
        if not picture:
            raise validation_error("picture.data_base64 is empty", "picture.data_base64")
        if len(picture) > max_bytes:
            raise _too_large(max_bytes)
    return ProfileChange(name=name, about=about, picture=picture, picture_url=picture_url)


def _picture_mime(mime: str | None) -> None:
    if (mime or "").lower() not in PICTURE_MIME:
        raise validation_error(
            "picture.mime_type must be image/jpeg or image/png", "picture.mime_type"
        )


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "request_too_large",
        f"picture is larger than {max_bytes} bytes",
        {"field": "picture.data_base64"},
    )


class AccountActions:
    def __init__(self, db: Database, runtime: SessionRuntime) -> None:
        self._db = db
        self._runtime = runtime
        # The last blocklist answered per device, with when (`recent_blocklist`).
        self._blocklists: dict[str, tuple[float, list[str]]] = {}

    async def _connected(self, app_id: str, device_id: str) -> tuple[Device, Engine]:
        async with self._db.read() as session:
            device = await DeviceService.load(session, app_id, device_id)
        if device.status != Status.CONNECTED:
            raise not_connected(device)
        try:
            return device, self._runtime.engine_for(device.engine)
        except EngineError as exc:
            raise engine_failed(exc) from exc

    async def restart(self, app_id: str, device_id: str, *, actor: Actor | None = None) -> Device:
        """Reconnect a linked device without unlinking. Answered with `connection:
        reconnecting` (written before the engine is asked, so its events come after); the
        engine's ConnectionLost and Connected then drive it back to `online`
        (`device_connected` with `reconnected: true`)."""
        async with self._db.transaction() as session:
            device = await DeviceService.load(session, app_id, device_id, for_update=True)
            if device.status != Status.CONNECTED:
                raise not_connected(device)
            if actor is not None:
                _record(session, actor, "device.restart", device)
            before = device.connection
            device.connection = Connection.RECONNECTING
            device.updated_at = utcnow()
        try:
            await self._runtime.engine_for(device.engine).reconnect(device.id)
        except EngineError as exc:
            async with self._db.transaction() as session:
                row = await DeviceService.load(session, app_id, device_id, for_update=True)
                same = row.session_epoch == device.session_epoch
                if same and row.connection == Connection.RECONNECTING:
                    row.connection = before
            raise engine_failed(exc) from exc
        return device

    async def update_profile(
        self,
        app_id: str,
        device_id: str,
        change: ProfileChange,
        fetch_picture: PictureFetch | None = None,
    ) -> None:
        """Push the change to WhatsApp; a picture given by URL is fetched first (after the
        device checks, so no URL is fetched for a device that is not the caller's)."""
        device, engine = await self._connected(app_id, device_id)
        if change.picture_url is not None:
            if fetch_picture is None:
                raise validation_error("a picture URL cannot be fetched here", "picture.url")
            change = dataclasses.replace(
                change, picture=await fetch_picture(change.picture_url), picture_url=None
            )
        try:
            await engine.update_own_profile(
                device.id, name=change.name, about=change.about, picture=change.picture
            )
        except EngineError as exc:
            raise engine_failed(exc) from exc

    async def set_blocked(self, app_id: str, device_id: str, jid: str, blocked: bool) -> str:
        target = contact_jid(jid)
        device, engine = await self._connected(app_id, device_id)
        self._blocklists.pop(device.id, None)
        try:
            await engine.set_blocked(device.id, target, blocked)
        except EngineError as exc:
            raise engine_failed(exc) from exc
        return target

    async def blocklist(self, app_id: str, device_id: str) -> list[str]:
        device, engine = await self._connected(app_id, device_id)
        try:
            found = await engine.blocklist(device.id)
        except EngineError as exc:
            raise engine_failed(exc) from exc
        self._blocklists[device.id] = (time.monotonic(), found)
        return found

    async def recent_blocklist(
        self, app_id: str, device_id: str, max_age: float = BLOCKLIST_MAX_AGE
    ) -> list[str]:
        """The blocklist as last asked within `max_age` seconds (a block or unblock through
        this process forgets it), else asked anew: for pages that refresh themselves every few
        seconds, which must not ask WhatsApp each time (whatsmeow sends a query per call)."""
        seen = self._blocklists.get(device_id)
        if seen is not None and time.monotonic() - seen[0] < max_age:
            async with self._db.read() as session:
                await DeviceService.load(session, app_id, device_id)  # still the caller's
            return list(seen[1])
        return await self.blocklist(app_id, device_id)
