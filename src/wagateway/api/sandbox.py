"""Sandbox controls (CONTRACT §6): play the phone and the network for sandbox apps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.api.device_queries import group_jid
from wagateway.core.openapi import APP_CALLER, WITH_BODY, errors
from wagateway.devices.schemas import DeviceOut
from wagateway.gateway import GatewayDep
from wagateway.sandbox.controls import InboundRequest

router = APIRouter(prefix="/sandbox", tags=["sandbox"])
# Every control: only for an app on the sandbox engine.
SANDBOX_CALLER = (*APP_CALLER, "forbidden")
# A control on one device: unknown or deleted (not open to internal callers: not under
# `/devices/`).
SANDBOX_DEVICE = (*SANDBOX_CALLER, "validation_error", "not_found", "device_destroyed")


class ScanRequest(BaseModel):
    qr: str
    phone: str


class PairRequest(BaseModel):
    pairing_code: str


class RevokeRequest(BaseModel):
    from_: str = Field(alias="from")
    wa_message_id: str


class InboundAccepted(BaseModel):
    wa_message_id: str | None = Field(
        description="the new message's WhatsApp id; for revoke the revoked message's; "
        "null for chat_presence"
    )


@router.post(
    "/scan", response_model=DeviceOut, responses=errors(SANDBOX_CALLER, WITH_BODY, "not_found")
)
async def scan(body: ScanRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """A simulated phone scans this QR: the device becomes `connected` as `phone`."""
    return DeviceOut.of(await gw.sandbox_controls.scan(app, body.qr, body.phone))


@router.post(
    "/pair", response_model=DeviceOut, responses=errors(SANDBOX_CALLER, WITH_BODY, "not_found")
)
async def enter_pairing_code(body: PairRequest, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The simulated phone types a pairing code: the device links as the code's phone."""
    return DeviceOut.of(await gw.sandbox_controls.enter_pairing_code(app, body.pairing_code))


