"""Operators' accounts, logins and what they may see: the rules the dashboard and the CLI
share. Passwords are argon2id hashes; a session cookie is a random token whose SHA-256 is
the stored key; every refused login counts towards throttling (audit/throttle.py) by
address and e-mail, by address, and as a delay by e-mail."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import App
from wagateway.apps.service import CreatedApp, create_app, record_created
from wagateway.audit import service as audit
from wagateway.audit import throttle
from wagateway.audit.service import Actor
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.secrets import SecretBox, token_hash
from wagateway.core.settings import Settings
from wagateway.operators.models import Operator, OperatorSession, ProjectMember

_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so "no such operator" takes as long as
    # "wrong password" and the login form does not reveal which accounts exist.
    return _hasher.hash(secrets.token_hex(16))


def normalise_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise validation_error("a valid e-mail address is required", "email")
    return email


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(operator: Operator, password: str) -> bool:
    """Re-confirmation before revealing or rotating a key."""
    return _password_matches(operator.password_hash, password)


async def create_operator(
    session: AsyncSession, settings: Settings, email: str, password: str, *, is_admin: bool
) -> Operator:
    email = normalise_email(email)
    if len(password) < settings.operator_password_min_length:
        raise validation_error(
            f"the password needs at least {settings.operator_password_min_length} characters",
            "password",
        )
    if await session.scalar(select(Operator.id).where(Operator.email == email)):
        raise ApiError(409, "conflict", f"an operator {email} already exists", {"field": "email"})
    operator = Operator(email=email, password_hash=_hasher.hash(password), is_admin=is_admin)
    session.add(operator)
    await session.flush()
    return operator


async def _refuse_if_throttled(
    session: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> None:
    """429 while this address has failed too often for this e-mail, or for any e-mail. The
    e-mail's failures from other addresses never refuse it (see `login_delay`): else anyone
    could lock an operator out by guessing at their e-mail."""
    window = timedelta(seconds=settings.login_throttle_seconds)
    wait = max(
        await throttle.wait_needed(
            session,
            throttle.PASSWORD,
            settings.login_max_failures,
            window,
            now,
            subject=email,
            ip=ip,
        ),
        await throttle.wait_needed(
            session, throttle.PASSWORD, settings.login_max_failures_per_ip, window, now, ip=ip
        ),
    )
    if wait > 0:
        raise throttle.throttled("failed logins", wait)


async def _record_failure(
    session: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> None:
    window = timedelta(seconds=settings.login_throttle_seconds)
    await throttle.record_failure(session, throttle.PASSWORD, email, ip, window, now)


def _login_email(raw: str) -> str:
    return (raw or "").strip().lower()[:320]


async def login_delay(
    session: AsyncSession, settings: Settings, email: str, now: datetime | None = None
) -> float:
    """Seconds to wait before answering a login for this e-mail: 0 until it has
    `login_max_failures` failures from all addresses together, then 1 s doubling with each
    further one, up to `login_delay_max_seconds`. It slows guessing spread over many
    addresses, for the owner too, but never refuses a right password."""
    if settings.login_delay_max_seconds <= 0:
        return 0.0
    window = timedelta(seconds=settings.login_throttle_seconds)
    count = await throttle.failures(
        session, throttle.PASSWORD, _login_email(email), window, now or utcnow()
    )
    beyond = count - settings.login_max_failures
    if beyond < 0:
        return 0.0
    return float(min(settings.login_delay_max_seconds, 2.0 ** min(beyond, 16)))


async def reconfirm(
    session: AsyncSession, settings: Settings, operator: Operator, password: str, ip: str
) -> bool:
    """The logged-in operator's password again, before a key is revealed or rotated. Wrong
    answers count towards the same throttling as logins (commit `session` either way, and
    call it in a transaction of its own: it serialises this address's guesses)."""
    now = utcnow()
    await throttle.serialise(session, throttle.PASSWORD, ip)
    await _refuse_if_throttled(session, settings, operator.email, ip, now)
    if check_password(operator, password):
        return True
    await _record_failure(session, settings, operator.email, ip, now)
    return False


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    email: str,
    password: str,
    ip: str,
    now: datetime | None = None,
) -> Operator | None:
    """The operator, or None for a wrong e-mail or password (the failure is recorded in
    `session`: commit it). Raises 429 while this address is throttled for this e-mail or
    for every e-mail, before looking at the password at all. Wait `login_delay` first."""
    now = now or utcnow()
    email = _login_email(email)
    # Both refusing counts are per address: one lock on it orders a burst from it.
    await throttle.serialise(session, throttle.PASSWORD, ip)
    await _refuse_if_throttled(session, settings, email, ip, now)
    operator = await session.scalar(select(Operator).where(Operator.email == email))
    if not _password_matches(operator.password_hash if operator else _dummy_hash(), password):
        await _record_failure(session, settings, email, ip, now)
        return None
    assert operator is not None
    operator.last_login_at = now
    await throttle.forget(session, throttle.PASSWORD, email, ip)
    return operator


