"""Webhook target rules (CONTRACT §4): empty, a full URL, or a path joined to a base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from wagateway.core.errors import validation_error


def _is_absolute_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that could never be connected to
    except ValueError:  # e.g. "http://[::1" — a malformed URL is simply not a URL
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_relative_path(value: str) -> bool:
    # "/hooks/wa" yes; "//evil.example/x" (scheme-relative) and "/https://…" no.
    return value.startswith("/") and not value.startswith("//") and "://" not in value


def validate_webhook_target(value: str, field: str = "webhook_url") -> str:
    """Normalise and check a target as it is set; refuses what could never be delivered."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 2000:
        raise validation_error(f"{field} is longer than 2000 characters", field)
    if any(ch.isspace() for ch in value):
        raise validation_error(f"{field} must not contain spaces", field)
    if _is_absolute_http_url(value) or _is_relative_path(value):
        return value
    raise validation_error(
        f"{field} must be empty, an http(s):// URL, or a path starting with '/'", field
    )


def validate_base_url(value: str, field: str = "domain_url") -> str:
    value = value.strip()
    if value and not _is_absolute_http_url(value):
        raise validation_error(f"{field} must be an http(s):// URL", field)
    return value


class UnresolvableTarget(Exception):
    pass


def resolve_webhook_target(target: str, domain_url: str, server_base_url: str) -> str | None:
    """The URL to POST to, or None when the app has no webhook (nothing to deliver)."""
    target = target.strip()
    if not target:
        return None
    if _is_absolute_http_url(target):
        return target
    if _is_relative_path(target):
        base = domain_url.strip() or server_base_url.strip()
        if not base:
            raise UnresolvableTarget(
                "relative webhook path but neither the app's domain_url nor "
                "WAGW_WEBHOOK_BASE_URL is set"
            )
        return base.rstrip("/") + target
    raise UnresolvableTarget("webhook target is neither a URL nor a relative path")
