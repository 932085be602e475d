"""Tenant isolation, generated from the OpenAPI description (CONTRACT §1: an id that belongs
to another app is 404 `not_found`, never 403, never the object).

`find_leaks` walks every operation of a spec that takes an id, calls it with the intruder's
credentials and the victim's ids, and returns one line per route that answered anything else.
It knows which object a parameter names by its name (`PATH_IDS`, `QUERY_IDS`): a route with a
path parameter it does not know is reported too, so a new kind of id cannot slip past it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

# Path parameter name → the kind of object it names. Every path parameter of the API must be
# here: a new one fails `find_leaks` until it is added (and the victim app is given one).
PATH_IDS = {
    "device_id": "device",
    "message_id": "message",
    "request_id": "event",
    "endpoint_id": "endpoint",
}
# Path parameters that name no object of an app but an address on WhatsApp (a chat, a
# contact): no one owns them, so they are filled with a sample and never carry the victim's ids.
PATH_ADDRESSES = {"chat": "6281234567890", "group": "120363012345678901@g.us"}
# Query parameters that name an object. A filter (optional) may answer with an empty result
# instead of 404, but must answer exactly as it does for an id that does not exist.
QUERY_IDS = {"device_id": "device", "path": "media", "endpoint_id": "endpoint"}

# Values for required fields and query parameters that the routes accept, so that a 404 can
# only come from scoping (and a leak shows as a success, not as a 400).
SAMPLES: dict[str, Any] = {
    "phone": "6281234567890",
    "from": "6281234567890",
    "to": "6281234567890",
    "jid": "6281234567890",
    "qr": "2@x",
    "pairing_code": "ABCDEFGH",
    "wa_message_id": "3EB0000000000000000000",
}
# Bodies chosen per route where the minimal required one would not be valid or would not
# change anything observable (so that a leak would also show in the victim's objects).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/devices/{device_id}"): {"device_name": "taken over"},
    ("PATCH", "/webhooks/endpoints/{endpoint_id}"): {"description": "taken over"},
    ("POST", "/webhooks/endpoints"): {"url": "https://example.com/taken-over"},
    ("POST", "/devices/{device_id}/messages"): {"to": SAMPLES["to"], "type": "text", "text": "x"},
    ("POST", "/sandbox/devices/{device_id}/inbound"): {
        "from": SAMPLES["from"],
        "type": "text",
        "text": "x",
    },
    ("PATCH", "/devices/{device_id}/groups/{group}"): {"subject": "taken over"},
    ("POST", "/devices/{device_id}/groups"): {"subject": "taken over"},
    ("POST", "/devices/{device_id}/groups/join"): {
        "invite_link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"
    },
    ("POST", "/devices/{device_id}/groups/{group}/participants"): {
        "action": "add",
        "participants": [SAMPLES["to"]],
    },
}
# The account itself (CONTRACT §8.4): `{jid}` names a contact; a profile change needs a part.
PATH_ADDRESSES["jid"] = "6281234567890"
BODIES[("PATCH", "/devices/{device_id}/profile")] = {"name": "taken over"}
ROUTER_NOT_FOUND = "route not found"  # core/errors.py: no route matched (not a scoping answer)
# Routes whose answer is a stream that stays open (CONTRACT §10, the event stream): read for
# a moment, then closed; the answer is its status and what it sent meanwhile.
STREAMING = {"/events/stream"}
STREAM_READ_SECONDS = 0.3


def request_briefly(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    chunks: list[bytes] = []
    timeout = httpx.Timeout(10, read=STREAM_READ_SECONDS)
    started = time.monotonic()
    with client.stream(method, url, timeout=timeout, **options) as response:
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() - started > STREAM_READ_SECONDS:
                    break
        except httpx.ReadTimeout:
            pass
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.items() if k != "content-length"],
        content=b"".join(chunks),
        request=response.request,
    )


# The admin API (CONTRACT §10) takes any app's id, but only with the admin token: an app's
# token (or none) is refused there with 401 `unauthorized`, whatever the id (`admin_leaks`).
PATH_IDS["app_id"] = "app"
ADMIN_PREFIX = "/admin"
BODIES[("POST", "/admin/apps")] = {"name": "taken over"}
BODIES[("PATCH", "/admin/apps/{app_id}")] = {"name": "taken over"}
BODIES[("PUT", "/admin/apps/{app_id}/limits")] = {"max_devices": 0}


def unknown_id(kind: str) -> str:
    """An id of `kind` that exists nowhere."""
    if kind == "media":
        return f"media/{uuid.uuid4()}/{uuid.uuid4()}-{uuid.uuid4()}.png"
    return str(uuid.uuid4())


@dataclass
class Probe:
    method: str
    template: str
    path_ids: dict[str, str]
    query: dict[str, Any]
    body: Any
    foreign: tuple[str, ...]  # the parameters that carry the victim's ids
    in_query: bool  # the victim's id is in a query parameter (a filter or a lookup)
    unknown_query: dict[str, Any] = field(default_factory=dict)  # the same, for an unknown id

    @property
    def label(self) -> str:
        return f"{self.method} {self.template} with another app's {', '.join(self.foreign)}"

    def url(self) -> str:
        url = self.template
        for name, value in self.path_ids.items():
            url = url.replace("{" + name + "}", value)
        return url


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _value_for(name: str, schema: Mapping[str, Any]) -> Any:
    if name in SAMPLES:
        return SAMPLES[name]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    return {"integer": 1, "number": 1.0, "boolean": False, "array": [], "object": {}}.get(
        str(schema.get("type")), "sample"
    )


def sample_body(
    spec: Mapping[str, Any], method: str, path: str, operation: Mapping[str, Any]
) -> Any:
    """A body valid for the route: from `BODIES`, else the schema's required fields."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    if (method, path) in BODIES:
        return BODIES[(method, path)]
    schema = _resolve(spec, content["schema"])
    properties = schema.get("properties", {})
    return {
        name: _value_for(name, _resolve(spec, properties.get(name, {})))
        for name in schema.get("required", [])
    }


