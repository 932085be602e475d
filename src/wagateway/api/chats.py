"""Chats and contacts (CONTRACT §8.4): the device's chats by last activity, one chat's
messages, and the contacts the account's session knows. Thin: parse, authorise, one call."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from wagateway.api.deps import CurrentApp
from wagateway.api.device_queries import _connected
from wagateway.core.addresses import normalise_recipient
from wagateway.core.errors import ApiError, validation_error
from wagateway.core.openapi import DEVICE_ROUTE, errors
from wagateway.engines.base import EngineError, with_valid_text
from wagateway.gateway import GatewayDep
from wagateway.messages.chats import list_chats
from wagateway.messages.schemas import MessageList, MessageOut

router = APIRouter(prefix="/devices/{device_id}", tags=["chats and contacts"])
# Contacts come from the session: they need a connected device.
SESSION_ROUTE = (*DEVICE_ROUTE, "device_not_connected")


class ChatOut(BaseModel):
    chat: str = Field(description="the chat's JID (a group's is …@g.us)")
    name: str | None = Field(
        description="a one-to-one chat: the contact's push name from its newest message; "
        "a group: null"
    )
    last_message_at: datetime = Field(description="when the chat's newest message was stored")
    unread_count: int = Field(
        description="inbound messages not yet read, by the device (`…/read`) or by the owner "
        "on the phone"
    )


class ChatList(BaseModel):
    chats: list[ChatOut]
    next_cursor: str | None


class ContactOut(BaseModel):
    jid: str
    phone: str | None
    lid: str | None
    name: str | None = Field(description="the name the phone's address book gives it")
    push_name: str | None = Field(description="the name the contact chose for itself")
    business_name: str | None


class ContactList(BaseModel):
    contacts: list[ContactOut]


@router.get("/chats", response_model=ChatList, responses=errors(DEVICE_ROUTE))
async def chats(
    device_id: str,
    app: CurrentApp,
    gw: GatewayDep,
    limit: int = 50,
    cursor: str | None = None,
) -> ChatList:
    """The device's chats, most recently active first, groups included. Computed from the
    stored messages: a chat appears once a message of it is stored. `unread_count` falls
    when the device marks messages read and when the owner reads the chat on the phone."""
    found, next_cursor = await list_chats(gw.db, app.id, device_id, limit=limit, cursor=cursor)
    return ChatList(
        chats=[
            ChatOut(
                chat=c.chat,
                name=c.name,
                last_message_at=c.last_message_at,
                unread_count=c.unread_count,
            )
            for c in found
        ],
        next_cursor=next_cursor,
    )


@router.get("/chats/{chat}/messages", response_model=MessageList, responses=errors(DEVICE_ROUTE))
async def chat_messages(
    device_id: str,
    chat: str,
    app: CurrentApp,
    gw: GatewayDep,
    limit: int = 50,
    cursor: str | None = None,
) -> MessageList:
    """One chat's stored messages, newest first (`chat`: as a message's `to`)."""
    jid = normalise_recipient(chat, "chat")
    rows, next_cursor = await gw.messages.list(
        app.id, device_id, limit=limit, cursor=cursor, chat=jid
    )
    return MessageList(
        messages=[MessageOut.of(m, gw.media_links) for m in rows], next_cursor=next_cursor
    )


@router.get("/contacts", response_model=ContactList, responses=errors(SESSION_ROUTE))
async def contacts(
    device_id: str, app: CurrentApp, gw: GatewayDep, jid: str | None = None
) -> ContactList:
    """The contacts the account's session knows: push names of whoever wrote, the names the
    phone synced, business names, with phone and LID where known. `jid` (phone, phone JID
    or LID JID; not a group) narrows the list to that contact."""
    wanted = None
    if jid is not None:
        wanted = normalise_recipient(jid, "jid")
        if wanted.endswith("@g.us"):
            raise validation_error("jid must be a contact (phone or LID), not a group", "jid")
    device, engine = await _connected(gw, app.id, device_id)
    try:
        found = [with_valid_text(c) for c in await engine.contacts(device.id)]
    except EngineError as exc:
        raise ApiError(409, "device_not_connected", exc.message) from exc
    if wanted is not None:
        found = [
            c
            for c in found
            if wanted in (c.jid, c.lid, f"{c.phone}@s.whatsapp.net" if c.phone else None)
        ]
    return ContactList(
        contacts=[
            ContactOut(
                jid=c.jid,
                phone=c.phone,
                lid=c.lid,
                name=c.name,
                push_name=c.push_name,
                business_name=c.business_name,
            )
            for c in found
        ]
    )
