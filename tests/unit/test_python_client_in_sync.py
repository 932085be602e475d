"""The committed Python client (clients/python) matches the API: its `openapi.json` is the
description the app builds now, and its generated package is what `scripts/generate-client`
wrote (the digest it recorded). A route or model changed without regenerating, or a generated
file edited by hand, fails here with the fix. (CI also regenerates and diffs, with the
generator itself: `scripts/generate-client --check` in .ci/run.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
from wagateway_client import errors

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
FIX = "clients/python is out of date: run scripts/generate-client and commit the result"


def openapi_spec() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_spec", ROOT / "scripts/openapi_spec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_client_matches_the_api() -> None:
    script = openapi_spec()
    assert script.spec_text() == (CLIENT / "openapi.json").read_text(encoding="utf-8"), FIX
    recorded = (CLIENT / "generator" / "generated.sha256").read_text().strip()
    assert script.tree_digest(CLIENT / "wagateway_client") == recorded, FIX


def test_a_changed_generated_file_is_noticed(tmp_path: Path) -> None:
    script = openapi_spec()
    package = tmp_path / "wagateway_client"
    (package / "api").mkdir(parents=True)
    (package / "api" / "x.py").write_text("a = 1\n")
    before = script.tree_digest(package)
    (package / "api" / "x.py").write_text("a = 2\n")
    assert script.tree_digest(package) != before


def answer(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers)


def test_error_answers_become_typed_exceptions() -> None:
    envelope = (
        b'{"error": {"code": "rate_limit_exceeded", "message": "slow down", '
        b'"details": {"scope": "app"}}, "request_id": "r-1"}'
    )
    limited = errors.error_from_response(answer(429, envelope, **{"Retry-After": "0.4"}))
    assert isinstance(limited, errors.RateLimited)
    assert (limited.status, limited.code, limited.message) == (
        429,
        "rate_limit_exceeded",
        "slow down",
    )
    assert limited.details == {"scope": "app"} and limited.request_id == "r-1"
    assert limited.retry_after == 0.4
    # Not an envelope (a proxy's page): the status's class, code `unexpected_response`.
    proxy = errors.error_from_response(
        answer(502, b"<html>Bad Gateway</html>", **{"X-Request-ID": "r-2"})
    )
    assert isinstance(proxy, errors.ServerError) and proxy.code == "unexpected_response"
    assert proxy.message == "<html>Bad Gateway</html>" and proxy.request_id == "r-2"
    other = errors.error_from_response(answer(418, b'{"error": "teapot"}'))
    assert type(other) is errors.WAGatewayError and other.code == "unexpected_response"
