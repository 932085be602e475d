"""The webhook delivery log and redelivery (CONTRACT §4)."""

from __future__ import annotations

from fastapi import APIRouter

from wagateway.core.deps import CurrentApp, GatewayDep
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.webhooks import service
from wagateway.webhooks.schemas import DeliveryList, DeliveryOut, RedeliverAllOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get(
    "/deliveries", response_model=DeliveryList, responses=errors(APP_CALLER, "validation_error")
)
async def list_deliveries(
    app: CurrentApp,
    gw: GatewayDep,
    device_id: str | None = None,
    event: str | None = None,
    state: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> DeliveryList:
    """Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped).
    Events of deleted devices are archived: add `include_archived=true` to see them.
    """
    async with gw.db.read() as session:
        page = await service.list_deliveries(
            session,
            app.id,
            device_id=device_id,
            event=event,
            state=state,
            include_archived=include_archived,
            limit=limit,
            cursor=cursor,
        )
        attempts = await service.attempts_of(session, [e.seq for e in page.events])
    return DeliveryList(
        deliveries=[DeliveryOut.of(e, attempts[e.seq]) for e in page.events],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/deliveries/{request_id}",
    response_model=DeliveryOut,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def get_delivery(request_id: str, app: CurrentApp, gw: GatewayDep) -> DeliveryOut:
    """One event by its request_id, with its payload and every attempt."""
    async with gw.db.read() as session:
        event = await service.get_delivery(session, app.id, request_id)
        attempts = await service.attempts_of(session, [event.seq])
    return DeliveryOut.of(event, attempts[event.seq])


@router.post(
    "/deliveries/{request_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def redeliver(request_id: str, app: CurrentApp, gw: GatewayDep) -> DeliveryOut:
    """Send a failed (or any past) event again, with the same request_id."""
    async with gw.db.transaction() as session:
        event = await service.redeliver(session, app.id, request_id)
        attempts = await service.attempts_of(session, [event.seq])
    return DeliveryOut.of(event, attempts[event.seq])


@router.post(
    "/deliveries/redeliver-failed",
    response_model=RedeliverAllOut,
    status_code=202,
    responses=errors(APP_CALLER, "validation_error"),
)
async def redeliver_failed(
    app: CurrentApp, gw: GatewayDep, device_id: str | None = None
) -> RedeliverAllOut:
    """Queue every failed event of the app (or of one device) again."""
    async with gw.db.transaction() as session:
        count = await service.redeliver_failed(session, app.id, device_id)
    return RedeliverAllOut(requeued=count)
