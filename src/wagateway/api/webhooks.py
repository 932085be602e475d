"""The webhook delivery log and redelivery (CONTRACT §4), and an app's webhook endpoints
(CONTRACT §10)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from wagateway.api.deps import CurrentApp
from wagateway.apps import endpoints
from wagateway.apps import service as apps
from wagateway.apps.endpoints import EndpointChanges, EndpointView
from wagateway.core.openapi import APP_CALLER, WITH_BODY, errors
from wagateway.gateway import Gateway, GatewayDep
from wagateway.webhooks import service
from wagateway.webhooks.schemas import DeliveryList, DeliveryOut, RedeliverAllOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get(
    "/deliveries",
    response_model=DeliveryList,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
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
    endpoint_id: str | None = None,
) -> DeliveryList:
    """Events and their delivery state, newest first, each with its attempt log.

    Filters: `device_id`, `event`, `state` (pending, delivered, failed, skipped), and
    `endpoint_id`: that endpoint's delivery log (the events it has had to deliver, its state
    of each, its attempts). Events of deleted devices are archived: add
    `include_archived=true` to see them.
    """
    page = await service.deliveries_page(
        gw.db,
        app.id,
        device_id=device_id,
        event=event,
        state=state,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
        endpoint_id=endpoint_id,
    )
    return DeliveryList(
        deliveries=[DeliveryOut.of(d) for d in page.events], next_cursor=page.next_cursor
    )


@router.get(
    "/deliveries/{request_id}",
    response_model=DeliveryOut,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def get_delivery(
    request_id: str, app: CurrentApp, gw: GatewayDep, endpoint_id: str | None = None
) -> DeliveryOut:
    """One event by its request_id, with its payload and every attempt (to `endpoint_id`
    only, when given)."""
    return DeliveryOut.of(await service.delivery(gw.db, app.id, request_id, endpoint_id))


@router.post(
    "/deliveries/{request_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def redeliver(
    request_id: str, app: CurrentApp, gw: GatewayDep, endpoint_id: str | None = None
) -> DeliveryOut:
    """Send a failed (or any past) event again, with the same request_id: to `endpoint_id`,
    or else to every enabled endpoint whose filters let it through."""
    found = await service.redeliver_as(gw.db, None, app.id, request_id, endpoint_id)
    return DeliveryOut.of(found)


@router.post(
    "/deliveries/redeliver-failed",
    response_model=RedeliverAllOut,
    status_code=202,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def redeliver_failed(
    app: CurrentApp,
    gw: GatewayDep,
    device_id: str | None = None,
    endpoint_id: str | None = None,
) -> RedeliverAllOut:
    """Queue every failed event of the app again (of one device, of one endpoint)."""
    count = await service.redeliver_failed_as(gw.db, None, app.id, device_id, endpoint_id)
    return RedeliverAllOut(requeued=count)


# --- endpoints -----------------------------------------------------------------------------


class EndpointOut(BaseModel):
    endpoint_id: str = Field(description='"default" is the app\'s webhook_url')
    url: str
    description: str
    events: list[str] = Field(description="event names delivered to it; empty: every event")
    device_ids: list[str] = Field(
        description="devices whose events it gets; empty: every device (events of no device "
        "always pass)"
    )
    enabled: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_valid_until: datetime | None = Field(
        description="during a secret rotation, until when the previous secret signs too"
    )

    @classmethod
    def of(cls, view: EndpointView) -> EndpointOut:
        return cls(**vars(view))


class EndpointCreated(EndpointOut):
    secret: str = Field(description="whsec_…; shown this once (rotate it for a new one)")


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class EndpointIn(BaseModel):
    url: str = Field(description="an http(s) URL, or a /path joined to the app's domain_url")
    description: str = ""
    events: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    enabled: bool = True


class EndpointUpdate(BaseModel):
    url: str | None = None
    description: str | None = None
    events: list[str] | None = None
    device_ids: list[str] | None = None
    enabled: bool | None = Field(
        None,
        description="a disabled endpoint gets nothing; enabled again, it gets the events "
        "from then on",
    )


class SecretRotate(BaseModel):
    """A webhook secret's rotation: the app's (the admin API) or an endpoint's."""

    grace_seconds: int = Field(
        apps.WEBHOOK_SECRET_GRACE_SECONDS,
        ge=0,
        le=apps.MAX_WEBHOOK_SECRET_GRACE_SECONDS,
        description="the old secret also signs this long",
    )


class EndpointSecretRotated(BaseModel):
    endpoint_id: str
    secret: str
    previous_secret_valid_until: datetime | None


async def _device_ids(gw: Gateway, app_id: str) -> set[str]:
    return {d.id for d in await gw.devices.list(app_id, include_destroyed=True)}


@router.get("/endpoints", response_model=EndpointList, responses=errors(APP_CALLER))
async def list_endpoints(app: CurrentApp, gw: GatewayDep) -> EndpointList:
    """The app's webhook endpoints, `default` (its webhook_url) first."""
    views = await endpoints.list_endpoints(gw.db, app.id)
    return EndpointList(endpoints=[EndpointOut.of(v) for v in views])


@router.post(
    "/endpoints",
    response_model=EndpointCreated,
    status_code=201,
    responses=errors(APP_CALLER, WITH_BODY),
)
async def create_endpoint(body: EndpointIn, app: CurrentApp, gw: GatewayDep) -> EndpointCreated:
    """A new endpoint with its own secret, filters, delivery log and order. It gets the
    events from now on."""
    view, secret = await endpoints.create_endpoint(
        gw.db,
        gw.box,
        None,
        app.id,
        EndpointChanges(**body.model_dump()),
        await _device_ids(gw, app.id),
    )
    return EndpointCreated(**vars(view), secret=secret)


@router.get(
    "/endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def get_endpoint(endpoint_id: str, app: CurrentApp, gw: GatewayDep) -> EndpointOut:
    return EndpointOut.of(await endpoints.get_endpoint(gw.db, app.id, endpoint_id))


@router.patch(
    "/endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=errors(APP_CALLER, WITH_BODY, "not_found"),
)
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, app: CurrentApp, gw: GatewayDep
) -> EndpointOut:
    """Change what is given. On `default`, `url` is the app's webhook_url."""
    view = await endpoints.update_endpoint(
        gw.db,
        None,
        app.id,
        endpoint_id,
        EndpointChanges(**body.model_dump()),
        await _device_ids(gw, app.id),
    )
    return EndpointOut.of(view)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    responses=errors(APP_CALLER, "validation_error", "not_found"),
)
async def delete_endpoint(endpoint_id: str, app: CurrentApp, gw: GatewayDep) -> Response:
    """Delete the endpoint and what it had still to deliver (its log stays). Deleting
    `default` clears the app's webhook_url."""
    await endpoints.delete_endpoint(gw.db, None, app.id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointSecretRotated,
    responses=errors(APP_CALLER, WITH_BODY, "not_found"),
)
async def rotate_endpoint_secret(
    endpoint_id: str, app: CurrentApp, gw: GatewayDep, body: SecretRotate | None = None
) -> EndpointSecretRotated:
    """A new secret; the previous one signs too during `grace_seconds` (both signatures
    are sent). On `default`, the app's webhook secret."""
    grace = (body or SecretRotate()).grace_seconds
    secret, until = await endpoints.rotate_endpoint_secret(
        gw.db, gw.box, None, app.id, endpoint_id, grace
    )
    return EndpointSecretRotated(
        endpoint_id=endpoint_id, secret=secret, previous_secret_valid_until=until
    )