def _parameters(operation: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == where]


def probes(
    spec: Mapping[str, Any],
    foreign: Mapping[str, str],
    own: Mapping[str, str] | None,
    problems: list[str],
) -> Iterator[Probe]:
    """The requests to make: for every operation that takes an id, the victim's ids
    (`foreign`, by kind) everywhere, and, given the intruder's `own` ids, the victim's id in
    one parameter with the intruder's own in the others (a route that checks only the device
    but loads the message by its id alone answers those)."""
    for template, operations in spec["paths"].items():
        for method_lower, operation in operations.items():
            method = method_lower.upper()
            all_path_params = [p["name"] for p in _parameters(operation, "path")]
            addresses = {n: PATH_ADDRESSES[n] for n in all_path_params if n in PATH_ADDRESSES}
            path_params = [name for name in all_path_params if name not in PATH_ADDRESSES]
            unknown = [name for name in path_params if name not in PATH_IDS]
            if unknown:
                problems.append(
                    f"{method} {template}: path parameter(s) {', '.join(unknown)} name no object "
                    "the isolation test knows: add them to PATH_IDS in tests/support/isolation.py "
                    "and give the victim app one"
                )
                continue
            query_ids = [p for p in _parameters(operation, "query") if p["name"] in QUERY_IDS]
            unmapped = [
                p["name"]
                for p in _parameters(operation, "query")
                if p["name"].endswith("_id") and p["name"] not in QUERY_IDS
            ]
            if unmapped:
                problems.append(
                    f"{method} {template}: query parameter(s) {', '.join(unmapped)} look like ids "
                    "the isolation test does not know: add them to QUERY_IDS"
                )
            required_query = {
                p["name"]: _value_for(p["name"], p.get("schema", {}))
                for p in _parameters(operation, "query")
                if p.get("required") and p["name"] not in QUERY_IDS
            }
            body = sample_body(spec, method, template, operation)

            def ids(
                names: list[str], source: Mapping[str, str], addresses: dict[str, str] = addresses
            ) -> dict[str, str]:
                return {name: source[PATH_IDS[name]] for name in names} | addresses

            if path_params:
                # Every id the victim's: 404.
                query = dict(required_query)
                for p in query_ids:
                    if p.get("required"):
                        query[p["name"]] = foreign[QUERY_IDS[p["name"]]]
                yield Probe(
                    method,
                    template,
                    ids(path_params, foreign),
                    query,
                    body,
                    tuple(path_params),
                    in_query=False,
                )
                # One id the victim's, the others the intruder's own: 404 as well.
                if own is not None and len(path_params) > 1:
                    for name in path_params:
                        path_ids = ids(path_params, own) | {name: foreign[PATH_IDS[name]]}
                        yield Probe(
                            method,
                            template,
                            path_ids,
                            dict(required_query),
                            body,
                            (name,),
                            in_query=False,
                        )
            if path_params and own is None:
                continue
            # An id in the query (a lookup or a filter), the path the intruder's own: the same
            # answer as for an id that does not exist.
            for p in query_ids:
                kind = QUERY_IDS[p["name"]]
                base = dict(required_query)
                path_ids = ids(path_params, own) if own is not None else addresses
                yield Probe(
                    method,
                    template,
                    path_ids,
                    base | {p["name"]: foreign[kind]},
                    body,
                    (p["name"],),
                    in_query=True,
                    unknown_query=base | {p["name"]: unknown_id(kind)},
                )


