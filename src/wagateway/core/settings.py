"""One typed settings object for the whole gateway (environment `WAGW_*` and `.env`)."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CidrList = Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode]
SecondsList = Annotated[list[float], NoDecode]
# The header trusted proxies write the client's address in (core/client_address.py).
ForwardedHeader = Literal["X-Forwarded-For", "Forwarded"]
# The admin API's token (WAGW_ADMIN_TOKEN): long enough that guessing it is hopeless.
ADMIN_TOKEN_MIN_LENGTH = 32


def _split_csv(value: object) -> object:
    # Operators write lists as comma-separated strings in env files; accept both forms.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAGW_", env_file=".env", extra="ignore")

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("wagateway-data"), description="SQLite, session stores, media, key file"
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in the data dir")
    secret_key: str = Field("", description="Master key for secrets at rest; empty = key file")
    database_read_pool_size: int = Field(
        40,
        ge=1,
        description="SQLite: reader connections kept open (as many again may open for a burst); "
        "size it to the requests in flight",
    )

    # --- HTTP ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    log_format: str = Field("console", description="console or json")
    metrics_token: str = Field(
        "",
        description="when set, /metrics (and the figures in /health) need "
        "`Authorization: Bearer <this token>`",
    )

    # --- sandbox engine --------------------------------------------------------------------
    sandbox_time_scale: float = Field(1.0, ge=0)
    sandbox_reconnect_delay: float = Field(
        3.0, ge=0, description="seconds (before scaling) a dropped sandbox socket takes to return"
    )

    # --- devices ---------------------------------------------------------------------------
    qr_wait_timeout: float = Field(
        10.0, gt=0, description="bounded wait for an engine's first QR on create/regenerate"
    )
    device_name_max_length: int = 100
    whatsmeow_devices_per_worker: int = Field(
        50, ge=1, description="devices one whatsmeow worker process hosts before another starts"
    )
    whatsmeow_client_factory: str = Field(
        "",
        description="for tests: 'module:callable' standing in for neonize's NewAClient in "
        "whatsmeow workers (empty: the real neonize)",
    )
    whatsmeow_store_url: str = Field(
        "",
        description="where whatsmeow keeps its sessions: a postgres:// URL as lib/pq takes "
        "it (e.g. PgBouncer in transaction mode). Empty: the gateway's own PostgreSQL "
        "database, shared by every node; on SQLite, a file per device in the data dir",
    )
    whatsmeow_max_worker_fds: int = Field(
        768,
        ge=64,
        description="open descriptors past which a whatsmeow worker is recycled (neonize leaks "
        "one per connect); below the usual soft limit of 1024",
    )

    # --- webhooks --------------------------------------------------------------------------
    webhook_retry_schedule: SecondsList = Field(
        default_factory=lambda: [10.0, 30.0, 90.0, 300.0, 1800.0, 7200.0, 21600.0, 43200.0]
    )
    webhook_timeout: float = Field(10.0, gt=0)
    webhook_base_url: str = ""
    webhook_concurrency: int = Field(32, ge=1)
    webhook_poll_interval: float = Field(1.0, gt=0)
    webhook_response_log_bytes: int = 2048
    # Deliver webhooks from a process of its own (delivery/worker_process.py), so the gateway
    # uses a second core; off: in the gateway's process.
    webhook_process: bool = True
    outbound_allowlist: CidrList = Field(default_factory=list)
    outbound_source_address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = Field(
        None,
        description="local address every outbound connection made for a tenant (webhooks, "
        "media URLs) is bound to, so a multi-homed host sends from a known IP; empty = the "
        "system's choice",
    )
    egress_addresses: CidrList = Field(
        default_factory=list,
        description="the public addresses (IPs/CIDRs) receivers see deliveries come from, "
        "published to app owners for their allowlists; the gateway cannot discover them "
        "behind NAT",
    )

    # --- apps / tokens ---------------------------------------------------------------------
    token_rotation_grace_seconds: int = Field(
        0, ge=0, le=7 * 86400, description="how long a rotated-out app token keeps working"
    )

    # --- dashboard operators -------------------------------------------------------------
    dashboard_session_hours: float = Field(
        12.0, gt=0, description="how long a dashboard login lasts before asking again"
    )
    dashboard_cookie_secure: bool | None = Field(
        None,
        description="mark the session cookie Secure; empty = when the request came over HTTPS "
        "(directly or, from a trusted proxy, X-Forwarded-Proto)",
    )
    # Login throttling (docs/dashboard.md): by address and account, and by address; an
    # account's failures from everywhere only slow its logins down, never refuse them.
    login_max_failures: int = Field(
        5,
        ge=1,
        description="wrong passwords for one e-mail from one address within the window before "
        "that address is refused for that e-mail",
    )
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="wrong passwords from one address (any e-mail) within the window"
    )
    login_throttle_seconds: float = Field(
        900.0, gt=0, description="the throttling window (and the longest wait it imposes)"
    )
    login_delay_max_seconds: float = Field(
        10.0,
        ge=0,
        le=60,
        description="once an e-mail has WAGW_LOGIN_MAX_FAILURES failures from all addresses "
        "together, each login for it waits 1 s, doubling per further failure up to this (0: off)",
    )
    pin_max_failures: int = Field(
        5,
        ge=1,
        description="wrong rotation PINs for one app over HTTP within the window before "
        "rotating it over HTTP is refused (the CLI is never refused)",
    )
    pin_throttle_seconds: float = Field(
        900.0, gt=0, description="the rotation-PIN throttling window"
    )
    operator_password_min_length: int = Field(10, ge=8)

    # --- limits (docs/limits.md); apps may be given their own (`wagateway apps set-limits`) --
    rate_limit_per_second: float = Field(
        1000.0, ge=0, description="API requests per second per app (token bucket); 0 = off"
    )
    rate_limit_burst: int = Field(2000, ge=1, description="requests an app may make at once")
    device_rate_limit_per_second: float = Field(
        200.0, ge=0, description="API requests per second on one device's routes; 0 = off"
    )
    device_rate_limit_burst: int = Field(400, ge=1)
    max_devices_per_app: int = Field(100, ge=0, description="device quota per app; 0 = none")
    max_request_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="body cap of API requests other than sends (a send's cap follows "
        "WAGW_SEND_MEDIA_MAX_BYTES)",
    )
    max_connections: int | None = Field(
        None, ge=1, description="concurrent connections and requests; above it, 503"
    )
    keepalive_timeout: int = Field(
        5, ge=1, description="seconds an idle keep-alive connection stays"
    )

    # --- internal access (CONTRACT §5; enforced fully by the internal-ops work) ------------
    internal_allowlist: CidrList = Field(default_factory=list)
    trusted_proxies: CidrList = Field(default_factory=list)
    forwarded_header: ForwardedHeader = Field(
        "X-Forwarded-For",
        description="the header the trusted proxies write, the only one read: "
        "X-Forwarded-For, or Forwarded (RFC 7239)",
    )
    internal_token: str = ""

    # --- messaging ---------------------------------------------------------------------------
    message_ttl_seconds: float = Field(
        86400.0, gt=0, description="a queued message not sent by then fails with `expired`"
    )
    send_wait_timeout: float = Field(30.0, gt=0, description="bound of POST …/messages?wait=true")
    send_media_max_bytes: int = Field(64 * 1024 * 1024, description="outbound media cap (413)")
    send_max_attempts: int = Field(5, ge=1, description="tries before a message fails")
    edit_window_seconds: float = Field(
        900.0, gt=0, description="how long after `sent_at` a sent message can still be edited"
    )
    revoke_window_seconds: float = Field(
        172800.0,
        gt=0,
        description="how long after `sent_at` a sent message can still be deleted for everyone",
    )
    send_poll_interval: float = Field(1.0, gt=0)
    # Pacing defaults (apps and devices may override): see docs/pacing.md for why.
    pacing_rate_per_second: float = Field(1.0, ge=0, description="0 = unpaced")
    pacing_jitter: float = Field(0.5, ge=0, le=5, description="extra random delay, as a fraction")
    pacing_typing_seconds: float = Field(0.0, ge=0, le=30)
    pacing_daily_cap: int = Field(0, ge=0, description="0 = no cap")
    provider_backoff_seconds: float = Field(30.0, ge=0)

    # --- sandbox messaging -------------------------------------------------------------------
    sandbox_delivered_delay: float = Field(1.0, ge=0, description="seconds (before scaling)")
    sandbox_read_delay: float = Field(2.0, ge=0, description="seconds after delivered")
    sandbox_rate_limit_per_minute: int = Field(
        0, ge=0, description="simulated WhatsApp throttling per device; 0 = off"
    )

    # --- history import (CONTRACT §8.4) ---------------------------------------------------
    history_max_messages: int = Field(
        10_000,
        ge=0,
        description="the most messages of WhatsApp's history a device with history_sync "
        "imports; the rest are not kept (and not mapped by the engine)",
    )

    # --- media -----------------------------------------------------------------------------
    media_max_bytes: int = 64 * 1024 * 1024
    media_store: Literal["local", "s3"] = Field(
        "local", description="local: the data dir's store/ folder; s3: an S3-compatible bucket"
    )
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str = Field("", description="for MinIO & co; empty = AWS")
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    media_url_seconds: int = Field(
        86400, ge=1, description="how long a `media_url` link works without a token"
    )
    public_base_url: str = Field(
        "",
        description="the gateway's address as callers reach it (e.g. https://wa.example.com): "
        "`media_url` links are absolute under it; empty = relative to the gateway",
    )

    # --- event stream (CONTRACT §10: GET /events/stream, /events/ws) -------------------------
    stream_max_connections: int = Field(
        100,
        ge=1,
        description="open event streams (SSE and WebSocket) at once, on top of "
        "WAGW_MAX_CONNECTIONS; above it, 503 `stream_capacity_reached`",
    )
    device_lease_seconds: float = Field(
        15.0,
        ge=1,
        description="several nodes (CONTRACT §9): how long a node counts as live after its "
        "last heartbeat (it beats every fourth of this, and stops acting for its devices two "
        "thirds of it after its last beat began); a dead node's devices are taken over within "
        "about twice this",
    )
    node_call_timeout: float = Field(
        15.0,
        gt=0,
        description="several nodes (CONTRACT §9): how long a call for a device waits for the "
        "node that holds it (or, while the device moves, for its new owner) before it is 408 "
        "`request_canceled`",
    )
    redis_url: str = Field(
        "",
        description="several nodes (CONTRACT §9): Redis (redis://host:6379/0, rediss:// for "
        "TLS) where the nodes share their rate limits' buckets, so the limits hold for the "
        "gateway as a whole; empty = each node keeps its own (one node needs no Redis)",
    )
    redis_prefix: str = Field(
        "wagw:",
        description="start of every key the gateway writes in Redis: gateways (or test runs) "
        "sharing one Redis each need their own",
    )
    stream_retention_seconds: int = Field(
        86400,
        ge=0,
        description="how far back a stream resumed with Last-Event-ID replays events (they "
        "are never deleted by it)",
    )
    stream_buffer_events: int = Field(
        1000,
        ge=1,
        description="events a stream consumer may fall behind by before it is cut off "
        "(`consumer_too_slow`)",
    )
    stream_keepalive_seconds: float = Field(
        15, gt=0, description="seconds between keep-alive comments on an idle stream"
    )
    stream_recheck_seconds: float = Field(
        1.0,
        gt=0,
        description="how often an idle stream looks for events another node committed "
        "(this node's own commits wake it at once)",
    )

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator(
        "outbound_allowlist",
        "internal_allowlist",
        "trusted_proxies",
        "egress_addresses",
        mode="before",
    )
    @classmethod
    def _parse_cidrs(cls, value: object) -> object:
        parts = _split_csv(value)
        if isinstance(parts, list):
            return [ipaddress.ip_network(str(p), strict=False) for p in parts]
        return parts

    @field_validator("forwarded_header", mode="before")
    @classmethod
    def _parse_forwarded_header(cls, value: object) -> object:
        # Header names are case-insensitive: accept them as operators happen to spell them.
        if isinstance(value, str):
            for name in ("X-Forwarded-For", "Forwarded"):
                if value.strip().lower() == name.lower():
                    return name
            raise ValueError(f"{value!r} is neither X-Forwarded-For nor Forwarded")
        return value

    @field_validator("outbound_source_address", mode="before")
    @classmethod
    def _parse_source_address(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        try:
            return ipaddress.ip_address(str(value))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address (a host name is not accepted)"
            ) from None

    @field_validator("outbound_source_address")
    @classmethod
    def _check_source_address_is_local(
        cls, value: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        # Caught at start, not on every delivery: an address this host does not have would
        # make every outbound connection fail with "cannot assign requested address".
        if value is not None:
            family = socket.AF_INET if value.version == 4 else socket.AF_INET6
            try:
                with socket.socket(family, socket.SOCK_STREAM) as probe:
                    probe.bind((str(value), 0))
            except OSError as exc:
                raise ValueError(
                    f"{value} is not an address of this host ({exc.strerror or exc})"
                ) from exc
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (
            not value.lower().startswith(("http://", "https://")) or any(c in value for c in "?#")
        ):
            raise ValueError(f"{value!r} is not an http(s):// address without query or fragment")
        return value

    # --- admin API (CONTRACT §10, api/admin.py) -------------------------------------------
    admin_token: str = Field(
        "",
        description="`Authorization: Bearer <this token>` opens /admin (apps, their keys and "
        "limits); at least 32 characters; empty = no admin API (/admin answers 404)",
    )

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token_length(cls, value: str) -> str:
        # The message never repeats the value: it is a secret (settings_problems leaves the
        # input out too).
        if value and len(value) < ADMIN_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"must have at least {ADMIN_TOKEN_MIN_LENGTH} characters (it has {len(value)}); "
                "leave it unset for no admin API"
            )
        return value

    @property
    def reaches_postgresql(self) -> bool:
        """Whether this node talks to PostgreSQL with asyncpg: its database is there, or
        the whatsmeow engine's store."""
        return self.resolved_database_url.startswith("postgresql") or bool(
            self.whatsmeow_store_url.strip()
        )

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: drivers are chosen here so operators can write plain URLs."""
        url = self.database_url.strip()
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'wagateway.db').resolve()}"
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql+psycopg://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def sandbox_delay(self, seconds: float) -> float:
        return seconds * self.sandbox_time_scale


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per bad setting, named as operators write it (`WAGW_…`)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"WAGW_{field.upper()}: {message}")
    return lines


@lru_cache
def get_settings() -> Settings:
    return Settings()
