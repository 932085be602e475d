"""Throttling guesses of a secret over HTTP: wrong passwords and wrong rotation PINs.

Each refusal is a row in `login_failures` (what kind of secret, what was tried: the e-mail
or the app, and from which address), so the count holds across restarts and across every
process serving the same database. A caller asks how long to wait before a further guess
is even looked at; rows older than their window are removed as new ones are written.

Checking, verifying and recording one guess happen in one transaction that `serialise`
makes the only one for its key at a time: guesses sent at once are counted one after
another, so a burst gets no more tries than guesses sent one by one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.audit.models import LoginFailure
from wagateway.core.db import locks_rows
from wagateway.core.errors import ApiError

PASSWORD = "password"  # noqa: S105 - a kind of secret, not one
PIN = "pin"


async def serialise(session: AsyncSession, kind: str, key: str) -> None:
    """Make this transaction the only one checking guesses of `kind` for `key` until it
    ends. SQLite's write transactions already run one at a time (core/db.py); PostgreSQL
    gets a transaction-scoped advisory lock."""
    if locks_rows(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"wagw-throttle:{kind}:{key}"},
        )


async def wait_needed(
    session: AsyncSession,
    kind: str,
    limit: int,
    window: timedelta,
    now: datetime,
    *,
    subject: str | None = None,
    ip: str | None = None,
) -> float:
    """Seconds until fewer than `limit` failures of `kind` (for `subject`, from `ip`, or
    both) remain inside the window: 0 when a further guess may be tried now."""
    stmt = select(LoginFailure.at).where(LoginFailure.kind == kind, LoginFailure.at > now - window)
    if subject is not None:
        stmt = stmt.where(LoginFailure.subject == subject)
    if ip is not None:
        stmt = stmt.where(LoginFailure.ip == ip)
    oldest_that_counts = await session.scalar(
        stmt.order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1)
    )
    if oldest_that_counts is None:
        return 0.0
    return max(0.0, (oldest_that_counts + window - now).total_seconds())


async def failures(
    session: AsyncSession, kind: str, subject: str, window: timedelta, now: datetime
) -> int:
    """Failures for `subject` inside the window, from any address."""
    stmt = select(func.count()).where(
        LoginFailure.kind == kind, LoginFailure.subject == subject, LoginFailure.at > now - window
    )
    return int(await session.scalar(stmt) or 0)


async def record_failure(
    session: AsyncSession, kind: str, subject: str, ip: str, window: timedelta, now: datetime
) -> None:
    session.add(LoginFailure(kind=kind, subject=subject, ip=ip, at=now))
    await session.execute(
        delete(LoginFailure).where(LoginFailure.kind == kind, LoginFailure.at < now - window)
    )


async def forget(session: AsyncSession, kind: str, subject: str, ip: str) -> None:
    """After a success: this address's failures for this subject no longer count. Those of
    other addresses stay, so the owner's login does not hand a guesser a fresh allowance."""
    await session.execute(
        delete(LoginFailure).where(
            LoginFailure.kind == kind, LoginFailure.subject == subject, LoginFailure.ip == ip
        )
    )


def throttled(what: str, retry_after: float) -> ApiError:
    """429 in the contract's envelope, with Retry-After in whole seconds (at least 1)."""
    seconds = max(1, int(retry_after + 0.999))
    return ApiError(
        429,
        "rate_limit_exceeded",
        f"too many {what}; try again in {seconds} s",
        {"retry_after": seconds},
        headers={"Retry-After": str(seconds)},
    )
