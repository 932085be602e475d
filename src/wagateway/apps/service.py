"""Apps (tenants) and their credentials: the rules the REST API, CLI and dashboard share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.limits import LimitsOut, LimitsOverride, effective, set_limits
from wagateway.apps.models import App, AppToken
from wagateway.apps.tokens import live_token
from wagateway.audit import service as audit
from wagateway.audit import throttle
from wagateway.audit.service import Actor
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.secrets import (
    SecretBox,
    looks_like_app_token,
    new_app_token,
    new_webhook_secret,
    token_hash,
)
from wagateway.core.settings import Settings
from wagateway.webhooks import endpoints
from wagateway.webhooks.targets import validate_base_url, validate_webhook_target

ENGINES = ("sandbox", "whatsmeow")


class Keep(Enum):
    """A setting left as it is (None, for the settings that take it, clears one)."""

    KEEP = "keep"


KEEP = Keep.KEEP
_pin_hasher = PasswordHasher()
ROTATE_REFUSED = "api_key.rotate_refused"  # audit action: a wrong PIN, or a throttled guess
# A webhook secret's: a day unless told (the old secret signs beside the new one), at most 30.
WEBHOOK_SECRET_GRACE_SECONDS = 86400
MAX_WEBHOOK_SECRET_GRACE_SECONDS = 720 * 3600


@dataclass(frozen=True)
class CreatedApp:
    app: App
    app_token: str
    webhook_secret: str

    def credentials(self) -> dict[str, str]:
        """What creating an app shows, once: `apps create --json`, the admin API's 201."""
        return {
            "app_id": self.app.id,
            "app_token": self.app_token,
            "webhook_secret": self.webhook_secret,
        }


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise validation_error("name is required", "name")
    if len(name) > 200:
        raise validation_error("name is longer than 200 characters", "name")
    return name


async def create_app(
    session: AsyncSession,
    box: SecretBox,
    name: str,
    engine: str = "sandbox",
    webhook_url: str = "",
    domain_url: str = "",
    rotation_pin: str | None = None,
) -> CreatedApp:
    if engine not in ENGINES:
        raise validation_error(f"engine must be one of {', '.join(ENGINES)}", "engine")
    token = new_app_token()
    secret = new_webhook_secret()
    app = App(
        name=_validate_name(name),
        engine=engine,
        webhook_url=validate_webhook_target(webhook_url),
        domain_url=validate_base_url(domain_url),
        webhook_secret_enc=box.encrypt(secret),
        rotation_enabled=True,
        rotation_pin_hash=_pin_hasher.hash(rotation_pin) if rotation_pin else None,
    )
    session.add(app)
    await session.flush()
    session.add(AppToken(app_id=app.id, token_hash=token_hash(token), token_enc=box.encrypt(token)))
    await endpoints.follow_webhook_url(session, app.id, app.webhook_url)
    await session.flush()
    return CreatedApp(app=app, app_token=token, webhook_secret=secret)


async def get_app(session: AsyncSession, app_id: str) -> App:
    app = await session.get(App, app_id)
    if app is None or app.archived_at is not None:
        raise not_found("app")
    return app