@router.post(
    "/devices/{device_id}/drop",
    response_model=DeviceOut,
    responses=errors(SANDBOX_DEVICE, "device_not_connected"),
)
async def drop(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The device's socket drops: `connection` goes `reconnecting`, then back `online`."""
    return DeviceOut.of(await gw.sandbox_controls.drop(app, device_id))


@router.post(
    "/devices/{device_id}/logout",
    response_model=DeviceOut,
    responses=errors(SANDBOX_DEVICE, "device_not_connected"),
)
async def phone_logout(device_id: str, app: CurrentApp, gw: GatewayDep) -> DeviceOut:
    """The phone unlinks the device: → `disconnected` with reason `logged_out`."""
    return DeviceOut.of(await gw.sandbox_controls.phone_logout(app, device_id))


@router.post(
    "/devices/{device_id}/inbound",
    response_model=InboundAccepted,
    status_code=202,
    responses=errors(SANDBOX_DEVICE, WITH_BODY, "device_not_connected"),
)
async def inbound(
    device_id: str, body: InboundRequest, app: CurrentApp, gw: GatewayDep
) -> InboundAccepted:
    """A contact writes to the device: a `message` event (direction inbound) follows. Images
    and documents are generated (a small PNG, a small PDF) and land in the media store.
    `chat_presence` is followed by a `chat_presence` event, `revoke` by `message_revoked`;
    `forwarded: true` marks a message forwarded. `from_me: true` with `to` (text, image,
    document, location): the account's owner writes from the phone instead, a `message`
    event with direction outbound and source `phone`. `presence` (the contact comes online or goes
    offline) is followed by a `presence` event only when the device subscribed to the contact
    (`GET /devices/{id}/presence`) and shows online (`presence_mode`)."""
    wa_message_id = await gw.sandbox_controls.inbound(app, device_id, body)
    return InboundAccepted(wa_message_id=wa_message_id)


@router.post(
    "/devices/{device_id}/revoke",
    status_code=202,
    responses=errors(SANDBOX_DEVICE, WITH_BODY, "device_not_connected"),
)
async def revoke(
    device_id: str, body: RevokeRequest, app: CurrentApp, gw: GatewayDep
) -> dict[str, str]:
    """The contact deletes a message for everyone: a `message_revoked` event follows. An alias
    of `POST …/inbound` with `type: "revoke"`."""
    await gw.sandbox_controls.revoke(app, device_id, body.from_, body.wa_message_id)
    return {"wa_message_id": body.wa_message_id}


class CallRequest(BaseModel):
    from_: str = Field(alias="from", description="the caller's phone number")
    video: bool = False
    outcome: Literal["missed", "accepted"] = Field(
        "missed",
        description="how the ring ends unless the call policy rejects the call: missed (nobody "
        "answers), or accepted (the owner answers on the phone, then the call ends)",
    )


class CallPlaced(BaseModel):
    call_id: str
    state: str = Field(description="the call's last state: rejected, missed or ended")


@router.post(
    "/devices/{device_id}/call",
    response_model=CallPlaced,
    status_code=202,
    responses=errors(SANDBOX_DEVICE, WITH_BODY, "device_not_connected"),
)
async def call(device_id: str, body: CallRequest, app: CurrentApp, gw: GatewayDep) -> CallPlaced:
    """A contact calls the device: a `call` event (`offer`) follows. With a call policy
    that rejects (`PATCH /app` or `/devices/{id}`), the call is rejected (`call_reject` in
    the network log, a `call` event `rejected`, the reply text queued); otherwise the ring
    ends at once as `outcome` says (`missed`; or `accepted`, then `ended`). Everything has
    been applied when this answers."""
    call_id, state = await gw.sandbox_controls.call(
        app, device_id, body.from_, body.video, body.outcome
    )
    return CallPlaced(call_id=call_id, state=state)


class HistoryRequest(BaseModel):
    chats: int = Field(ge=1, le=10_000, description="how many one-to-one chats")
    messages_per_chat: int = Field(ge=1, le=10_000, description="messages in each chat")


class HistorySent(BaseModel):
    chats: int
    messages: int = Field(
        description="what the network sent; what is imported depends on "
        "the device's history_sync and WAGW_HISTORY_MAX_MESSAGES"
    )


@router.post(
    "/devices/{device_id}/history",
    response_model=HistorySent,
    status_code=202,
    responses=errors(SANDBOX_DEVICE, WITH_BODY, "device_not_connected"),
)
async def history(
    device_id: str, body: HistoryRequest, app: CurrentApp, gw: GatewayDep
) -> HistorySent:
    """The network sends the history WhatsApp sends a device at linking: `chats` chats
    (the most recent first, each with a contact 62855…) of `messages_per_chat` texts, the
    contact's and the owner's in turn. A device with `history_sync` imports them (`source:
    "history"`, `history_sync` events, no `message` events); one without ignores them.
    Everything imported has been written when this answers."""
    sent = await gw.sandbox_controls.history(app, device_id, body.chats, body.messages_per_chat)
    return HistorySent(chats=body.chats, messages=sent)


class ReceivedOut(BaseModel):
    wa_message_id: str
    to: str
    type: str
    first_received_at: datetime
    times_received: int


class ReceivedList(BaseModel):
    received: list[ReceivedOut]


@router.get(
    "/devices/{device_id}/received", response_model=ReceivedList, responses=errors(SANDBOX_DEVICE)
)
async def received(device_id: str, app: CurrentApp, gw: GatewayDep) -> ReceivedList:
    """What the simulated network received from this device, once per WhatsApp message id
    (a resend of the same id counts in `times_received`, as recipients dedupe it)."""
    rows = await gw.sandbox_controls.received(app, device_id)
    return ReceivedList(
        received=[
            ReceivedOut(
                wa_message_id=r.wa_message_id,
                to=r.to_jid,
                type=r.type,
                first_received_at=r.first_received_at,
                times_received=r.times_received,
            )
            for r in rows
        ]
    )


class NetworkEntryOut(BaseModel):
    """One act of the device on the simulated network. Fields beyond `kind` and `at` depend
    on the kind; a field that does not apply is absent."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(
        description="message, connect or disconnect (later also read, chat_presence, presence, "
        "edit, revoke, reaction, group_create, group_update, group_participants, group_leave, "
        "group_join, profile_update, block, unblock, call_reject)"
    )
    at: datetime
    to: str | None = Field(None, description="message: the recipient's JID")
    wa_message_id: str | None = Field(
        None, description="message: its WhatsApp id (a resend repeats it)"
    )
    type: str | None = Field(None, description="message: its type")
    text: str | None = Field(None, description="text message: the text sent")
    size: int | None = Field(None, description="media message: bytes sent")
    sha256: str | None = Field(None, description="media message: SHA-256 of the bytes, hex")
    reply_to: str | None = Field(None, description="message, a reply: the quoted WhatsApp id")
    quoted_sender: str | None = Field(
        None,
        description="message, a reply or reaction: the JID of the quoted / reacted-to "
        "message's sender (the account's own for its own message); absent when the "
        "gateway does not know that message",
    )
    preview: dict[str, str] | None = Field(
        None,
        description="text message with preview_url: the link preview the gateway fetched "
        "(url, title, description); absent when none was sent",
    )
    reaction_to: str | None = Field(
        None, description="message of type reaction: the WhatsApp id reacted to"
    )
    from_me: bool | None = Field(
        None, description="message of type reaction: the target is the account's own message"
    )
    phone: str | None = Field(None, description="connect: the linked account's phone")
    reconnected: bool | None = Field(None, description="connect: from the stored session")
    reason: str | None = Field(None, description="disconnect: dropped, logged_out or closed")


class NetworkLog(BaseModel):
    network: list[NetworkEntryOut]


class SessionOut(BaseModel):
    node_id: str = Field(description="the node whose connection held the session")
    opened_at: datetime
    closed_at: datetime | None = Field(description="null while the session is live")
    close_reason: str | None = Field(
        description="closed, logged_out, dropped, restart, reconnected; connection_lost (its "
        "node's connection went away without closing it); replaced (another session of the "
        "device connected while it was live: WhatsApp's rule)"
    )


class SessionList(BaseModel):
    sessions: list[SessionOut]


@router.get(
    "/devices/{device_id}/sessions",
    response_model=SessionList,
    responses=errors(SANDBOX_DEVICE),
)
async def sessions(device_id: str, app: CurrentApp, gw: GatewayDep) -> SessionList:
    """Every session the simulated WhatsApp saw of the device, oldest first (CONTRACT §9). A
    session is live only while its node's database connection holds it, as a socket would
    be: a node that dies closes its sessions without its cooperation. A session opened while
    another was live replaces it (`replaced`): on several nodes that is double ownership."""
    rows = await gw.sandbox_controls.sessions(app, device_id)
    return SessionList(
        sessions=[
            SessionOut(
                node_id=r.node_id,
                opened_at=r.opened_at,
                closed_at=r.closed_at,
                close_reason=r.close_reason,
            )
            for r in rows
        ]
    )


@router.get(
    "/devices/{device_id}/network",
    response_model=NetworkLog,
    response_model_exclude_none=True,
    responses=errors(SANDBOX_DEVICE),
)
async def network(device_id: str, app: CurrentApp, gw: GatewayDep) -> NetworkLog:
    """Everything the device did on the simulated network, oldest first, every attempt (a
    resend repeats its `wa_message_id`): its messages (with `size` and `sha256` of media),
    connects and disconnects. The sandbox's durable record, like `/received`."""
    rows = await gw.sandbox_controls.network(app, device_id)
    return NetworkLog(network=[NetworkEntryOut(kind=r.kind, at=r.at, **r.detail) for r in rows])


class GroupEventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="the group's JID (…@g.us)")
    action: Literal["add", "remove", "promote", "demote", "update"]
    participants: list[str] = Field(
        default_factory=list, description="phone numbers (for add, remove, promote, demote)"
    )
    by: str = Field(description="who makes the change: a member's phone number")
    subject: str | None = Field(None, description="for update (and for add of the account)")
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None


class GroupEventApplied(BaseModel):
    group: str
    action: str


@router.post(
    "/devices/{device_id}/group-event",
    response_model=GroupEventApplied,
    status_code=202,
    responses=errors(SANDBOX_DEVICE, WITH_BODY, "device_not_connected"),
)
async def group_event(
    device_id: str, body: GroupEventRequest, app: CurrentApp, gw: GatewayDep
) -> GroupEventApplied:
    """Someone else changes a group the account is in: `group_participants` (add, remove,
    promote, demote), `group_updated` (update: `subject`, `description`, `announce`,
    `locked`), or `group_joined` when the account itself is added to a group it is not in.
    An unknown group: 404. The event has been emitted when this answers."""
    group = group_jid(body.group)
    changes = body.model_dump(
        include={"subject", "description", "announce", "locked"}, exclude_unset=True
    )
    await gw.sandbox_controls.group_event(
        app, device_id, group, body.action, body.participants, body.by, changes
    )
    return GroupEventApplied(group=group, action=body.action)
