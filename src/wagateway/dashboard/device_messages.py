"""A device's recent messages on its page, with what an operator may do to each (CONTRACT
§8.1): mark an inbound message read, reply quoting it, react to it, and cancel or delete for
everyone a message the device sent.

Each action is the API's own service call (`ChatActions.mark_read`, `MessageService.send`
with `reply_to` or a reaction, `MessageEdits.delete`): the dashboard decides only which
buttons to show, and for delete it asks the same rule the service applies
(`MessageEdits.delete_refusal`). Refusals come back as the page's error message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from wagateway.dashboard.projects import device_url, project_of
from wagateway.dashboard.web import PREFIX, ActingViewerDep, Viewer, act, audit_device_action
from wagateway.gateway import Gateway, GatewayDep
from wagateway.messages.edits import OUT_OF_DEVICE
from wagateway.messages.models import Message
from wagateway.messages.schemas import SendMessageRequest
from wagateway.messages.states import MessageStatus

router = APIRouter(prefix=PREFIX)

# The emoji the reaction field suggests (any emoji may be typed).
REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")


@dataclass(frozen=True)
class MessageRow:
    """One line of the device page's message table: the message and its buttons."""

    message: Message
    peer: str  # whom it is from (inbound) or to (outbound)
    words: str  # its text, caption, file name or reaction emoji
    can_read: bool
    can_reply: bool  # reply and react: the message is on WhatsApp to be quoted
    can_delete: bool
    cancels: bool  # delete cancels it (still queued) rather than deleting it for everyone


def _words(m: Message) -> str:
    content = m.content or {}
    if m.type == "reaction":
        return str(content.get("emoji") or "")
    for key in ("text", "caption", "file_name", "name", "poll_question", "contact_name"):
        if content.get(key):
            return str(content[key])
    return ""


def message_rows(gw: Gateway, messages: list[Message]) -> list[MessageRow]:
    rows = []
    for m in messages:
        inbound = m.direction == "inbound"
        revoked = bool((m.content or {}).get("revoked"))
        on_whatsapp = (inbound or m.status in OUT_OF_DEVICE) and m.wa_message_id is not None
        rows.append(
            MessageRow(
                message=m,
                peer=(m.sender or m.sender_lid or m.chat) if inbound else m.chat,
                words=_words(m),
                can_read=inbound and m.read_at is None and m.wa_message_id is not None,
                can_reply=on_whatsapp and not revoked and m.type != "reaction",
                can_delete=gw.message_edits.deletable(m),
                cancels=m.status == MessageStatus.QUEUED,
            )
        )
    return rows


@router.post(
    "/projects/{app_id}/devices/{device_id}/messages/{message_id}/read", include_in_schema=False
)
async def read(
    request: Request,
    app_id: str,
    device_id: str,
    message_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        message = await gw.chat_actions.mark_read(app_id, device_id, message_id)
        await audit_device_action(
            gw, viewer, "message.read", app_id, device_id, message_id=message.id
        )
        return f"Marked read (with the earlier unread messages of {message.chat})."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)


async def _send_about(
    gw: Gateway,
    viewer: Viewer,
    app_id: str,
    device_id: str,
    message_id: str,
    audit_action: str,
    body: dict[str, Any],
) -> str:
    """Send into the chat of the device's message `message_id`: the queued message's id."""
    target = await gw.messages.get(app_id, device_id, message_id)
    result = await gw.messages.send(
        app_id, device_id, SendMessageRequest.model_validate({"to": target.chat, **body})
    )
    sent = result.body.message_id
    await audit_device_action(
        gw, viewer, audit_action, app_id, device_id, message_id=sent, about=target.id
    )
    return sent


@router.post(
    "/projects/{app_id}/devices/{device_id}/messages/{message_id}/reply",
    include_in_schema=False,
)
async def reply(
    request: Request,
    app_id: str,
    device_id: str,
    message_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        sent = await _send_about(
            gw,
            viewer,
            app_id,
            device_id,
            message_id,
            "message.reply",
            {"type": "text", "text": text, "reply_to": message_id},
        )
        return f"Reply {sent} queued."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)


@router.post(
    "/projects/{app_id}/devices/{device_id}/messages/{message_id}/react",
    include_in_schema=False,
)
async def react(
    request: Request,
    app_id: str,
    device_id: str,
    message_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
    emoji: Annotated[str, Form()] = "",
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        sent = await _send_about(
            gw,
            viewer,
            app_id,
            device_id,
            message_id,
            "message.react",
            {"type": "reaction", "message_id": message_id, "emoji": emoji.strip()},
        )
        return f"Reaction {emoji.strip() or '(removed)'} queued as {sent}."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)


@router.post(
    "/projects/{app_id}/devices/{device_id}/messages/{message_id}/delete",
    include_in_schema=False,
)
async def delete(
    request: Request,
    app_id: str,
    device_id: str,
    message_id: str,
    viewer: ActingViewerDep,
    gw: GatewayDep,
) -> Response:
    await project_of(gw, viewer, app_id)

    async def action() -> str:
        message = await gw.message_edits.delete(app_id, device_id, message_id)
        await audit_device_action(
            gw, viewer, "message.delete", app_id, device_id, message_id=message.id
        )
        if message.content.get("revoked"):
            return f"Message {message.id} deleted for everyone."
        return f"Message {message.id} canceled before it was sent."

    return await act(request, gw, viewer, device_url(app_id, device_id), action)
