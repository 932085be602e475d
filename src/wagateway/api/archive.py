"""Archives (CONTRACT §2): a device's messages and events, exportable as JSON Lines.

Deleted devices answer 410 on their live routes; their records stay readable here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from wagateway.api.deps import CurrentApp
from wagateway.core.db import Database
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.gateway import Gateway, GatewayDep
from wagateway.messages.archive import messages_after
from wagateway.messages.schemas import MessageOut
from wagateway.webhooks.schemas import DeliveryOut
from wagateway.webhooks.service import events_after

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


def _line(item: BaseModel) -> bytes:
    return (json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n").encode()


async def _message_lines(db: Database, app_id: str, device_id: str) -> AsyncIterator[bytes]:
    after = 0
    while rows := await messages_after(db, app_id, device_id, after, BATCH):
        for row in rows:
            yield _line(MessageOut.of(row))
        after = rows[-1].seq


async def _event_lines(db: Database, app_id: str, device_id: str) -> AsyncIterator[bytes]:
    after = 0
    while batch := await events_after(db, app_id, device_id, after, BATCH):
        for event in batch:
            yield _line(DeliveryOut.of(event))
        after = batch[-1].seq


async def _check_device(gw: Gateway, app_id: str, device_id: str) -> None:
    await gw.devices.get(app_id, device_id, allow_destroyed=True)


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
    return StreamingResponse(_message_lines(gw.db, app.id, device_id), media_type=NDJSON)


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
    return StreamingResponse(_event_lines(gw.db, app.id, device_id), media_type=NDJSON)