async def app_for_token(
    session: AsyncSession, token: str, now: datetime | None = None
) -> App | None:
    """The app a Bearer token belongs to, if the token is current or within its grace period."""
    if not looks_like_app_token(token):
        return None
    stmt = (
        select(App)
        .join(AppToken, AppToken.app_id == App.id)
        .where(live_token(token_hash(token), now or utcnow()))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def app_of_token(db: Database, token: str) -> App | None:
    """`app_for_token` in a read of its own (a request's authentication)."""
    async with db.read() as session:
        return await app_for_token(session, token)


async def _current_token(session: AsyncSession, app_id: str) -> AppToken:
    stmt = (
        select(AppToken)
        .where(AppToken.app_id == app_id, AppToken.expires_at.is_(None))
        .order_by(AppToken.created_at.desc())
        .limit(1)
    )
    current = (await session.execute(stmt)).scalar_one_or_none()
    if current is None:
        raise not_found("app token")
    return current


async def reveal_token(session: AsyncSession, box: SecretBox, app_id: str) -> str:
    await get_app(session, app_id)
    return box.decrypt((await _current_token(session, app_id)).token_enc)


def _check_rotation_allowed(app: App, pin: str | None) -> None:
    if not app.rotation_enabled:
        raise ApiError(
            403, "app_token_rotation_disabled", "token rotation is disabled for this app"
        )
    if app.rotation_pin_hash:
        try:
            _pin_hasher.verify(app.rotation_pin_hash, pin or "")
        except (VerificationError, InvalidHashError) as exc:
            raise ApiError(401, "invalid_rotation_pin", "rotation PIN is wrong") from exc


async def rotate_token(
    session: AsyncSession,
    box: SecretBox,
    app_id: str,
    pin: str | None = None,
    grace_seconds: int = 0,
) -> str:
    """Issue a new token; the old one stops working now, or after the grace period. Callers
    acting for someone use `rotate_token_as`, which audits and throttles PIN guesses."""
    app = await get_app(session, app_id)
    _check_rotation_allowed(app, pin)
    return await _issue_token(session, box, app, grace_seconds)


async def _issue_token(session: AsyncSession, box: SecretBox, app: App, grace_seconds: int) -> str:
    now = utcnow()
    stmt = select(AppToken).where(
        AppToken.app_id == app.id, or_(AppToken.expires_at.is_(None), AppToken.expires_at > now)
    )
    for old in (await session.execute(stmt)).scalars():
        old.expires_at = now + timedelta(seconds=grace_seconds) if grace_seconds else now
    token = new_app_token()
    session.add(AppToken(app_id=app.id, token_hash=token_hash(token), token_enc=box.encrypt(token)))
    app.updated_at = now
    await session.flush()
    return token


async def _pin_wait(session: AsyncSession, settings: Settings, app_id: str) -> float:
    window = timedelta(seconds=settings.pin_throttle_seconds)
    return await throttle.wait_needed(
        session, throttle.PIN, settings.pin_max_failures, window, utcnow(), subject=app_id
    )


async def refuse_rotation_while_throttled(
    db: Database, settings: Settings, actor: Actor, app_id: str
) -> None:
    """Over HTTP, before anything else is checked (the password costs a hash): 429 while
    the app has had `pin_max_failures` wrong PINs inside the window, from anyone, anywhere
    (PINs are short; the host's CLI still rotates meanwhile). Audited like a wrong PIN."""
    async with db.read() as session:
        wait = await _pin_wait(session, settings, app_id)
    if wait > 0:
        async with db.transaction() as session:
            audit.record(
                session, actor, ROTATE_REFUSED, app_id=app_id, detail={"reason": "throttled"}
            )
        raise throttle.throttled("wrong rotation PINs", wait)


async def rotate_token_as(
    db: Database,
    box: SecretBox,
    settings: Settings,
    actor: Actor,
    app_id: str,
    pin: str | None,
    grace_seconds: int,
    *,
    throttle_guesses: bool,
) -> str:
    """`rotate_token` on behalf of `actor`, audited either way (never the PIN itself). Over
    HTTP (`throttle_guesses`) the app's PIN throttle is checked, and a wrong PIN counted,
    in the same transaction as the PIN is verified, one guess at a time per app. The CLI,
    the host's own tool that can reveal the token without any PIN, passes False: its wrong
    PINs are audited but neither counted nor refused."""
    refusal: ApiError | None = None
    token = ""
    async with db.transaction() as session:
        if throttle_guesses:
            await throttle.serialise(session, throttle.PIN, app_id)
            wait = await _pin_wait(session, settings, app_id)
            if wait > 0:
                refusal = throttle.throttled("wrong rotation PINs", wait)
                audit.record(
                    session, actor, ROTATE_REFUSED, app_id=app_id, detail={"reason": "throttled"}
                )
        if refusal is None:
            app = await get_app(session, app_id)
            try:
                _check_rotation_allowed(app, pin)
            except ApiError as exc:
                if exc.code != "invalid_rotation_pin":
                    raise
                # Committed with the refusal's audit entry: the refusal is the outcome.
                refusal = exc
                if throttle_guesses:
                    window = timedelta(seconds=settings.pin_throttle_seconds)
                    await throttle.record_failure(
                        session, throttle.PIN, app_id, actor.ip or "", window, utcnow()
                    )
                audit.record(
                    session, actor, ROTATE_REFUSED, app_id=app_id, detail={"reason": "wrong_pin"}
                )
            else:
                token = await _issue_token(session, box, app, grace_seconds)
                audit.record(session, actor, "api_key.rotate", app_id=app_id)
    if refusal is not None:
        raise refusal
    return token


def reveal_webhook_secret(box: SecretBox, app: App) -> str:
    return box.decrypt(app.webhook_secret_enc)


async def rotate_webhook_secret(
    session: AsyncSession,
    box: SecretBox,
    app_id: str,
    grace_seconds: int = WEBHOOK_SECRET_GRACE_SECONDS,
) -> str:
    app = await get_app(session, app_id)
    secret = new_webhook_secret()
    app.webhook_secret_prev_enc = app.webhook_secret_enc if grace_seconds else None
    app.webhook_secret_prev_until = (
        utcnow() + timedelta(seconds=grace_seconds) if grace_seconds else None
    )
    app.webhook_secret_enc = box.encrypt(secret)
    await session.flush()
    return secret


async def update_app(
    session: AsyncSession,
    app: App,
    *,
    name: str | None = None,
    webhook_url: str | None = None,
    domain_url: str | None = None,
    pacing: dict[str, Any] | None = None,
    replace_pacing: bool = False,
    call_policy: dict[str, Any] | None | Keep = KEEP,
    presence_mode: str | None | Keep = KEEP,
) -> App:
    """Change what is given; `pacing` is merged into the app's overrides, or replaces them
    all with `replace_pacing` (fields left out then inherit the server's defaults).
    `call_policy` and `presence_mode` come checked (`devices/policies.py`, a layer above);
    None clears them (the defaults apply)."""
    if call_policy is not KEEP:
        app.call_policy = call_policy
    if presence_mode is not KEEP:
        app.presence_mode = presence_mode
    if replace_pacing:
        app.pacing = dict(pacing) if pacing else None
    elif pacing is not None:
        app.pacing = {**(app.pacing or {}), **pacing}
    if name is not None:
        app.name = _validate_name(name)
    if webhook_url is not None:
        app.webhook_url = validate_webhook_target(webhook_url)
        await endpoints.follow_webhook_url(session, app.id, app.webhook_url)
    if domain_url is not None:
        app.domain_url = validate_base_url(domain_url)
    app.updated_at = utcnow()
    await session.flush()
    return app


def set_rotation_policy(
    app: App, *, enabled: bool | None, new_pin: str | None = None, clear_pin: bool = False
) -> App:
    """Whether the token may be rotated (None: as it is), and the PIN that rotation then
    asks for."""
    if new_pin is not None and not 4 <= len(new_pin) <= 64:
        raise validation_error("the rotation PIN must have 4 to 64 characters", "rotation_pin")
    if enabled is not None:
        app.rotation_enabled = enabled
    if clear_pin:
        app.rotation_pin_hash = None
    elif new_pin:
        app.rotation_pin_hash = _pin_hasher.hash(new_pin)
    app.updated_at = utcnow()
    return app


async def list_apps(session: AsyncSession) -> list[App]:
    stmt = select(App).where(App.archived_at.is_(None)).order_by(App.created_at)
    return list((await session.execute(stmt)).scalars())


# --- actions for the dashboard, the CLI and the API: each opens its own transaction and
# writes its audit entry (`actor`) in it, so a change never commits without its entry -------


async def all_apps(db: Database) -> list[App]:
    async with db.read() as session:
        return await list_apps(session)


async def create_app_as(
    db: Database,
    box: SecretBox,
    actor: Actor,
    name: str,
    engine: str = "sandbox",
    webhook_url: str = "",
    domain_url: str = "",
    rotation_pin: str | None = None,
) -> CreatedApp:
    async with db.transaction() as session:
        created = await create_app(
            session, box, name, engine, webhook_url, domain_url, rotation_pin
        )
        record_created(session, actor, created)
    return created


def record_created(session: AsyncSession, actor: Actor, created: CreatedApp) -> None:
    audit.record(
        session,
        actor,
        "project.create",
        app_id=created.app.id,
        detail={"name": created.app.name, "engine": created.app.engine},
    )


def record_settings_changed(
    session: AsyncSession, actor: Actor, app: App, pacing: dict[str, Any] | None
) -> None:
    audit.record(
        session,
        actor,
        "project.settings",
        app_id=app.id,
        detail={
            "webhook_url": app.webhook_url,
            "pacing": pacing,
            "call_policy": app.call_policy,
            "presence_mode": app.presence_mode,
        },
    )


async def change_app(
    db: Database,
    actor: Actor | None,
    app_id: str,
    *,
    name: str | None = None,
    webhook_url: str | None = None,
    domain_url: str | None = None,
    pacing: dict[str, Any] | None = None,
    call_policy: dict[str, Any] | None | Keep = KEEP,
    presence_mode: str | None | Keep = KEEP,
) -> App:
    """`update_app` in a transaction of its own. Audited when an operator or the CLI acts
    (`actor`); an app changing itself with its own token (None) is not."""
    async with db.transaction() as session:
        app = await get_app(session, app_id)
        await update_app(
            session,
            app,
            name=name,
            webhook_url=webhook_url,
            domain_url=domain_url,
            pacing=pacing,
            call_policy=call_policy,
            presence_mode=presence_mode,
        )
        if actor is not None:
            record_settings_changed(session, actor, app, pacing)
    return app


async def set_rotation_policy_as(
    db: Database,
    actor: Actor,
    app_id: str,
    *,
    enabled: bool | None,
    new_pin: str | None = None,
    clear_pin: bool = False,
) -> App:
    async with db.transaction() as session:
        app = set_rotation_policy(
            await get_app(session, app_id), enabled=enabled, new_pin=new_pin, clear_pin=clear_pin
        )
        audit.record(
            session,
            actor,
            "project.rotation_policy",
            app_id=app_id,
            detail={"enabled": app.rotation_enabled, "pin_set": bool(app.rotation_pin_hash)},
        )
    return app


async def reveal_token_as(db: Database, box: SecretBox, actor: Actor, app_id: str) -> str:
    async with db.transaction() as session:
        token = await reveal_token(session, box, app_id)
        audit.record(session, actor, "api_key.reveal", app_id=app_id)
    return token


async def reveal_webhook_secret_as(db: Database, box: SecretBox, actor: Actor, app_id: str) -> str:
    async with db.transaction() as session:
        secret = reveal_webhook_secret(box, await get_app(session, app_id))
        audit.record(session, actor, "webhook_secret.reveal", app_id=app_id)
    return secret


async def rotate_webhook_secret_as(
    db: Database, box: SecretBox, actor: Actor, app_id: str, grace_seconds: int
) -> str:
    async with db.transaction() as session:
        secret = await rotate_webhook_secret(session, box, app_id, grace_seconds=grace_seconds)
        audit.record(
            session,
            actor,
            "webhook_secret.rotate",
            app_id=app_id,
            detail={"grace_hours": grace_seconds / 3600},
        )
    return secret


async def set_limits_as(
    db: Database,
    settings: Settings,
    actor: Actor,
    app_id: str,
    override: LimitsOverride,
    max_devices: int | None,
    reset: bool,
) -> LimitsOut:
    """An app's own rate limits or device quota (`limits.set_limits`); what applies now."""
    async with db.transaction() as session:
        app = await get_app(session, app_id)
        set_limits(app, override, max_devices, reset)
        app.updated_at = utcnow()
        now = effective(settings, app)
        audit.record(session, actor, "app.set_limits", app_id=app.id, detail=now.model_dump())
    return now


def archive(session: AsyncSession, app: App, tokens: list[AppToken], actor: Actor) -> None:
    """The last step of deleting an app (its devices are destroyed first, `devices/service.py`'s
    `archive_app`): every token revoked now, the app out of every listing and "not found"
    everywhere, its records kept; with its audit entry."""
    now = utcnow()
    for token in tokens:
        if token.expires_at is None or token.expires_at > now:
            token.expires_at = now
    app.archived_at = app.updated_at = now
    audit.record(session, actor, "project.archive", app_id=app.id, detail={"name": app.name})


async def tokens_of(session: AsyncSession, app_id: str) -> list[AppToken]:
    return list(
        (await session.execute(select(AppToken).where(AppToken.app_id == app_id))).scalars()
    )
