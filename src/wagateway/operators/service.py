"""Operators' accounts, logins and what they may see: the rules the dashboard and the CLI
share. Passwords are argon2id hashes; a session cookie is a random token whose SHA-256 is
the stored key; every refused login counts towards throttling by e-mail and by address."""

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
from sqlalchemy.orm import InstrumentedAttribute

from wagateway.apps.models import App
from wagateway.core.db import utcnow
from wagateway.core.errors import ApiError, not_found, validation_error
from wagateway.core.secrets import token_hash
from wagateway.core.settings import Settings
from wagateway.operators.models import LoginFailure, Operator, OperatorSession, ProjectMember

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


def _throttled(retry_after: float) -> ApiError:
    seconds = max(1, int(retry_after + 0.999))
    return ApiError(
        429,
        "rate_limit_exceeded",
        f"too many failed logins; try again in {seconds} s",
        {"retry_after": seconds},
        headers={"Retry-After": str(seconds)},
    )


async def _wait_needed(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    value: str,
    limit: int,
    window: timedelta,
    now: datetime,
) -> float:
    """Seconds until fewer than `limit` failures for `value` remain inside the window."""
    stmt = (
        select(LoginFailure.at)
        .where(column == value, LoginFailure.at > now - window)
        .order_by(LoginFailure.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    oldest_that_counts = await session.scalar(stmt)
    if oldest_that_counts is None:
        return 0.0
    return (oldest_that_counts + window - now).total_seconds()


async def _refuse_if_throttled(
    session: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> None:
    window = timedelta(seconds=settings.login_throttle_seconds)
    wait = max(
        await _wait_needed(
            session, LoginFailure.email, email, settings.login_max_failures, window, now
        ),
        await _wait_needed(
            session, LoginFailure.ip, ip, settings.login_max_failures_per_ip, window, now
        ),
    )
    if wait > 0:
        raise _throttled(wait)


async def _record_failure(
    session: AsyncSession, settings: Settings, email: str, ip: str, now: datetime
) -> None:
    session.add(LoginFailure(email=email, ip=ip, at=now))
    window = timedelta(seconds=settings.login_throttle_seconds)
    await session.execute(delete(LoginFailure).where(LoginFailure.at < now - window))


async def reconfirm(
    session: AsyncSession, settings: Settings, operator: Operator, password: str, ip: str
) -> bool:
    """The logged-in operator's password again, before a key is revealed or rotated. Wrong
    answers count towards the same throttling as logins (commit `session` either way)."""
    now = utcnow()
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
    `session`: commit it). Raises 429 while the e-mail or the address is throttled, before
    looking at the password at all."""
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    await _refuse_if_throttled(session, settings, email, ip, now)
    operator = await session.scalar(select(Operator).where(Operator.email == email))
    if not _password_matches(operator.password_hash if operator else _dummy_hash(), password):
        await _record_failure(session, settings, email, ip, now)
        return None
    assert operator is not None
    operator.last_login_at = now
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
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
    stmt = select(App).order_by(App.created_at, App.id)
    if not operator.is_admin:
        stmt = stmt.join(ProjectMember, ProjectMember.app_id == App.id).where(
            ProjectMember.operator_id == operator.id
        )
    return list((await session.execute(stmt)).scalars())


async def project_for(session: AsyncSession, operator: Operator, app_id: str) -> App:
    """The project, if this operator may see it; 404 otherwise (never 403: another tenant's
    project must not be distinguishable from one that does not exist)."""
    app = await session.get(App, app_id)
    if app is None:
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
