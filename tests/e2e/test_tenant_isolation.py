"""Tenant isolation generated from the OpenAPI spec (CONTRACT §1, DESIGN "tenant scoping by
construction"): every route that takes an id, called by app A with app B's ids, answers 404
`not_found` and leaves B's objects as they were. A new route that forgets the scoping, or
takes a kind of id the walk does not know, fails here (`tests/support/isolation.py`); the
last two tests prove that the walk does catch both, and that no route hides from it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.e2e.test_inbound_media_queries import inbound, message_event
from tests.support.databases import DatabaseProvider
from tests.support.harness import GatewayServer, WebhookReceiver, free_port, wait_until
from tests.support.isolation import admin_leaks, find_leaks, listing_leaks, probes, unknown_id
from wagateway.api.deps import CurrentApp
from wagateway.core.errors import not_found
from wagateway.core.settings import Settings
from wagateway.devices.models import Device
from wagateway.gateway import GatewayDep
from wagateway.main import create_app

pytestmark = pytest.mark.e2e

# Routes with ids that are not app-scoped, each with the reason; the walk cannot see them
# (they are not in the OpenAPI spec), so `test_every_route_with_an_id_is_walked` insists they
# are listed here.
NOT_APP_SCOPED = {
    "/dashboard": "operator pages (session cookie, project ids): scoped per operator, walked "
    "by tests/dashboard/test_dashboard_access.py",
}


@dataclass
class Tenant:
    """An app with one object of every kind a route takes the id of: `live` on a connected
    device, `gone` on a device since deleted (archived messages and events, erased media)."""

    creds: dict[str, str]
    api: httpx.Client
    receiver: WebhookReceiver
    live: dict[str, str] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds['app_token']}"}

    def all_ids(self) -> list[str]:
        return [self.creds["app_id"], *self.live.values(), *self.gone.values()]


def give_objects(tenant: Tenant, name: str) -> dict[str, str]:
    """A connected device with a sent message, an inbound image in the media store and events."""
    api = tenant.api
    device_id = create_device(api, name)["device_id"]
    scan_current_qr(api, device_id)
    sent = api.post(
        f"/devices/{device_id}/messages",
        params={"wait": "true"},
        json={"to": "6281211112222", "text": f"from {name}"},
    )
    assert sent.status_code == 200, sent.text  # ?wait=true: answered once sent
    wa_id = inbound(api, device_id, {"type": "image", "caption": name})
    media_path = message_event(tenant.receiver, device_id, wa_id)["media_path"]
    assert media_path
    deliveries = api.get("/webhooks/deliveries", params={"device_id": device_id}).json()
    endpoint = api.post(
        "/webhooks/endpoints", json={"url": tenant.receiver.url, "description": name}
    )
    assert endpoint.status_code == 201, endpoint.text
    return {
        "endpoint": endpoint.json()["endpoint_id"],
        "device": device_id,
        "message": sent.json()["message_id"],
        "event": deliveries["deliveries"][0]["request_id"],
        "media": media_path,
    }


def without_links(listing: dict[str, Any]) -> dict[str, Any]:
    """A message listing without its `media_url`s: each is signed when the listing is read,
    its expiry counted from then, so it is no state of the tenant's (the file itself is)."""
    messages = [{k: v for k, v in m.items() if k != "media_url"} for m in listing["messages"]]
    return listing | {"messages": messages}


def snapshot(tenant: Tenant) -> dict[str, Any]:
    """Everything of the tenant's that a leaking call could change, as its owner sees it."""
    api, live, gone = tenant.api, tenant.live, tenant.gone
    media = api.get("/media", params={"path": live["media"]})
    return {
        "devices": api.get("/devices", params={"include_destroyed": "true"}).json(),
        "messages": without_links(
            api.get(f"/devices/{live['device']}/messages", params={"limit": 200}).json()
        ),
        "deliveries": api.get(
            "/webhooks/deliveries", params={"include_archived": "true", "limit": 200}
        ).json(),
        "media": (media.status_code, hashlib.sha256(media.content).hexdigest()),
        "received": api.get(f"/sandbox/devices/{live['device']}/received").json(),
        "archived messages": api.get(f"/archive/devices/{gone['device']}/messages.jsonl").text,
        "archived events": api.get(f"/archive/devices/{gone['device']}/events.jsonl").text,
        "app": api.get("/app").json(),  # its name, webhook and limits (the admin API's)
        "endpoints": api.get("/webhooks/endpoints").json(),
    }


