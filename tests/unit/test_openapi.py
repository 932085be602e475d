"""The OpenAPI description tells the truth (core/openapi.py): an independent validator accepts
the served `/openapi.json`; operations that act for an app require a Bearer token; every error
they document is the contract's envelope with codes the contract gives that status; and every
route documents the errors its dependencies imply, so a new route that documents none fails
here (`test_a_route_that_documents_no_errors_is_named` shows that it does)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from openapi_spec_validator import validate
from pydantic import BaseModel

from tests.e2e.test_api_fuzz import ERROR_CODES
from wagateway.api.deps import CurrentApp, _internal_route, acts_for_an_app, for_the_admin
from wagateway.core.errors import ErrorEnvelope, error_body
from wagateway.core.openapi import ADMIN_SCHEME, BEARER_SCHEME, CODES, open_to_internal_callers
from wagateway.core.settings import Settings
from wagateway.main import create_app


class Widget(BaseModel):
    name: str


METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def served_spec(app: FastAPI) -> dict[str, Any]:
    """`/openapi.json` as a client reads it, through the application's middleware (no gateway
    needed: the lifespan does not run)."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get("/openapi.json")

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    spec: dict[str, Any] = response.json()
    return spec


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return served_spec(app)


def operations(spec: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def documented_codes(operation: Mapping[str, Any]) -> set[str]:
    """The error codes an operation documents: its error responses' examples, one per code."""
    return {
        code
        for status, response in operation["responses"].items()
        if status.startswith("4")
        for code in response["content"]["application/json"].get("examples", {})
    }


def implied_codes(route: Any, path: str, operation: Mapping[str, Any]) -> set[str]:
    """The codes a route can answer with by what it takes, whatever it does: an app token
    (401, 429; `unauthorized` where internal callers may come), any parameter or a body (400:
    core/text_guard.py refuses NUL in any of them), a path id (404), a body (413), a device of
    the device-scoped routes (410)."""
    codes = set()
    if acts_for_an_app(route):
        codes |= {"invalid_api_key", "rate_limit_exceeded"}
        if open_to_internal_callers(path):
            codes.add("unauthorized")
    if operation.get("parameters") or "requestBody" in operation:
        codes.add("validation_error")
    if any(p["in"] == "path" for p in operation.get("parameters", [])):
        codes.add("not_found")
    if "requestBody" in operation:
        codes.add("request_too_large")
    if path.startswith("/devices/{device_id}"):
        codes.add("device_destroyed")
    if for_the_admin(route):
        codes.add("unauthorized")  # the admin token, or nothing (an app token included)
    return codes


def undocumented_errors(app: FastAPI) -> list[str]:
    """One line per operation that does not document every error its dependencies imply."""
    spec = served_spec(app)
    problems = []
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        item = spec["paths"].get(path or "")
        if path is None or item is None:
            continue  # not in the description (the dashboard, /metrics, /docs)
        for method in sorted(route.methods or ()):
            operation = item.get(method.lower())
            if operation is None:
                continue
            missing = implied_codes(route, path, operation) - documented_codes(operation)
            if missing:
                named = ", ".join(sorted(f"{CODES[code].status} {code}" for code in missing))
                problems.append(f"{method} {path} documents no {named}")
    return problems


def test_the_served_description_passes_an_independent_validator(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate(spec)  # openapi-spec-validator: raises on any violation of the OpenAPI schema
    assert len(operations(spec)) > 25


def test_every_route_documents_the_errors_its_dependencies_imply(app: FastAPI) -> None:
    assert undocumented_errors(app) == []


def test_a_route_that_documents_no_errors_is_named(tmp_path: Path) -> None:
    """The check above, on the real application with two routes added the way a new one would
    be written, without `responses=`: both are named with what they leave out, nothing else."""
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/devices/{device_id}/widgets")
    async def widgets(device_id: str, app_: CurrentApp, colour: str | None = None) -> None:
        return None

    @app.post("/widgets", status_code=201)
    async def create_widget(body: Widget, app_: CurrentApp) -> None:
        return None

    assert undocumented_errors(app) == [
        "GET /devices/{device_id}/widgets documents no 400 validation_error, "
        "401 invalid_api_key, 401 unauthorized, 404 not_found, 410 device_destroyed, "
        "429 rate_limit_exceeded",
        "POST /widgets documents no 400 validation_error, 401 invalid_api_key, "
        "413 request_too_large, 429 rate_limit_exceeded",
    ]


def test_fastapis_422_is_nowhere(spec: dict[str, Any]) -> None:
    """The gateway answers an unparsable request with 400 `validation_error`, never 422."""
    assert [f"{m} {p}" for m, p, op in operations(spec) if "422" in op["responses"]] == []
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])


