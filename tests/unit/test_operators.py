"""Operators' accounts, logins, throttling, sessions and project visibility against a real
SQLite store, through the service the dashboard and the CLI share."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.migrated import migrated_sqlite_url
from wagateway.apps.service import create_app
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError
from wagateway.core.secrets import SecretBox
from wagateway.core.settings import Settings
from wagateway.operators import service as operators
from wagateway.operators.models import OperatorSession, ProjectMember

PASSWORD = "correct horse battery"


async def _db(tmp_path: Path) -> Database:
    return Database(await migrated_sqlite_url(tmp_path))


def _settings(**overrides: object) -> Settings:
    return Settings(login_max_failures=3, login_max_failures_per_ip=5, **overrides)  # type: ignore[arg-type]


def test_accounts_need_a_valid_email_a_long_password_and_a_free_address(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings()
        async with db.transaction() as session:
            operator = await operators.create_operator(
                session, settings, " Ops@Example.COM ", PASSWORD, is_admin=False
            )
        assert operator.email == "ops@example.com"
        assert PASSWORD not in operator.password_hash and operator.password_hash.startswith(
            "$argon2id$"
        )
        for email, password, code, field in (
            ("not-an-email", PASSWORD, "validation_error", "email"),
            ("x@example.com", "short", "validation_error", "password"),
            ("OPS@example.com", PASSWORD, "conflict", "email"),
        ):
            with pytest.raises(ApiError) as refused:
                async with db.transaction() as session:
                    await operators.create_operator(
                        session, settings, email, password, is_admin=False
                    )
            assert (refused.value.code, refused.value.details.get("field")) == (code, field)
        await db.dispose()

    asyncio.run(scenario())


def test_wrong_passwords_throttle_the_address_for_that_email_then_the_window_frees_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings()
        async with db.transaction() as session:
            await operators.create_operator(
                session, settings, "a@example.com", PASSWORD, is_admin=False
            )
        now = utcnow()
        for _ in range(3):
            async with db.transaction() as session:
                assert (
                    await operators.authenticate(
                        session, settings, "a@example.com", "wrong", "10.0.0.1", now
                    )
                    is None
                )
        # The fourth try from that address is refused before the password is looked at:
        # even the right one.
        with pytest.raises(ApiError) as throttled:
            async with db.transaction() as session:
                await operators.authenticate(
                    session, settings, "a@example.com", PASSWORD, "10.0.0.1", now
                )
        assert throttled.value.status == 429
        retry_after = int(throttled.value.headers["Retry-After"])
        assert 890 <= retry_after <= 900
        # The owner, from an address that has not failed, is admitted.
        async with db.transaction() as session:
            owner = await operators.authenticate(
                session, settings, "A@example.com", PASSWORD, "10.0.0.2", now
            )
        assert owner is not None
        # Once the window has passed, the right password works from the first address too.
        later = now + timedelta(seconds=settings.login_throttle_seconds + 1)
        async with db.transaction() as session:
            operator = await operators.authenticate(
                session, settings, "a@example.com", PASSWORD, "10.0.0.1", later
            )
        assert operator is not None and operator.last_login_at == later
        await db.dispose()

    asyncio.run(scenario())


def test_failures_from_many_addresses_only_slow_the_email_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings(login_delay_max_seconds=4)
        async with db.transaction() as session:
            await operators.create_operator(
                session, settings, "b@example.com", PASSWORD, is_admin=False
            )
        now = utcnow()
        delays = []
        for n in range(6):  # each address stays under its own limit of 3
            async with db.read() as session:
                delays.append(await operators.login_delay(session, settings, "b@example.com", now))
            async with db.transaction() as session:
                await operators.authenticate(
                    session, settings, "b@example.com", "guess", f"198.51.100.{n}", now
                )
        # 3 failures in all before any delay, then 1 s doubling, capped.
        assert delays == [0, 0, 0, 1, 2, 4]
        async with db.read() as session:
            assert await operators.login_delay(session, settings, "b@example.com", now) == 4
            assert await operators.login_delay(session, settings, "c@example.com", now) == 0
        # Slowed, never refused: the right password from a new address gets in, and does
        # not wipe the guessers' record.
        async with db.transaction() as session:
            owner = await operators.authenticate(
                session, settings, "b@example.com", PASSWORD, "203.0.113.9", now
            )
        assert owner is not None
        async with db.read() as session:
            assert await operators.login_delay(session, settings, "b@example.com", now) == 4
        off = _settings(login_delay_max_seconds=0)
        async with db.read() as session:
            assert await operators.login_delay(session, off, "b@example.com", now) == 0
        await db.dispose()

    asyncio.run(scenario())


def test_one_address_guessing_many_accounts_is_throttled_too(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings()
        now = utcnow()
        for n in range(5):  # unknown accounts count as well: same cost, same record
            async with db.transaction() as session:
                assert (
                    await operators.authenticate(
                        session, settings, f"user{n}@example.com", "guess", "192.0.2.7", now
                    )
                    is None
                )
        with pytest.raises(ApiError) as throttled:
            async with db.transaction() as session:
                await operators.authenticate(
                    session, settings, "someone@example.com", "guess", "192.0.2.7", now
                )
        assert throttled.value.status == 429
        async with db.transaction() as session:  # another address is not affected
            assert (
                await operators.authenticate(
                    session, settings, "someone@example.com", "guess", "192.0.2.8", now
                )
                is None
            )
        await db.dispose()

    asyncio.run(scenario())


def test_sessions_are_stored_hashed_expire_and_end(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings(dashboard_session_hours=1)
        async with db.transaction() as session:
            operator = await operators.create_operator(
                session, settings, "b@example.com", PASSWORD, is_admin=False
            )
            started = await operators.start_session(session, settings, operator)
        async with db.read() as session:
            found = await operators.session_for(session, started.cookie_token)
            assert found is not None and found[1].id == operator.id
            assert found[0].csrf_token == started.csrf_token
            assert await session.get(OperatorSession, started.cookie_token) is None  # hash only
            assert await operators.session_for(session, started.cookie_token + "x") is None
        async with db.transaction() as session:
            row = found[0]
            stored = await session.get(OperatorSession, row.token_hash)
            assert stored is not None
            stored.expires_at = utcnow() - timedelta(seconds=1)
        async with db.read() as session:
            assert await operators.session_for(session, started.cookie_token) is None
        async with db.transaction() as session:
            again = await operators.start_session(session, settings, operator)
            await operators.end_session(session, again.cookie_token)
        async with db.read() as session:
            assert await operators.session_for(session, again.cookie_token) is None
        await db.dispose()

    asyncio.run(scenario())


def test_admins_see_every_project_members_only_theirs(tmp_path: Path) -> None:
    async def scenario() -> None:
        db, settings = await _db(tmp_path), _settings()
        box = SecretBox(b"k" * 32)
        async with db.transaction() as session:
            admin = await operators.create_operator(
                session, settings, "root@example.com", PASSWORD, is_admin=True
            )
            member = await operators.create_operator(
                session, settings, "m@example.com", PASSWORD, is_admin=False
            )
            mine = (await create_app(session, box, "mine")).app
            theirs = (await create_app(session, box, "theirs")).app
            session.add(ProjectMember(app_id=mine.id, operator_id=member.id))
        async with db.read() as session:
            assert [p.name for p in await operators.visible_projects(session, admin)] == [
                "mine",
                "theirs",
            ]
            assert [p.name for p in await operators.visible_projects(session, member)] == ["mine"]
            assert (await operators.project_for(session, member, mine.id)).id == mine.id
            with pytest.raises(ApiError) as hidden:
                await operators.project_for(session, member, theirs.id)
            assert hidden.value.status == 404
            assert (await operators.project_for(session, admin, theirs.id)).id == theirs.id
        async with db.transaction() as session:
            await operators.add_member(session, theirs.id, "M@example.com")
        async with db.read() as session:
            assert len(await operators.visible_projects(session, member)) == 2
            assert [m.email for m in await operators.members_of(session, theirs.id)] == [
                "m@example.com"
            ]
        await db.dispose()

    asyncio.run(scenario())