@dataclass(frozen=True)
class StartedSession:
    cookie_token: str
    csrf_token: str
    expires_at: datetime


async def start_session(
    session: AsyncSession, settings: Settings, operator: Operator
) -> StartedSession:
    cookie_token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=settings.dashboard_session_hours)
    session.add(
        OperatorSession(
            token_hash=token_hash(cookie_token),
            operator_id=operator.id,
            csrf_token=csrf_token,
            expires_at=expires_at,
        )
    )
    # Housekeeping: expired sessions of anyone go with each new login.
    await session.execute(delete(OperatorSession).where(OperatorSession.expires_at < utcnow()))
    return StartedSession(cookie_token, csrf_token, expires_at)


async def session_for(
    session: AsyncSession, cookie_token: str
) -> tuple[OperatorSession, Operator] | None:
    if not cookie_token or len(cookie_token) > 200:
        return None
    row = (
        await session.execute(
            select(OperatorSession, Operator)
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where(
                OperatorSession.token_hash == token_hash(cookie_token),
                OperatorSession.expires_at > utcnow(),
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def end_session(session: AsyncSession, cookie_token: str) -> None:
    await session.execute(
        delete(OperatorSession).where(OperatorSession.token_hash == token_hash(cookie_token))
    )


async def set_flash(session: AsyncSession, token_hash_: str, text: str, kind: str) -> None:
    row = await session.get(OperatorSession, token_hash_)
    if row is not None:
        row.flash, row.flash_kind = text[:1000], kind


async def clear_flash(session: AsyncSession, token_hash_: str) -> None:
    row = await session.get(OperatorSession, token_hash_)
    if row is not None:
        row.flash = row.flash_kind = None


# --- what an operator may see ---------------------------------------------------------------


async def visible_projects(session: AsyncSession, operator: Operator) -> list[App]:
    stmt = select(App).where(App.archived_at.is_(None)).order_by(App.created_at, App.id)
    if not operator.is_admin:
        stmt = stmt.join(ProjectMember, ProjectMember.app_id == App.id).where(
            ProjectMember.operator_id == operator.id
        )
    return list((await session.execute(stmt)).scalars())


async def project_for(session: AsyncSession, operator: Operator, app_id: str) -> App:
    """The project, if this operator may see it; 404 otherwise (never 403: another tenant's
    project must not be distinguishable from one that does not exist)."""
    app = await session.get(App, app_id)
    if app is None or app.archived_at is not None:
        raise not_found("project")
    if not operator.is_admin:
        member = await session.get(ProjectMember, (app_id, operator.id))
        if member is None:
            raise not_found("project")
    return app


async def add_member(session: AsyncSession, app_id: str, email: str) -> Operator:
    operator = await session.scalar(
        select(Operator).where(Operator.email == normalise_email(email))
    )
    if operator is None:
        raise not_found("operator")
    if await session.get(ProjectMember, (app_id, operator.id)) is None:
        session.add(ProjectMember(app_id=app_id, operator_id=operator.id))
    return operator


async def members_of(session: AsyncSession, app_id: str) -> list[Operator]:
    stmt = (
        select(Operator)
        .join(ProjectMember, ProjectMember.operator_id == Operator.id)
        .where(ProjectMember.app_id == app_id)
        .order_by(Operator.email)
    )
    return list((await session.execute(stmt)).scalars())


async def operator_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Operator)) or 0)


