"""Chat actions (CONTRACT §8.1): read receipts, chat presence, the account's own presence.
Thin: parse, authorise, one service call."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.gateway import GatewayDep
from wagateway.messages.schemas import MessageOut

router = APIRouter(prefix="/devices/{device_id}", tags=["chat actions"])
# A chat action reaches WhatsApp: it needs a connected device.
ACTION_ROUTE = (*DEVICE_ROUTE, "device_not_connected")


class ChatPresenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["typing", "recording", "paused"] = Field(
        description='"typing…", "recording audio…", or `paused` to clear either'
    )


class ChatPresenceOut(BaseModel):
    chat: str = Field(description="the chat's JID")
    state: str


class PresenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["available", "unavailable"]


class PresenceStateOut(BaseModel):
    state: str


@router.post(
    "/messages/{message_id}/read",
    response_model=MessageOut,
    responses=errors(ACTION_ROUTE, "conflict"),
)
async def mark_read(device_id: str, message_id: str, app: CurrentApp, gw: GatewayDep) -> MessageOut:
    """Mark a received message, and every earlier unread received message of its chat, read:
    the senders see blue ticks. `message_id` is the gateway's id or the WhatsApp id. 409
    `conflict` for a message the device sent. Answers the message, `read_at` set."""
    return MessageOut.of(
        await gw.chat_actions.mark_read(app.id, device_id, message_id), gw.media_links
    )


@router.post(
    "/chats/{chat}/presence",
    response_model=ChatPresenceOut,
    responses=errors(ACTION_ROUTE, WITH_BODY),
)
async def chat_presence(
    device_id: str, chat: str, body: ChatPresenceRequest, app: CurrentApp, gw: GatewayDep
) -> ChatPresenceOut:
    """Show "typing…" or "recording audio…" in a chat (`chat`: as a message's `to`), or
    clear it with `paused`. WhatsApp clears it by itself after a while."""
    jid, state = await gw.chat_actions.send_chat_presence(app.id, device_id, chat, body.state)
    return ChatPresenceOut(chat=jid, state=state)


@router.post(
    "/presence", response_model=PresenceStateOut, responses=errors(ACTION_ROUTE, WITH_BODY)
)
async def presence(
    device_id: str, body: PresenceRequest, app: CurrentApp, gw: GatewayDep
) -> PresenceStateOut:
    """The account's own online state: `available` (online) or `unavailable`."""
    return PresenceStateOut(
        state=await gw.chat_actions.send_presence(app.id, device_id, body.state)
    )
