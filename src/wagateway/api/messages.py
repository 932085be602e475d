"""Message routes (CONTRACT §3). Thin: parse, authorise, call the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from wagateway.api.deps import CurrentApp, SendingApp
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.gateway import GatewayDep
from wagateway.messages.schemas import MessageList, MessageOut, SendAccepted, SendMessageRequest

router = APIRouter(prefix="/devices/{device_id}/messages", tags=["messages"])


@router.post(
    "",
    status_code=202,
    response_model=SendAccepted,
    responses={
        200: {"model": SendAccepted, "description": "`?wait=true`: the message left the device"},
        **errors(
            DEVICE_ROUTE,
            WITH_BODY,
            "request_canceled",
            "conflict",
            "device_not_connected",
        ),
    },
)
async def send_message(
    device_id: str,
    body: SendMessageRequest,
    sender: SendingApp,
    gw: GatewayDep,
    wait: bool = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Queue a message on a connected device: 202 `queued`. It is sent in order, paced.

    `?wait=true` answers once it left the device (`sent`, with `wa_message_id`) or failed,
    or 408 `request_canceled` after the bounded wait (the message stays queued).
    The same `Idempotency-Key` with the same body within 24 h returns the first answer.
    """
    result = await gw.messages.send(
        sender.app_id, device_id, body, idempotency_key, wait, token_check=sender.token_check
    )
    return JSONResponse(result.body.model_dump(mode="json"), status_code=result.status_code)


@router.get("", response_model=MessageList, responses=errors(DEVICE_ROUTE))
async def list_messages(
    device_id: str,
    app: CurrentApp,
    gw: GatewayDep,
    direction: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    source: str | None = None,
) -> MessageList:
    """The device's messages, newest first; filters `direction`, `status`, `since`, `source`
    (api, auto, phone, history, contact)."""
    rows, next_cursor = await gw.messages.list(
        app.id,
        device_id,
        direction=direction,
        status=status,
        since=since,
        limit=limit,
        cursor=cursor,
        source=source,
    )
    return MessageList(
        messages=[MessageOut.of(m, gw.media_links) for m in rows], next_cursor=next_cursor
    )


@router.get("/{message_id}", response_model=MessageOut, responses=errors(DEVICE_ROUTE))
async def get_message(
    device_id: str, message_id: str, app: CurrentApp, gw: GatewayDep
) -> MessageOut:
    """One message with its status, timestamps and error."""
    return MessageOut.of(await gw.messages.get(app.id, device_id, message_id), gw.media_links)
