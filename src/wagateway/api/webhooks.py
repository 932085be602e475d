"""The webhook delivery log and redelivery (CONTRACT §4)."""

from __future__ import annotations

from fastapi import APIRouter

from wagateway.api.deps import CurrentApp
from wagateway.core.openapi import APP_CALLER, errors
from wagateway.gateway import GatewayDep
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
    found = await service.deliveries_with_attempts(
        gw.db,
        app.id,
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
    )
    return DeliveryList(
        deliveries=[DeliveryOut.of(e, found.attempts[e.seq]) for e in found.page.events],
        next_cursor=found.page.next_cursor,
    )


@router.get(
    "/deliveries/{request_id}",
    response_model=DeliveryOut,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def get_delivery(request_id: str, app: CurrentApp, gw: GatewayDep) -> DeliveryOut:
    """One event by its request_id, with its payload and every attempt."""
    event, attempts = await service.delivery_with_attempts(gw.db, app.id, request_id)
    return DeliveryOut.of(event, attempts)


@router.post(
    "/deliveries/{request_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def redeliver(request_id: str, app: CurrentApp, gw: GatewayDep) -> DeliveryOut:
    """Send a failed (or any past) event again, with the same request_id."""
    event, attempts = await service.redeliver_as(gw.db, None, app.id, request_id)
    return DeliveryOut.of(event, attempts)


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
    count = await service.redeliver_failed_as(gw.db, None, app.id, device_id)
    return RedeliverAllOut(requeued=count)
