"""Edit and delete a message (CONTRACT §8.1). Thin: parse, authorise, one service call."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from wagateway.api.deps import CurrentApp
from wagateway.core.openapi import DEVICE_ROUTE, WITH_BODY, errors
from wagateway.gateway import GatewayDep
from wagateway.messages.schemas import MessageOut
from wagateway.messages.validation import TEXT_MAX

router = APIRouter(prefix="/devices/{device_id}", tags=["chat actions"])
# Queued messages change without WhatsApp; sent ones need a connected device.
EDIT_ROUTE = (*DEVICE_ROUTE, "forbidden", "conflict", "device_not_connected")


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=TEXT_MAX, description="the new text or caption")


@router.patch(
    "/messages/{message_id}",
    response_model=MessageOut,
    responses=errors(EDIT_ROUTE, WITH_BODY),
)
async def edit_message(
    device_id: str, message_id: str, body: EditRequest, app: CurrentApp, gw: GatewayDep
) -> MessageOut:
    """Edit the text (or caption) of a message the device sent (`message_id`: the gateway's
    id or the WhatsApp id). Still queued: what will be sent changes. Sent: edited on WhatsApp
    within the edit window (`WAGW_EDIT_WINDOW_SECONDS`, 15 minutes from `sent_at`), else 409
    `conflict`. A message the device did not send: 403 `forbidden`. Answers the message,
    `edited_at` set."""
    edited = await gw.message_edits.edit(app.id, device_id, message_id, body.text)
    return MessageOut.of(edited, gw.media_links)


@router.delete("/messages/{message_id}", response_model=MessageOut, responses=errors(EDIT_ROUTE))
async def delete_message(
    device_id: str, message_id: str, app: CurrentApp, gw: GatewayDep
) -> MessageOut:
    """Delete a message the device sent: still queued, it is cancelled (`failed`, error
    `canceled`); sent, it is deleted for everyone within WhatsApp's window
    (`WAGW_REVOKE_WINDOW_SECONDS`, 2 days from `sent_at`; later 409 `conflict`), `revoked:
    true`. Any other message: 403 `forbidden`."""
    return MessageOut.of(
        await gw.message_edits.delete(app.id, device_id, message_id), gw.media_links
    )
