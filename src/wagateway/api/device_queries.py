"""Runtime queries on a connected device (CONTRACT §2): groups, profile, presence, contacts."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from wagateway.api.deps import CurrentApp
from wagateway.core.addresses import normalise_phone, normalise_recipient
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.openapi import DEVICE_ROUTE, errors
from wagateway.devices.models import Device
from wagateway.devices.state import Status
from wagateway.engines.base import (
    Engine,
    EngineError,
    GroupInfo,
    GroupMember,
    with_valid_text,
)
from wagateway.gateway import Gateway, GatewayDep

router = APIRouter(prefix="/devices/{device_id}", tags=["runtime queries"])
MAX_CONTACTS = 50
# What a runtime query can answer: it needs a connected device.
QUERY_ROUTE = (*DEVICE_ROUTE, "device_not_connected")


class GroupParticipantOut(BaseModel):
    jid: str
    phone: str | None
    lid: str | None
    admin: bool


class GroupOut(BaseModel):
    jid: str
    subject: str
    description: str | None
    owner: str | None
    participants: list[GroupParticipantOut] = Field(
        description="every member, the account itself included"
    )
    announce: bool = Field(description="only admins send messages")
    locked: bool = Field(description="only admins change the group's settings")
    created_at: datetime | None


class GroupList(BaseModel):
    groups: list[GroupOut]


class ProfileOut(BaseModel):
    jid: str
    phone: str | None
    name: str | None
    about: str | None
    picture_url: str | None


class PresenceOut(BaseModel):
    jid: str
    presence: str
    last_seen: datetime | None
    observed_at: datetime | None
    subscribed: bool = Field(
        False,
        description="the device asked WhatsApp for this contact's presence: changes arrive as "
        "`presence` events while the account shows online (`presence_mode`)",
    )


class ContactCheckOut(BaseModel):
    phone: str
    on_whatsapp: bool
    jid: str | None
    lid: str | None


class ContactCheckList(BaseModel):
    contacts: list[ContactCheckOut]


async def _connected(gw: Gateway, app_id: str, device_id: str) -> tuple[Device, Engine]:
    device = await gw.devices.get(app_id, device_id)
    if device.status != Status.CONNECTED:
        raise ApiError(
            409,
            "device_not_connected",
            "runtime queries need a connected device",
            {"status": device.status},
        )
    return device, gw.runtime.engine_for(device.engine)


def _engine_failure(exc: EngineError) -> ApiError:
    if exc.code == "not_found":
        return not_found("WhatsApp user")
    return ApiError(409, "device_not_connected", exc.message)


@router.get("/groups", response_model=GroupList, responses=errors(QUERY_ROUTE))
async def groups(device_id: str, app: CurrentApp, gw: GatewayDep) -> GroupList:
    """Groups the device's WhatsApp account is in."""
    device, engine = await _connected(gw, app.id, device_id)
    try:
        found = [with_valid_text(g) for g in await engine.groups(device.id)]
    except EngineError as exc:
        raise _engine_failure(exc) from exc
    return GroupList(groups=[group_out(g) for g in found])


def group_out(g: GroupInfo) -> GroupOut:
    """A group as the API shows it (CONTRACT §8.3)."""
    members = g.members or tuple(GroupMember(jid=p, admin=p in g.admins) for p in g.participants)
    return GroupOut(
        jid=g.jid,
        subject=g.name,
        description=g.description,
        owner=g.owner,
        participants=[
            GroupParticipantOut(jid=m.jid, phone=m.phone, lid=m.lid, admin=m.admin) for m in members
        ],
        announce=g.announce,
        locked=g.locked,
        created_at=g.created_at,
    )


@router.get("/groups/{group}", response_model=GroupOut, responses=errors(QUERY_ROUTE))
async def group(device_id: str, group: str, app: CurrentApp, gw: GatewayDep) -> GroupOut:
    """One group the device's WhatsApp account is in (an unknown group: 404)."""
    jid = group_jid(group)
    device, engine = await _connected(gw, app.id, device_id)
    try:
        found = [with_valid_text(g) for g in await engine.groups(device.id)]
    except EngineError as exc:
        raise _engine_failure(exc) from exc
    match = next((g for g in found if g.jid == jid), None)
    if match is None:
        raise not_found("group")
    return group_out(match)


def group_jid(group: str) -> str:
    """A group as a path names it: `1203…@g.us` or just `1203…`."""
    value = group.strip()
    if "@" not in value:
        value = f"{value}@g.us"
    if not value.endswith("@g.us") or not value.partition("@")[0]:
        raise validation_error("group must be a group JID (…@g.us)", "group")
    return value


@router.get("/profile", response_model=ProfileOut, responses=errors(QUERY_ROUTE))
async def profile(device_id: str, jid: str, app: CurrentApp, gw: GatewayDep) -> ProfileOut:
    """A user's name, about text and picture (`jid`: phone, phone JID or LID JID)."""
    target = normalise_recipient(jid, "jid")
    device, engine = await _connected(gw, app.id, device_id)
    try:
        p = with_valid_text(await engine.profile(device.id, target))
    except EngineError as exc:
        raise _engine_failure(exc) from exc
    return ProfileOut(
        jid=p.jid, phone=p.phone, name=p.name, about=p.about, picture_url=p.picture_url
    )


@router.get("/presence", response_model=PresenceOut, responses=errors(QUERY_ROUTE))
async def presence(device_id: str, jid: str, app: CurrentApp, gw: GatewayDep) -> PresenceOut:
    """Last presence WhatsApp pushed for `jid` (a cache: may be stale; `unknown` if none),
    answered at once; and a subscription to `jid`'s presence (`subscribed: true`): WhatsApp
    answers it, and sends later changes, as `presence` events while the account shows online
    (`presence_mode` on_demand: online just for the subscription)."""
    target = normalise_recipient(jid, "jid")
    device, engine = await _connected(gw, app.id, device_id)
    try:
        await engine.subscribe_presence(device.id, target)
    except EngineError as exc:
        raise _engine_failure(exc) from exc
    seen = gw.runtime.presence.get((device.id, target))
    if seen is None:
        return PresenceOut(
            jid=target, presence="unknown", last_seen=None, observed_at=None, subscribed=True
        )
    return PresenceOut(
        jid=target,
        presence=seen.presence,
        last_seen=seen.last_seen,
        observed_at=seen.last_seen,
        subscribed=True,
    )


@router.get("/contacts/check", response_model=ContactCheckList, responses=errors(QUERY_ROUTE))
async def check_contacts(
    device_id: str,
    app: CurrentApp,
    gw: GatewayDep,
    phone: list[str] = Query(
        description=f"phone numbers (repeat the parameter, up to {MAX_CONTACTS})"
    ),
) -> ContactCheckList:
    """Are these numbers on WhatsApp? With their phone JID and LID where WhatsApp says."""
    if len(phone) > MAX_CONTACTS:
        raise validation_error(f"at most {MAX_CONTACTS} phone numbers per call", "phone")
    phones = [normalise_phone(p) for p in phone]
    device, engine = await _connected(gw, app.id, device_id)
    try:
        found = [with_valid_text(c) for c in await engine.check_contacts(device.id, phones)]
    except EngineError as exc:
        raise _engine_failure(exc) from exc
    return ContactCheckList(
        contacts=[
            ContactCheckOut(phone=c.query, on_whatsapp=c.on_whatsapp, jid=c.jid, lid=c.lid)
            for c in found
        ]
    )