def settled_snapshot(tenant: Tenant) -> dict[str, Any]:
    """The snapshot once receipts and webhook deliveries have stopped changing it."""
    last: list[dict[str, Any]] = [snapshot(tenant)]

    def unchanged() -> dict[str, Any] | None:
        current = snapshot(tenant)
        settled = current == last[0] and all(
            d["state"] in ("delivered", "skipped") for d in current["deliveries"]["deliveries"]
        )
        last[0] = current
        return current if settled else None

    return wait_until(unchanged, timeout=30, interval=1.0, what="the victim's objects to settle")


@pytest.fixture(scope="module")
def gateway(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """A server of this module's own, which also takes token-less internal calls from
    loopback (CONTRACT §5), so that path is walked too."""
    data_dir = tmp_path_factory.mktemp(f"gw-isolation-{backend.backend}")
    server = GatewayServer(
        data_dir,
        backend.migrated_url(data_dir),
        extra_env={"WAGW_INTERNAL_ALLOWLIST": "127.0.0.0/8"},
    ).start()
    yield server
    server.stop()


def tenant(gateway: GatewayServer, name: str, with_gone: bool) -> Iterator[Tenant]:
    receiver = WebhookReceiver().start()
    creds = gateway.create_app(name, receiver.url)
    with gateway.client(creds["app_token"]) as api:
        t = Tenant(creds, api, receiver)
        t.live = give_objects(t, f"{name} live")
        t.live["app"] = creds["app_id"]  # the admin API's `{app_id}`
        if with_gone:
            t.gone = give_objects(t, f"{name} gone")
            assert api.delete(f"/devices/{t.gone['device']}").status_code == 200
            receiver.wait_for(t.gone["device"], "device_destroyed")
            archived = api.get(
                "/webhooks/deliveries",
                params={"device_id": t.gone["device"], "include_archived": "true"},
            ).json()["deliveries"]
            t.gone["event"] = archived[0]["request_id"]  # device_destroyed, archived
            t.gone["app"] = creds["app_id"]
        yield t
    receiver.stop()


@pytest.fixture(scope="module")
def intruder(gateway: GatewayServer) -> Iterator[Tenant]:
    yield from tenant(gateway, "intruder A", with_gone=False)


@pytest.fixture(scope="module")
def victim(gateway: GatewayServer) -> Iterator[Tenant]:
    yield from tenant(gateway, "victim B", with_gone=True)


def test_another_apps_ids_are_not_found_on_every_route(
    gateway: GatewayServer, intruder: Tenant, victim: Tenant
) -> None:
    spec = httpx.get(gateway.base_url + "/openapi.json").json()
    walked = {p.template for p in probes(spec, victim.live, intruder.live, [])}
    assert {path for path in spec["paths"] if "{" in path} <= walked
    assert {"/media", "/webhooks/deliveries"} <= walked  # ids in the query: a lookup, a filter
    before = settled_snapshot(victim)
    problems = []
    with gateway.client(intruder.creds["app_token"]) as a:
        # B's live objects, then those of B's deleted device (404 for A, not B's 410), each
        # in every id parameter, alone or with A's own ids in the others.
        problems += find_leaks(a, spec, victim.live, intruder.live)
        problems += find_leaks(a, spec, victim.gone, intruder.live)
        problems += listing_leaks(a, spec, victim.all_ids())
        # The admin API (on: the test servers have an admin token) refuses an app's token.
        admin_routes = [path for path in spec["paths"] if path.startswith("/admin")]
        assert len(admin_routes) >= 6, admin_routes
        problems += admin_leaks(a, spec, victim.creds["app_id"])
    # Internal callers act as the app of the device they name: with A's device, B's other ids
    # are as foreign as for A's token.
    with gateway.client() as internal:
        problems += find_leaks(internal, spec, victim.live, intruder.live, internal=True)
        problems += admin_leaks(internal, spec, victim.creds["app_id"])  # no token: refused
    assert problems == [], "\n".join(problems)

    after = snapshot(victim)
    changed = {k for k in before if before[k] != after[k]}
    assert not changed, f"app A's calls changed app B's {changed}"
    device = victim.api.get(f"/devices/{victim.live['device']}").json()
    assert (device["status"], device["connection"]) == ("connected", "online")


def routes_with_ids_outside_the_spec(app: FastAPI) -> list[str]:
    """Paths that take ids (a path parameter, or a mount, which serves any path below it)
    but are not in the OpenAPI spec, so the walk would never call them. FastAPI keeps
    included routers as such in `app.routes`: their routes are reached through
    `iter_route_contexts`, as the router itself matches them."""
    in_spec = set(app.openapi()["paths"])
    paths = [route.path for route in app.routes if isinstance(route, Mount)]
    paths += [context.path for context in iter_route_contexts(app.routes) if "{" in context.path]
    return [
        path
        for path in paths
        if path not in in_spec and not any(path.startswith(p) for p in NOT_APP_SCOPED)
    ]


def test_every_route_with_an_id_is_walked(tmp_path: Path) -> None:
    """The walk reads the OpenAPI spec: a route with a path parameter that is hidden from the
    spec must be listed in NOT_APP_SCOPED with its reason."""
    app = create_app(Settings(data_dir=tmp_path))
    hidden = routes_with_ids_outside_the_spec(app)
    assert hidden == [], f"routes with ids outside the OpenAPI spec, not walked: {hidden}"


def test_a_route_with_ids_hidden_from_the_spec_is_reported(tmp_path: Path) -> None:
    """The check above can fail: a router included the usual way, whose route with an id
    is left out of the spec, is reported."""
    app = create_app(Settings(data_dir=tmp_path))
    hidden_router = APIRouter()

    @hidden_router.get("/hidden/{thing_id}", include_in_schema=False)
    async def hidden_thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    app.include_router(hidden_router)
    app.openapi_schema = None  # the spec is built again, as a new process would
    assert routes_with_ids_outside_the_spec(app) == ["/hidden/{thing_id}"]


@contextmanager
def in_process(app: FastAPI) -> Iterator[httpx.Client]:
    """`app` served by uvicorn in a thread of this process, and a client for it."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=30, what="the in-process server")
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=20) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_the_walk_reports_an_unscoped_route_and_an_unknown_id(tmp_path: Path) -> None:
    """A deliberately unscoped route and a route with an id kind nobody mapped, added to the
    real application: the walk must name both, and nothing else."""
    cli = GatewayServer(tmp_path, "")  # only for its CLI, on the same data dir
    a, b = cli.create_app("intruder"), cli.create_app("victim")
    app = create_app(Settings(data_dir=tmp_path, webhook_process=False, sandbox_time_scale=0.05))

    @app.get("/devices/{device_id}/leak")
    async def leak(device_id: str, app_: CurrentApp, gw: GatewayDep) -> dict[str, str]:
        async with gw.db.read() as session:
            device = await session.get(Device, device_id)  # forgot: device.app_id == app_.id
        if device is None:
            raise not_found("device")
        return {"device_name": device.name}

    @app.get("/devices/{device_id}/widgets/{widget_id}")
    async def widget(device_id: str, widget_id: str, app_: CurrentApp, gw: GatewayDep) -> None:
        await gw.devices.get(app_.id, device_id)
        raise not_found("widget")

    with in_process(app) as client:
        created = client.post(
            "/devices",
            json={"device_name": "victim"},
            headers={"Authorization": f"Bearer {b['app_token']}"},
        )
        assert created.status_code == 201, created.text
        foreign = {kind: unknown_id(kind) for kind in ("message", "event", "media", "endpoint")}
        foreign["device"] = created.json()["device_id"]
        spec = client.get("/openapi.json").json()
        client.headers["Authorization"] = f"Bearer {a['app_token']}"
        problems = find_leaks(client, spec, foreign)
    assert len(problems) == 2, problems
    assert problems[0].startswith("GET /devices/{device_id}/leak with another app's device_id: 200")
    assert problems[1].startswith("GET /devices/{device_id}/widgets/{widget_id}: path parameter")
    assert "widget_id" in problems[1] and "PATH_IDS" in problems[1]
