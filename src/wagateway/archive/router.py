"""Archives (CONTRACT §2): a device's messages and events, exportable as JSON Lines.

Deleted devices answer 410 on their live routes; their records stay readable here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from wagateway.core.db import Database
from wagateway.core.deps import CurrentApp, GatewayDep
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.devices.service import DeviceService
from wagateway.messages.models import Message
from wagateway.messages.schemas import MessageOut
from wagateway.webhooks.models import Event, WebhookAttempt
from wagateway.webhooks.schemas import DeliveryOut
from wagateway.webhooks.service import attempts_of

router = APIRouter(prefix="/archive/devices/{device_id}", tags=["archive"])
BATCH = 500
NDJSON = "application/x-ndjson"
# A deleted device's archive stays readable: no 410 here.
ARCHIVE_ROUTE = (*APP_CALLER, "validation_error", "not_found")


def json_lines(what: str) -> dict[str, Any]:
    return {
        "description": f"JSON Lines, oldest first: {what}",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    }


async def _lines(
    db: Database, model: Any, app_id: str, device_id: str, render: Callable[..., Any]
) -> AsyncIterator[bytes]:
    after = 0
    while True:
        async with db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(model)
                        .where(
                            model.app_id == app_id, model.device_id == device_id, model.seq > after
                        )
                        .order_by(model.seq)
                        .limit(BATCH)
                    )
                ).scalars()
            )
            attempts: dict[int, list[WebhookAttempt]] = (
                await attempts_of(session, [r.seq for r in rows]) if model is Event else {}
            )
        if not rows:
            return
        for row in rows:
            item = render(row, attempts.get(row.seq, [])) if model is Event else render(row)
            yield (json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n").encode()
        after = rows[-1].seq


async def _check_device(gw: Any, app_id: str, device_id: str) -> None:
    async with gw.db.read() as session:
        await DeviceService.load(session, app_id, device_id, allow_destroyed=True)


@router.get(
    "/messages.jsonl",
    response_class=StreamingResponse,
    responses={
        200: json_lines("a message a line, as `GET …/messages/{message_id}` gives it"),
        **errors(ARCHIVE_ROUTE),
    },
)
async def export_messages(device_id: str, app: CurrentApp, gw: GatewayDep) -> StreamingResponse:
    """Every message of the device (live or archived), oldest first, one JSON object a line."""
    await _check_device(gw, app.id, device_id)
    return StreamingResponse(
        _lines(gw.db, Message, app.id, device_id, MessageOut.of), media_type=NDJSON
    )


@router.get(
    "/events.jsonl",
    response_class=StreamingResponse,
    responses={
        200: json_lines("an event a line, as `GET /webhooks/deliveries/{request_id}` gives it"),
        **errors(ARCHIVE_ROUTE),
    },
)
async def export_events(device_id: str, app: CurrentApp, gw: GatewayDep) -> StreamingResponse:
    """Every event of the device with its webhook delivery log, oldest first, as JSON Lines."""
    await _check_device(gw, app.id, device_id)
    return StreamingResponse(
        _lines(gw.db, Event, app.id, device_id, DeliveryOut.of), media_type=NDJSON
    )
