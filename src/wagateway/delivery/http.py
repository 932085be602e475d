"""Delivering one event over HTTP: where it goes, the signed POST, and what the answer means.

aiohttp is the client because it sustained several times httpx's POST rate to a local
receiver on a 2-core machine (see benchmarks/webhook_client.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from prometheus_client import Counter, Histogram

from wagateway.apps.models import App
from wagateway.core.db import utcnow
from wagateway.core.secrets import SecretBox
from wagateway.core.settings import Settings
from wagateway.core.text import repair_text
from wagateway.core.timefmt import rfc3339
from wagateway.delivery.leases import Leased
from wagateway.delivery.secrets import signing_secrets
from wagateway.media.links import MediaLinks
from wagateway.webhooks.models import DEFAULT_ENDPOINT, WebhookEndpoint
from wagateway.webhooks.signing import sign
from wagateway.webhooks.targets import UnresolvableTarget, resolve_webhook_target

if TYPE_CHECKING:
    import aiohttp

log = structlog.get_logger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "wagateway_webhook_attempts_total", "Webhook delivery attempts", ["outcome"]
)
WEBHOOK_LATENCY = Histogram("wagateway_webhook_latency_seconds", "Webhook attempt latency")
USER_AGENT = "wagateway-webhooks/0.1"


@dataclass
class Target:
    """Where an endpoint's events go, resolved once per claim: URL and the secrets that
    sign. `key` names the endpoint (app, endpoint_id): each has its own share of connections."""

    key: tuple[str, str]
    url: str | None
    secrets: list[str]
    error: tuple[str, str] | None = None  # (configured target, why it cannot be used)


def target_of(
    settings: Settings, box: SecretBox, app: App, endpoint: WebhookEndpoint, now: datetime
) -> Target:
    key = (app.id, endpoint.endpoint_id)
    configured = app.webhook_url if endpoint.endpoint_id == DEFAULT_ENDPOINT else endpoint.url
    configured = configured or ""
    try:
        url = resolve_webhook_target(configured, app.domain_url, settings.webhook_base_url)
    except UnresolvableTarget as exc:
        return Target(key, url=None, secrets=[], error=(configured, str(exc)))
    if url is None:
        return Target(key, url=None, secrets=[], error=(configured, "the endpoint has no URL"))
    return Target(key, url=url, secrets=signing_secrets(box, app, endpoint, now))


@dataclass
class Outcome:
    url: str
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    # The event itself cannot be sent (its request cannot be built): it fails at once, and
    # its device's later events go on without it.
    undeliverable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def envelope(event: Leased, links: MediaLinks | None = None) -> bytes:
    """The body of a delivery. With `links`, a `media_url` in the payload is signed again
    for this attempt, so a retry or a redelivery long after the event carries a link that
    works for the full `WAGW_MEDIA_URL_SECONDS` from when it is sent (CONTRACT §10)."""
    payload = event.payload
    if links is not None and payload.get("media_url"):
        payload = links.add_to(event.app_id, dict(payload))
    body = {
        "event": event.event,
        "device_id": event.device_id,
        "app_id": event.app_id,
        "timestamp": rfc3339(event.occurred_at),
        "request_id": event.id,
        "payload": payload,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookClient:
    """POSTs events through the outbound guard, at most `webhook_concurrency` at once to each
    endpoint: an endpoint whose receiver hangs holds its own share of connections, never
    another endpoint's."""

    def __init__(
        self,
        settings: Settings,
        on_attempt: Callable[[Outcome], None] | None = None,
        links: MediaLinks | None = None,
    ) -> None:
        self._settings = settings
        self._on_attempt = on_attempt  # told of every HTTP attempt (metrics in another process)
        self._links = links  # signs each attempt's `media_url` afresh
        self._slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._http: aiohttp.ClientSession | None = None

    def open(self) -> None:
        from wagateway.core.guarded_http import guarded_session

        self._http = guarded_session(
            self._settings.outbound_allowlist,
            self._settings.webhook_timeout,
            self._settings.webhook_concurrency,
            source_address=self._settings.outbound_source_address,
            total_limit=0,  # bounded per endpoint by `_slots`
        )

    async def close(self) -> None:
        if self._http:
            await self._http.close()

    async def attempt(self, target: Target, event: Leased) -> Outcome:
        """Deliver `event` to `target`."""
        if target.error is not None or target.url is None:
            url, error = target.error or ("", "the endpoint has no URL")
            return Outcome(url=url, error=error, started_at=utcnow())
        slots = self._slots.get(target.key)
        if slots is None:
            slots = self._slots[target.key] = asyncio.Semaphore(self._settings.webhook_concurrency)
        async with slots:
            try:
                return await self._post(target.url, event, target.secrets)
            except (ValueError, TypeError) as exc:
                # Raised building this event's request (an envelope that cannot be encoded, a
                # header value aiohttp refuses), never by the network: retrying cannot help.
                # Before, the run crashed, the event stayed pending with no attempt and its
                # device's every later event waited behind it for good.
                error = repair_text(f"cannot be delivered: {type(exc).__name__}: {exc}")[:1000]
                log.warning(
                    "webhook_event_undeliverable",
                    request_id=event.id,
                    device_id=event.device_id,
                    error=error,
                )
                return Outcome(url=target.url, error=error, undeliverable=True, started_at=utcnow())

    async def _post(self, url: str, event: Leased, secrets: list[str]) -> Outcome:
        import aiohttp  # imported by `open` (core/guarded_http.py), not with this module

        assert self._http is not None
        body = envelope(event, self._links)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-WA-Request-ID": event.id,
            "X-WA-Event": event.event,
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secrets, event.id, timestamp, body),
        }
        started = time.perf_counter()
        outcome = Outcome(url=url, started_at=utcnow())
        try:
            async with self._http.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                outcome.status_code = resp.status
                raw = await resp.content.read(self._settings.webhook_response_log_bytes)
                outcome.response_excerpt = raw.decode("utf-8", errors="replace")
                if not outcome.succeeded:
                    outcome.error = f"HTTP {resp.status}" + (
                        " (redirects are not followed)" if 300 <= resp.status < 400 else ""
                    )
        except TimeoutError:
            outcome.error = f"timed out after {self._settings.webhook_timeout:g} s"
        except aiohttp.ClientError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"[:1000]
        except OSError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"[:1000]
        outcome.latency_ms = int((time.perf_counter() - started) * 1000)
        WEBHOOK_LATENCY.observe(outcome.latency_ms / 1000)
        WEBHOOK_ATTEMPTS.labels("success" if outcome.succeeded else "failure").inc()
        if self._on_attempt is not None:
            self._on_attempt(outcome)
        return outcome