def test_every_error_is_the_envelope_with_codes_the_contract_gives_its_status(
    spec: dict[str, Any],
) -> None:
    problems = []
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith("4"):
                continue
            content = response["content"]["application/json"]
            if content["schema"] != {"$ref": "#/components/schemas/ErrorEnvelope"}:
                problems.append(f"{method} {path} {status}: not the envelope: {content}")
            examples = content.get("examples", {})
            if not examples:
                problems.append(f"{method} {path} {status}: no code documented")
            for code, example in examples.items():
                if code not in ERROR_CODES[int(status)]:
                    problems.append(f"{method} {path} {status}: {code} is not one of its codes")
                body = ErrorEnvelope.model_validate(example["value"])
                if body.error.code != code or f"`{code}`" not in response["description"]:
                    problems.append(f"{method} {path} {status}: example or description of {code}")
    assert problems == [], "\n".join(problems)


def test_the_envelope_model_is_what_the_handlers_write() -> None:
    request = Request({"type": "http", "state": {"request_id": "r-1"}})
    body = error_body(request, "not_found", "device not found", {})
    assert ErrorEnvelope.model_validate(body).model_dump() == body
    assert set(ErrorEnvelope.model_json_schema()["required"]) == set(body)


def test_operations_that_act_for_an_app_require_a_bearer_token(
    app: FastAPI, spec: dict[str, Any]
) -> None:
    assert spec["components"]["securitySchemes"][BEARER_SCHEME] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "app token (wag_…)",
        "description": "",
    }
    secured = {
        f"{method} {route.path_format}"
        for route in iter_route_contexts(app.routes)
        if acts_for_an_app(route)
        for method in route.methods or ()
    }
    required = {
        f"{method} {path}": operation.get("security")
        for method, path, operation in operations(spec)
    }
    assert {op for op, security in required.items() if security} == secured & set(required)
    assert {str(security) for security in required.values()} == {
        str([{BEARER_SCHEME: []}]),
        "None",  # GET /health
    }


def test_with_internal_callers_the_device_routes_take_no_token_from_them(tmp_path: Path) -> None:
    """CONTRACT §5: with an internal allowlist configured, `/devices/{device_id}…` may be
    called without credentials (from an allowlisted address); nothing else may."""
    app = create_app(Settings(data_dir=tmp_path, internal_allowlist=["10.0.0.0/8"]))
    security = {
        f"{method} {path}": operation.get("security")
        for method, path, operation in operations(served_spec(app))
    }
    open_ = {op for op, requirements in security.items() if requirements and {} in requirements}
    assert open_ == {
        op for op in security if op.split(" ", 1)[1].startswith("/devices/{device_id}")
    }
    assert len(open_) > 10
    assert all(security[op] == [{BEARER_SCHEME: []}, {}] for op in open_)


def test_the_internal_route_rule_is_the_requests_one(spec: dict[str, Any]) -> None:
    """`open_to_internal_callers` tells from a path template what `api/deps.py` tells from a
    request: the two agree on every path of the description."""
    for path, item in spec["paths"].items():
        names = [p["name"] for op in item.values() for p in op.get("parameters", [])]
        params = {name: "x" for name in names if "{" + name + "}" in path}
        concrete = path.format(**params)
        request = Request({"type": "http", "path": concrete, "path_params": params})
        assert open_to_internal_callers(path) == _internal_route(request), path


def test_the_admin_api_is_described_with_its_own_scheme_only_when_it_is_on(
    tmp_path: Path, spec: dict[str, Any]
) -> None:
    """CONTRACT §10: with WAGW_ADMIN_TOKEN set, every `/admin` operation requires the admin
    scheme (never the app token's), documents its errors, and passes the validator; without
    it there is no `/admin` in the description at all."""
    assert not [path for path in spec["paths"] if path.startswith("/admin")]
    assert ADMIN_SCHEME not in spec["components"]["securitySchemes"]

    # Off, /admin is not there at all: 404 `not_found`, as any unknown path.
    async def get_admin(app: FastAPI) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get("/admin/apps", headers={"Authorization": "Bearer " + "a" * 32})

    off = asyncio.run(get_admin(create_app(Settings(data_dir=tmp_path))))
    assert (off.status_code, off.json()["error"]["code"]) == (404, "not_found")

    app = create_app(Settings(data_dir=tmp_path, admin_token="a" * 32))
    with_admin = served_spec(app)
    validate(with_admin)
    assert undocumented_errors(app) == []
    security = {
        f"{method} {path}": operation.get("security")
        for method, path, operation in operations(with_admin)
        if path.startswith("/admin")
    }
    assert len(security) == 10
    assert all(value == [{ADMIN_SCHEME: []}] for value in security.values()), security
    scheme = with_admin["components"]["securitySchemes"][ADMIN_SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    admin_routes = {
        f"{method} {route.path_format}"
        for route in iter_route_contexts(app.routes)
        if for_the_admin(route)
        for method in route.methods or ()
    }
    assert admin_routes == set(security)
    assert not any(acts_for_an_app(route) and for_the_admin(route) for route in app.routes)
