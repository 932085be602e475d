"""Group changes (CONTRACT §8.3): settings, participants, leaving. Thin: parse, authorise,
one engine call; the engine keeps WhatsApp's rules (admins only)."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.api.device_queries import GroupOut, _connected, group_jid, group_out
from wagateway.core.addresses import normalise_recipient
from wagateway.core.errors import not_found, validation_error
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.devices.refusals import group_refusal
from wagateway.engines.base import INVITE_LINK_PREFIX, EngineError, with_valid_text
from wagateway.gateway import Gateway, GatewayDep

router = APIRouter(prefix="/devices/{device_id}", tags=["groups"])
# A group change reaches WhatsApp (a connected device) and may need admin rights.
GROUP_ROUTE = (*DEVICE_ROUTE, "device_not_connected", "forbidden")


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2048)
    announce: bool | None = Field(None, description="only admins send messages")
    locked: bool | None = Field(None, description="only admins change the group's settings")


class ParticipantsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "remove", "promote", "demote"]
    participants: list[str] = Field(description="phone numbers or JIDs, as a message's `to`")


class ParticipantChangeOut(BaseModel):
    jid: str
    phone: str | None
    status: str = Field(
        description="`ok`, `not_on_whatsapp`, `privacy_restricted`, `already_member`, "
        "`not_member` or `error`"
    )


class ParticipantsOut(BaseModel):
    participants: list[ParticipantChangeOut]


class LeftOut(BaseModel):
    group: str
    left: bool = True


@router.patch("/groups/{group}", response_model=GroupOut, responses=errors(GROUP_ROUTE, WITH_BODY))
async def update_group(
    device_id: str, group: str, body: GroupUpdate, app: CurrentApp, gw: GatewayDep
) -> GroupOut:
    """Changes the group's subject, description, `announce` or `locked` (admins only)."""
    jid = group_jid(group)
    changes = body.model_dump(exclude_unset=True)
    if "subject" in changes and changes["subject"] is None:
        raise validation_error("subject cannot be null", "subject")
    for name in ("announce", "locked"):
        if name in changes and changes[name] is None:
            raise validation_error(f"{name} cannot be null", name)
    if not changes:
        raise validation_error("nothing to change", "subject")
    device, engine = await _connected(gw, app.id, device_id)
    try:
        await engine.update_group(device.id, jid, changes)
        found = [with_valid_text(g) for g in await engine.groups(device.id)]
    except EngineError as exc:
        raise group_refusal(exc) from exc
    match = next((g for g in found if g.jid == jid), None)
    if match is None:
        raise not_found("group")
    return group_out(match)


@router.post(
    "/groups/{group}/participants",
    response_model=ParticipantsOut,
    responses=errors(GROUP_ROUTE, WITH_BODY),
)
async def change_participants(
    device_id: str, group: str, body: ParticipantsRequest, app: CurrentApp, gw: GatewayDep
) -> ParticipantsOut:
    """Adds, removes, promotes or demotes participants (admins only): a status for each."""
    jid = group_jid(group)
    if not body.participants:
        raise validation_error("participants must not be empty", "participants")
    if len(body.participants) > 256:
        raise validation_error("at most 256 participants at once", "participants")
    targets = [normalise_recipient(p, "participants") for p in body.participants]
    if any(not t.endswith("@s.whatsapp.net") and not t.endswith("@lid") for t in targets):
        raise validation_error("participants are people, not groups", "participants")
    device, engine = await _connected(gw, app.id, device_id)
    try:
        changes = await engine.update_group_participants(device.id, jid, body.action, targets)
    except EngineError as exc:
        raise group_refusal(exc) from exc
    return ParticipantsOut(
        participants=[
            ParticipantChangeOut(jid=c.jid, phone=c.phone, status=c.status) for c in changes
        ]
    )


