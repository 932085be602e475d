"""The account itself (CONTRACT §8.4): restart the session, the own profile, blocking.
Thin: parse, authorise, one service call."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.core.addresses import jid_user
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.devices.account import ABOUT_MAX, PUSH_NAME_MAX, profile_change
from wagateway.devices.schemas import DeviceOut
from wagateway.gateway import GatewayDep
from wagateway.messages.queue import MediaFetchError

router = APIRouter(prefix="/devices/{device_id}", tags=["account"])
# An account action reaches WhatsApp: it needs a connected device.
ACCOUNT_ROUTE = (*DEVICE_ROUTE, "device_not_connected")


class PictureSource(BaseModel):
    """A media source as a message's (CONTRACT §3): exactly one of `url` and `data_base64`."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None,
        description="media source: fetched by the gateway (outbound address rules, no "
        "redirects, up to WAGW_SEND_MEDIA_MAX_BYTES)",
    )
    data_base64: str | None = Field(None, description="media source: the bytes, base64")
    mime_type: str = Field(description="`image/jpeg` or `image/png`")


class OwnProfileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, description=f"the account's push name (1 to {PUSH_NAME_MAX} characters)"
    )
    about: str | None = Field(
        None, description=f"the about text (up to {ABOUT_MAX} characters; empty clears it)"
    )
    picture: PictureSource | None = Field(
        None, description="the profile picture: a media source (`data_base64` + `mime_type`)"
    )


class OwnProfileOut(BaseModel):
    updated: list[str] = Field(description="the parts changed: `name`, `about`, `picture`")


class BlockOut(BaseModel):
    jid: str
    phone: str | None
    blocked: bool


class BlockedContact(BaseModel):
    jid: str
    phone: str | None = Field(description="the phone number for a phone JID, else null")


class BlocklistOut(BaseModel):
    blocklist: list[BlockedContact]


def _phone(jid: str) -> str | None:
    return jid_user(jid) if jid.endswith("@s.whatsapp.net") else None


@router.post("/restart", response_model=DeviceOut, responses=errors(ACCOUNT_ROUTE))
async def restart(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """Reconnect the session without unlinking: answered with `connection: reconnecting`;
    back `online` once WhatsApp accepted the new connection (`device_connected`,
    `reconnected: true`). 409 `device_not_connected` unless the device is linked and online."""
    return DeviceOut.of(await gw.account.restart(app.id, device_id))


@router.patch("/profile", response_model=OwnProfileOut, responses=errors(ACCOUNT_ROUTE, WITH_BODY))
async def update_profile(
    device_id: str, body: OwnProfileRequest, app: CurrentApp, gw: GatewayDep
) -> OwnProfileOut:
    """Change the account's own push name, about text and/or picture. At least one of them
    (an empty or all-null body is 400 `validation_error`). The picture is a media source
    (`url` or `data_base64`, with `mime_type` `image/jpeg` or `image/png`); a URL that cannot
    be fetched is 400."""
    picture = body.picture
    if picture is not None and picture.url is None and picture.data_base64 is None:
        raise validation_error(
            "picture needs exactly one media source: url or data_base64", "picture.url"
        )
    change = profile_change(
        body.name,
        body.about,
        picture.data_base64 if picture else None,
        picture.mime_type if picture else None,
        gw.settings.media_max_bytes,
        picture_url=picture.url if picture else None,
    )

    async def fetch_picture(url: str) -> bytes:
        try:
            data = await gw.queue.fetch_url(url)
        except MediaFetchError as exc:
            raise ApiError(
                400,
                "validation_error",
                f"picture.url could not be used: {exc}",
                {"field": "picture.url"},
            ) from exc
        if not data:
            raise validation_error("picture.url answered no bytes", "picture.url")
        return data

    await gw.account.update_profile(app.id, device_id, change, fetch_picture)
    return OwnProfileOut(updated=change.parts)


@router.post("/contacts/{jid}/block", response_model=BlockOut, responses=errors(ACCOUNT_ROUTE))
async def block(device_id: str, jid: str, app: CurrentApp, gw: GatewayDep) -> BlockOut:
    """Block a contact (`jid`: phone, phone JID or LID JID; a group is 400)."""
    target = await gw.account.set_blocked(app.id, device_id, jid, True)
    return BlockOut(jid=target, phone=_phone(target), blocked=True)


@router.post("/contacts/{jid}/unblock", response_model=BlockOut, responses=errors(ACCOUNT_ROUTE))
async def unblock(device_id: str, jid: str, app: CurrentApp, gw: GatewayDep) -> BlockOut:
    """Unblock a contact (`jid` as for block)."""
    target = await gw.account.set_blocked(app.id, device_id, jid, False)
    return BlockOut(jid=target, phone=_phone(target), blocked=False)


@router.get("/blocklist", response_model=BlocklistOut, responses=errors(ACCOUNT_ROUTE))
async def blocklist(device_id: str, app: CurrentApp, gw: GatewayDep) -> BlocklistOut:
    """The contacts the account has blocked: `jid`, and `phone` for a phone JID."""
    jids = await gw.account.blocklist(app.id, device_id)
    return BlocklistOut(blocklist=[BlockedContact(jid=j, phone=_phone(j)) for j in jids])