# --- for the dashboard and the CLI: each opens its own transaction; an action writes its
# audit entry (`actor`) in it, so a change never commits without its entry -----------------


async def create_operator_as(
    db: Database, settings: Settings, actor: Actor, email: str, password: str, *, is_admin: bool
) -> Operator:
    async with db.transaction() as session:
        operator = await create_operator(session, settings, email, password, is_admin=is_admin)
        audit.record(
            session, actor, "operator.create", detail={"email": operator.email, "admin": is_admin}
        )
    return operator


async def create_project(
    db: Database, box: SecretBox, actor: Actor, operator: Operator, name: str, engine: str
) -> CreatedApp:
    """A new project, which the operator creating it can see from then on."""
    async with db.transaction() as session:
        created = await create_app(session, box, name, engine)
        session.add(ProjectMember(app_id=created.app.id, operator_id=operator.id))
        record_created(session, actor, created)
    return created


async def add_member_as(db: Database, actor: Actor, app_id: str, email: str) -> Operator:
    async with db.transaction() as session:
        member = await add_member(session, app_id, email)
        audit.record(
            session, actor, "project.add_member", app_id=app_id, detail={"email": member.email}
        )
    return member


async def reconfirm_password(
    db: Database, settings: Settings, operator: Operator, password: str, ip: str
) -> bool:
    """`reconfirm` in a transaction of its own, which commits a wrong answer's failure."""
    async with db.transaction() as session:
        return await reconfirm(session, settings, operator, password, ip)


async def log_in(
    db: Database, settings: Settings, email: str, password: str, ip: str
) -> tuple[Operator, StartedSession] | None:
    """A new session for the right e-mail and password, audited as the operator's `login`;
    None for a wrong one (its failure committed). 429 while throttled (`authenticate`)."""
    async with db.transaction() as session:
        operator = await authenticate(session, settings, email, password, ip)
        if operator is None:
            return None
        started = await start_session(session, settings, operator)
        audit.record(session, Actor("operator", operator.email, operator.id, ip), "login")
    return operator, started


async def log_out(db: Database, actor: Actor, cookie_token: str) -> None:
    async with db.transaction() as session:
        await end_session(session, cookie_token)
        audit.record(session, actor, "logout")


async def login_delay_of(db: Database, settings: Settings, email: str) -> float:
    async with db.read() as session:
        return await login_delay(session, settings, email)


@dataclass(frozen=True)
class Visit:
    """A logged-in operator's request: the session, who, and the message left for this
    page (shown once: it is cleared as it is read)."""

    session: OperatorSession
    operator: Operator
    flash: tuple[str, str] | None


async def visit(db: Database, cookie_token: str) -> Visit | None:
    async with db.read() as session:
        found = await session_for(session, cookie_token)
    if found is None:
        return None
    row, operator = found
    if not row.flash:
        return Visit(row, operator, None)
    async with db.transaction() as session:
        await clear_flash(session, row.token_hash)
    return Visit(row, operator, (row.flash_kind or "ok", row.flash))


async def leave_flash(db: Database, token_hash_: str, text: str, kind: str) -> None:
    async with db.transaction() as session:
        await set_flash(session, token_hash_, text, kind)


async def projects_of(db: Database, operator: Operator) -> list[App]:
    async with db.read() as session:
        return await visible_projects(session, operator)


async def project_of(db: Database, operator: Operator, app_id: str) -> App:
    async with db.read() as session:
        return await project_for(session, operator, app_id)


async def members_of_project(db: Database, app_id: str) -> list[Operator]:
    async with db.read() as session:
        return await members_of(session, app_id)