@router.post("/groups/{group}/leave", response_model=LeftOut, responses=errors(GROUP_ROUTE))
async def leave_group(device_id: str, group: str, app: CurrentApp, gw: GatewayDep) -> LeftOut:
    """The account leaves the group."""
    jid = group_jid(group)
    device, engine = await _connected(gw, app.id, device_id)
    try:
        await engine.leave_group(device.id, jid)
    except EngineError as exc:
        raise group_refusal(exc) from exc
    return LeftOut(group=jid)


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=100)
    participants: list[str] = Field(
        default_factory=list, description="phone numbers or JIDs, as a message's `to`"
    )


class InviteLinkOut(BaseModel):
    group: str
    invite_link: str


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invite_link: str = Field(description="https://chat.whatsapp.com/<code>, or the code alone")


_INVITE_CODE = re.compile(r"[A-Za-z0-9]{16,32}")


def invite_code(link: str) -> str:
    """The code of an invite link; 400 when it is not one."""
    value = link.strip()
    for prefix in (INVITE_LINK_PREFIX, "http://chat.whatsapp.com/", "chat.whatsapp.com/"):
        if value.startswith(prefix):
            value = value.removeprefix(prefix)
            break
    if not _INVITE_CODE.fullmatch(value):
        raise validation_error("invite_link must be a WhatsApp group invite link", "invite_link")
    return value


@router.post(
    "/groups",
    response_model=GroupOut,
    status_code=201,
    responses=errors(GROUP_ROUTE, WITH_BODY),
)
async def create_group(
    device_id: str, body: GroupCreate, app: CurrentApp, gw: GatewayDep
) -> GroupOut:
    """Creates a group with the account as its owner and admin, and the participants that
    can be added (see `GET …/groups/{group}` for who is in it)."""
    device, engine = await _connected(gw, app.id, device_id)
    if len(body.participants) > 256:
        raise validation_error("at most 256 participants at once", "participants")
    targets = [normalise_recipient(p, "participants") for p in body.participants]
    if any(t.endswith("@g.us") for t in targets):
        raise validation_error("participants are people, not groups", "participants")
    try:
        created = with_valid_text(await engine.create_group(device.id, body.subject, targets))
    except EngineError as exc:
        raise group_refusal(exc) from exc
    return group_out(created)


@router.get(
    "/groups/{group}/invite-link", response_model=InviteLinkOut, responses=errors(GROUP_ROUTE)
)
async def invite_link(device_id: str, group: str, app: CurrentApp, gw: GatewayDep) -> InviteLinkOut:
    """The group's invite link (admins only)."""
    return await _invite_link(gw, app.id, device_id, group, reset=False)


@router.post(
    "/groups/{group}/invite-link/reset",
    response_model=InviteLinkOut,
    responses=errors(GROUP_ROUTE),
)
async def reset_invite_link(
    device_id: str, group: str, app: CurrentApp, gw: GatewayDep
) -> InviteLinkOut:
    """A new invite link for the group (admins only): the old one stops working."""
    return await _invite_link(gw, app.id, device_id, group, reset=True)


async def _invite_link(
    gw: Gateway, app_id: str, device_id: str, group: str, *, reset: bool
) -> InviteLinkOut:
    jid = group_jid(group)
    device, engine = await _connected(gw, app_id, device_id)
    try:
        link = await engine.group_invite_link(device.id, jid, reset)
    except EngineError as exc:
        raise group_refusal(exc) from exc
    return InviteLinkOut(group=jid, invite_link=link)


@router.post("/groups/join", response_model=GroupOut, responses=errors(GROUP_ROUTE, WITH_BODY))
async def join_group(
    device_id: str, body: JoinRequest, app: CurrentApp, gw: GatewayDep
) -> GroupOut:
    """Joins a group by its invite link: 400 for what is not an invite link, 404 for an
    unknown or reset one."""
    device, engine = await _connected(gw, app.id, device_id)
    code = invite_code(body.invite_link)
    try:
        joined = with_valid_text(await engine.join_group(device.id, code))
    except EngineError as exc:
        if exc.code == "not_found":
            raise not_found("invite link") from exc
        raise group_refusal(exc) from exc
    return group_out(joined)