def _envelope_problem(response: httpx.Response, status: int, code: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} (not JSON): {response.text[:200]}"
    error = body.get("error") if isinstance(body, dict) else None
    if (
        response.status_code != status
        or not isinstance(error, dict)
        or error.get("code") != code
        or not isinstance(error.get("message"), str)
        or set(body) != {"error", "request_id"}
        or body["request_id"] != response.headers.get("x-request-id")
    ):
        return f"{response.status_code}: {response.text[:300]}"
    if error["message"] == ROUTER_NOT_FOUND:
        return "404 from the router: the request never reached the route (a test bug)"
    return None


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, body


def find_leaks(
    client: httpx.Client,
    spec: Mapping[str, Any],
    foreign: Mapping[str, str],
    own: Mapping[str, str] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    internal: bool = False,
) -> list[str]:
    """Call every probe with `client` (the intruder's credentials, or `headers`); return a
    line for each answer that is not the contract's: 404 `not_found` in the error envelope
    for the victim's id in the path, the same answer as for an unknown id in the query.

    `internal`: the calls come token-less from an internal caller (CONTRACT §5), who acts as
    the app of the device in the path: only the device routes, with the intruder's own device
    and the victim's other ids."""
    problems: list[str] = []
    for probe in probes(spec, foreign, own, problems):
        if internal and ("{device_id}" not in probe.template or "device_id" in probe.foreign):
            continue

        def call(query: dict[str, Any], probe: Probe = probe) -> httpx.Response:
            if probe.template in STREAMING:
                return request_briefly(
                    client,
                    probe.method,
                    probe.url(),
                    params=query,
                    headers=dict(headers) if headers is not None else None,
                )
            return client.request(
                probe.method,
                probe.url(),
                params=query,
                json=probe.body,
                headers=dict(headers) if headers is not None else None,
            )

        response = call(probe.query)
        if probe.in_query:
            expected = _comparable(call(probe.unknown_query))
            if _comparable(response) != expected:
                problems.append(
                    f"{probe.label}: {response.status_code} {response.text[:300]} "
                    f"(an unknown id: {expected})"
                )
        elif probe.template.startswith(ADMIN_PREFIX):
            if (problem := _envelope_problem(response, 401, "unauthorized")) is not None:
                problems.append(f"{probe.label}: an app's token reached /admin: {problem}")
        elif (problem := _envelope_problem(response, 404, "not_found")) is not None:
            problems.append(f"{probe.label}: {problem}")
    return problems


def admin_leaks(client: httpx.Client, spec: Mapping[str, Any], app_id: str) -> list[str]:
    """Every operation of the admin API, with `client`'s credentials (an app's token, or none)
    and another app's id where one goes: 401 `unauthorized` in the envelope, never anything
    else (an app token never reaches `/admin`)."""
    problems = []
    operations = [
        (method.upper(), template, operation)
        for template, item in spec["paths"].items()
        if template.startswith(ADMIN_PREFIX)
        for method, operation in item.items()
    ]
    for method, template, operation in operations:
        url = template.replace("{app_id}", app_id)
        response = client.request(method, url, json=sample_body(spec, method, template, operation))
        if (problem := _envelope_problem(response, 401, "unauthorized")) is not None:
            problems.append(f"{method} {template}: {problem}")
    return problems


def listing_leaks(
    client: httpx.Client, spec: Mapping[str, Any], foreign_ids: list[str]
) -> list[str]:
    """Every GET that takes no id and needs nothing (the listings): none of the victim's ids
    in its answer, with every boolean switch on (`include_destroyed`, `include_archived`)."""
    problems = []
    for template, operations in spec["paths"].items():
        operation = operations.get("get")
        if operation is None or "{" in template:
            continue
        parameters = operation.get("parameters", [])
        if any(p.get("required") for p in parameters):
            continue
        switches = {
            p["name"]: "true" for p in parameters if p.get("schema", {}).get("type") == "boolean"
        }
        if template in STREAMING:
            response = request_briefly(client, "GET", template, params=switches)
        else:
            response = client.get(template, params=switches)
        leaked = [i for i in foreign_ids if i in response.text]
        if leaked:
            problems.append(f"GET {template}: shows another app's {leaked}")
    return problems
