from __future__ import annotations

import pytest

from wagateway.core.errors import ApiError
from wagateway.webhooks.targets import (
    UnresolvableTarget,
    resolve_webhook_target,
    validate_webhook_target,
)


@pytest.mark.parametrize(
    "value",
    ["", "https://x.example/h", "http://x:8080/a?b=1", "/hooks/wa"],
)
def test_valid_targets_are_accepted_unchanged(value: str) -> None:
    assert validate_webhook_target(value) == value


def test_surrounding_whitespace_is_stripped() -> None:
    assert validate_webhook_target("  https://x.example/h\n") == "https://x.example/h"
    assert validate_webhook_target("   ") == ""


@pytest.mark.parametrize(
    "value",
    [
        "/https://evil.example",
        "//evil.example/x",
        "ftp://x",
        "x.example/h",
        "javascript:alert(1)",
        "https://x.example/a b",
        "/hooks/a b",
        "/hooks/a\tb",
        "https://x.example/" + "a" * 2000,
        "/" + "a" * 2000,
        "http://",
        "https:///path-only",
    ],
    ids=lambda v: v if len(v) < 40 else f"long-{len(v)}",
)
def test_invalid_targets_are_refused_with_validation_error(value: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        validate_webhook_target(value)
    err = excinfo.value
    assert err.status == 400
    assert err.code == "validation_error"
    assert err.details == {"field": "webhook_url"}


def test_exactly_2000_chars_is_allowed_but_2001_is_not() -> None:
    base = "https://x.example/"
    ok = base + "a" * (2000 - len(base))
    assert len(ok) == 2000
    assert validate_webhook_target(ok) == ok
    with pytest.raises(ApiError):
        validate_webhook_target(ok + "a")


def test_field_name_is_reported() -> None:
    with pytest.raises(ApiError) as excinfo:
        validate_webhook_target("ftp://x", field="other_url")
    assert excinfo.value.details == {"field": "other_url"}


def test_malformed_ipv6_url_is_a_validation_error() -> None:
    with pytest.raises(ApiError) as excinfo:
        validate_webhook_target("http://[::1")
    assert excinfo.value.status == 400


@pytest.mark.parametrize("value", ["http://x:abc/h", "http://x:99999/h"])
def test_url_with_invalid_port_is_refused(value: str) -> None:
    with pytest.raises(ApiError):
        validate_webhook_target(value)


# --- resolve_webhook_target ------------------------------------------------------------


@pytest.mark.parametrize("target", ["", "   "])
def test_empty_target_resolves_to_none(target: str) -> None:
    assert resolve_webhook_target(target, "https://app.example", "https://srv.example") is None
    assert resolve_webhook_target(target, "", "") is None


def test_full_url_is_used_as_is() -> None:
    url = "http://x:8080/a?b=1"
    assert resolve_webhook_target(url, "https://app.example", "https://srv.example") == url
    assert resolve_webhook_target(url, "", "") == url


@pytest.mark.parametrize(
    "domain_url",
    ["https://app.example", "https://app.example/"],
)
def test_relative_path_joins_domain_url(domain_url: str) -> None:
    assert (
        resolve_webhook_target("/hooks/wa", domain_url, "https://srv.example")
        == "https://app.example/hooks/wa"
    )


def test_relative_path_keeps_domain_url_path_prefix() -> None:
    assert (
        resolve_webhook_target("/hooks/wa", "https://app.example/base/", "")
        == "https://app.example/base/hooks/wa"
    )


@pytest.mark.parametrize(
    "server_base",
    ["https://srv.example", "https://srv.example/"],
)
def test_relative_path_falls_back_to_server_base_url(server_base: str) -> None:
    assert resolve_webhook_target("/hooks/wa", "", server_base) == "https://srv.example/hooks/wa"
    assert resolve_webhook_target("/hooks/wa", "   ", server_base) == "https://srv.example/hooks/wa"


def test_relative_path_without_any_base_is_unresolvable() -> None:
    with pytest.raises(UnresolvableTarget):
        resolve_webhook_target("/hooks/wa", "", "")


@pytest.mark.parametrize("target", ["/https://evil.example", "//evil.example/x", "ftp://x"])
def test_unsafe_stored_target_is_unresolvable(target: str) -> None:
    with pytest.raises(UnresolvableTarget):
        resolve_webhook_target(target, "https://app.example", "https://srv.example")
