"""Property-based fuzzing of the live API (schemathesis against the server's own
`/openapi.json`): whatever a client sends, no 5xx, every error is the contract's envelope
with one of its codes (CONTRACT §1), and every answer is one the description documents for the
operation: its status, content type, headers and body schema (so the description cannot drift
from what the API does: `core/openapi.py`).

A real `wagateway serve` on loopback, an app token, and a connected sandbox device. Half of
the generated requests get real values where the schema alone cannot give them: the device's,
a message's and an event's ids in the path, and a phone number, a JID or a media path where a
query or body field wants one, so that the routes get past 404 and 400 and do their work.
Operations that end a device (delete, disconnect, the phone's logout) get a device each of
their own, so the shared one stays connected for the others.

Bounded and repeatable: a fixed seed and a number of examples per operation, valid and
invalid data mixed. Each database gets cases of its own: SQLite (the default deployment)
`MAX_EXAMPLES` from `SEED`, PostgreSQL half as many from another seed. The generation is most
of this test's CPU (hypothesis drawing from the description, not the server answering), and
with one seed PostgreSQL was sent the very cases SQLite had been: now the two runs try half
as many again, all different.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_device_flow import create_device, scan_current_qr
from tests.support.databases import DatabaseProvider
from tests.support.harness import TEST_ADMIN_TOKEN, GatewayServer, wait_until

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 20
SEED = 20260422
# backend -> (seed, examples per operation): see the module's description.
DRAWS = {"sqlite": (SEED, MAX_EXAMPLES), "postgresql": (SEED + 1, MAX_EXAMPLES // 2)}

# CONTRACT §1: the codes each error status may carry; 405 is the project's addition for a
# known path with a wrong method (docs/behaviour.md).
ERROR_CODES: dict[int, set[str]] = {
    400: {"validation_error"},
    401: {"invalid_api_key", "unauthorized", "invalid_rotation_pin"},
    403: {"app_token_rotation_disabled", "forbidden"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    408: {"request_canceled"},
    409: {
        "conflict",
        "qr_reset_not_allowed",
        "device_not_connected",
        "too_many_devices",
        "logged_out",
    },
    410: {"device_destroyed"},
    413: {"request_too_large"},
    429: {"rate_limit_exceeded", "provider_rate_limit"},
}
# Operations that end the device they are given: each gets a device of its own.
DEVICE_ENDING = (
    "DELETE /devices/{device_id}",
    "POST /devices/{device_id}/disconnect",
    "POST /sandbox/devices/{device_id}/logout",
)

# A stream that opens never ends: the event stream is fuzzed with a token that opens nothing,
# so every example is answered (its refusals; tests/e2e/test_event_stream.py streams).
STREAMING_CALLS: dict[str, dict[str, str] | None] = {
    "GET /events/stream": {"Authorization": "Bearer wag_fuzzing-opens-no-stream"},
}

# Bodies whose rules (which fields a message type needs) the schema does not express: a
# third of the generated ones get these on top, so that sending gets past 400.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "POST /devices/{device_id}/messages": {"to": "6281211112222", "type": "text", "text": "hi"},
    "POST /sandbox/devices/{device_id}/inbound": {
        "from": "6285550001111",
        "type": "text",
        "text": "hi",
    },
}


@schemathesis.check
def contract_error_envelope(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 4xx/5xx: `{"error": {"code", "message", "details"?}, "request_id"}`, the code one
    the contract gives that status, the request id the response's `X-Request-ID`."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"error body is not JSON: {response.text[:200]!r}") from exc
    assert isinstance(body, dict) and set(body) == {"error", "request_id"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) <= {"code", "message", "details"}, body
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), body
    assert isinstance(error.get("details", {}), dict), body
    allowed = ERROR_CODES.get(response.status_code, {"internal_error"})
    assert error["code"] in allowed, f"{response.status_code} {error['code']!r} not in {allowed}"
    assert body["request_id"] == response.headers.get("x-request-id", [None])[0], body
    assert "Traceback" not in response.text
    return None


@dataclass
class Target:
    """Real values the generated ones are replaced with half of the time."""

    device: str
    message: str
    event: str
    media_path: str
    own_device: dict[str, str]  # operation label → a device for it alone
    link: dict[str, str] = field(default_factory=dict)  # `expires` and `sig` of a media_url
    app: str = ""  # an app for the admin API's routes (its own, not the fuzzed one's)

    def path_ids(self, label: str) -> dict[str, str]:
        return {
            "device_id": self.own_device.get(label, self.device),
            "message_id": self.message,
            "request_id": self.event,
            "app_id": self.app,
        }

    def fields(self) -> dict[str, str]:
        """Query and body fields the schema types only as strings."""
        return {
            "to": "6281211112222",
            "phone": "6281211112222",
            "from": "6285550001111",
            "jid": "6281211112222@s.whatsapp.net",
            "path": self.media_path,
            "device_id": self.device,
            **self.link,
        }


def link_query(media_url: str) -> dict[str, str]:
    """The `expires` and `sig` of a `media_url`, so `GET /media/link` gets past 404."""
    query = parse_qs(urlsplit(media_url).query)
    return {"expires": query["expires"][0], "sig": query["sig"][0]}


def half_real(
    generated: Any, real: dict[str, Any], valid: dict[str, Any] | None = None
) -> st.SearchStrategy[Any]:
    """The generated dict as it is, or with the real values for the keys it has, or (given
    a `valid` one, for bodies whose rules the schema cannot express) with those on top."""
    if not isinstance(generated, dict):
        return st.just(generated)
    variants = [generated]
    if real.keys() & generated.keys():
        variants.insert(0, {key: real.get(key, value) for key, value in generated.items()})
    if valid is not None:
        variants.insert(0, generated | valid)
    return st.sampled_from(variants)


@pytest.fixture(scope="module")
def fuzz_server(
    backend: DatabaseProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    data_dir = tmp_path_factory.mktemp(f"gw-fuzz-{backend.backend}")
    # A short bound on `?wait=true`: a fuzzed app pacing must not hold examples for 30 s.
    server = GatewayServer(
        data_dir, backend.migrated_url(data_dir), extra_env={"WAGW_SEND_WAIT_TIMEOUT": "2"}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: GatewayServer, backend: DatabaseProvider) -> schemathesis.BaseSchema:
    token = fuzz_server.create_app("fuzzed")["app_token"]
    with fuzz_server.client(token) as api:

        def connected(name: str) -> str:
            device_id = create_device(api, name)["device_id"]
            scan_current_qr(api, device_id)
            return str(device_id)

        device = connected("fuzz target")
        sent = api.post(f"/devices/{device}/messages", json={"to": "6281211112222", "text": "x"})
        assert sent.status_code == 202, sent.text
        image = api.post(
            f"/sandbox/devices/{device}/inbound", json={"from": "6285550001111", "type": "image"}
        )
        assert image.status_code == 202, image.text
        inbox = f"/devices/{device}/messages?direction=inbound"
        image_message = wait_until(
            lambda: api.get(inbox).json()["messages"], what="the inbound image"
        )[0]
        media_path = image_message["media_path"]
        event = api.get("/webhooks/deliveries").json()["deliveries"][0]["request_id"]
        target = Target(
            device,
            sent.json()["message_id"],
            event,
            media_path,
            {label: connected(label) for label in DEVICE_ENDING},
            link_query(image_message["media_url"]),
            app=fuzz_server.create_app("admin fuzzed")["app_id"],
        )

    seed, examples = DRAWS[backend.backend]
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "base-url": fuzz_server.base_url,
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": 10,
            "generation": {"max-examples": examples, "database": "none"},
        }
    )
    schema = schemathesis.openapi.from_url(fuzz_server.base_url + "/openapi.json", config=config)

    @schema.hook
    def flatmap_path_parameters(
        ctx: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        label = ctx.operation.label if ctx.operation is not None else ""
        return half_real(path_parameters, target.path_ids(label))

    @schema.hook
    def flatmap_query(
        ctx: schemathesis.HookContext, query: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        return half_real(query, target.fields())

    @schema.hook
    def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        label = ctx.operation.label if ctx.operation is not None else ""
        return half_real(body, target.fields(), VALID_BODIES.get(label))

    return schema


def fuzz(operation: schemathesis.APIOperation, seed: int, examples: int) -> str | None:
    """`examples` requests on one operation, valid and invalid data mixed; the failures
    (each shrunk to its smallest example, with a curl line to replay it), or None."""
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    # The admin API's routes get the admin token (an app token gets 401 there: the isolation
    # walk and tests/e2e/test_admin_api.py).
    admin = operation.path.startswith("/admin")
    headers = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"} if admin else None

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=STREAMING_CALLS.get(operation.label, headers),
            checks=[
                not_a_server_error,
                contract_error_envelope,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
            ],
        )

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups distinct failures
        return f"{operation.label}: {exc}"
    return None


def test_no_server_error_and_every_error_in_the_envelope(
    api_schema: schemathesis.BaseSchema, fuzz_server: GatewayServer, backend: DatabaseProvider
) -> None:
    operations = list(api_schema.get_all_operations())
    assert len(operations) > 25
    failures = []
    for result in operations:
        operation = result.ok()  # raises on an operation the spec describes badly
        if (failure := fuzz(operation, *DRAWS[backend.backend])) is not None:
            failures.append(failure)
    assert not failures, "\n\n".join(failures)
    # The admin API was fuzzed with its token, not only refused: beside the fuzzed app (the
    # admin routes' own was deleted by them), it made apps.
    with fuzz_server.client(TEST_ADMIN_TOKEN) as admin:
        names = [app["name"] for app in admin.get("/admin/apps").json()["apps"]]
    assert "admin fuzzed" not in names and len(names) > 1, names
