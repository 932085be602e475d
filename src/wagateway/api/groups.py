"""Group changes (CONTRACT §8.3): settings, participants, leaving. Thin: parse, authorise,
one engine call; the engine keeps WhatsApp's rules (admins only)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.api.device_queries import GroupOut, _connected, group_jid, group_out
from wagateway.core.addresses import normalise_recipient
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.engines.base import EngineError, with_valid_text
from wagateway.gateway import GatewayDep

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


def _group_failure(exc: EngineError) -> ApiError:
    if exc.code == "not_found":
        return not_found("group")
    if exc.code == "not_group_admin":
        return ApiError(
            403,
            "forbidden",
            "the account is not an admin of this group",
            {"reason": "not_group_admin"},
        )
    return ApiError(409, "device_not_connected", exc.message)


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
        raise _group_failure(exc) from exc
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
        raise _group_failure(exc) from exc
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
        raise _group_failure(exc) from exc
    return LeftOut(group=jid)
