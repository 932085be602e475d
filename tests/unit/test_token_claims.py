"""Deferred token checks (apps/tokens.py) against the real store (SQLite): a remembered
token is checked inside the write that uses it, once per group commit, and a token rotated
out meanwhile is refused and forgotten; a check still owed when its request ends settles
itself then."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.sql import recorded_statements
from wagateway.apps import tokens
from wagateway.apps.service import create_app, rotate_token
from wagateway.apps.tokens import DeferredTokenCheck, TokenClaims, app_id_of_token
from wagateway.core.db import Database
from wagateway.core.errors import ApiError
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.secrets import SecretBox, token_hash


async def _store(tmp_path: Path) -> tuple[Database, SecretBox, str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    box = SecretBox(os.urandom(32))
    async with db.transaction() as session:
        created = await create_app(session, box, "shop")
    return db, box, created.app.id, created.app_token


def test_claims_are_bounded_and_least_recently_used_goes_first() -> None:
    claims = TokenClaims(max_entries=2)
    claims.remember("a", "app-a")
    claims.remember("b", "app-b")
    assert claims.app_of("a") == "app-a"  # now "b" is the least recently used
    claims.remember("c", "app-c")
    assert claims.app_of("b") is None
    assert (claims.app_of("a"), claims.app_of("c")) == ("app-a", "app-c")
    claims.forget("a")
    assert claims.app_of("a") is None


def test_one_check_per_token_per_group(tmp_path: Path) -> None:
    asyncio.run(_one_check_per_token_per_group(tmp_path))


async def _one_check_per_token_per_group(tmp_path: Path) -> None:
    db, _box, app_id, token = await _store(tmp_path)
    claims = TokenClaims()
    claims.remember(token_hash(token), app_id)
    statements = recorded_statements(db)
    checks = [DeferredTokenCheck(claims, token_hash(token), app_id) for _ in range(20)]

    # Submitted together, they commit as one group: one read of the token for all twenty.
    results = await asyncio.gather(*(db.submit(check.confirm) for check in checks))
    assert results == [None] * 20
    assert all(check.settled for check in checks)
    token_reads = [sql for sql in statements if "app_tokens" in sql]
    assert len(token_reads) == 1, token_reads
    await db.dispose()


def test_a_rotated_token_is_refused_and_forgotten(tmp_path: Path) -> None:
    asyncio.run(_a_rotated_token_is_refused_and_forgotten(tmp_path))


async def _a_rotated_token_is_refused_and_forgotten(tmp_path: Path) -> None:
    db, box, app_id, token = await _store(tmp_path)
    digest = token_hash(token)
    claims = TokenClaims()
    claims.remember(digest, app_id)
    async with db.transaction() as session:
        await rotate_token(session, box, app_id)
    check = DeferredTokenCheck(claims, digest, app_id)
    with pytest.raises(ApiError) as refused:
        await db.grouped(check.confirm)
    assert (refused.value.status, refused.value.code) == (401, "invalid_api_key")
    assert not check.settled and claims.app_of(digest) is None
    await db.dispose()


def test_a_token_claimed_for_another_app_is_refused(tmp_path: Path) -> None:
    asyncio.run(_a_token_claimed_for_another_app_is_refused(tmp_path))


async def _a_token_claimed_for_another_app_is_refused(tmp_path: Path) -> None:
    db, _box, _app_id, token = await _store(tmp_path)
    claims = TokenClaims()
    check = DeferredTokenCheck(claims, token_hash(token), "some-other-app")
    with pytest.raises(ApiError):
        await check.confirm_now(db)
    await db.dispose()


def test_an_owed_check_is_settled_at_the_end_unless_the_write_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []

    async def counted(session: AsyncSession, digest: str) -> str | None:
        reads.append(digest)
        return await app_id_of_token(session, digest)

    monkeypatch.setattr(tokens, "app_id_of_token", counted)
    asyncio.run(_an_owed_check_is_settled_at_the_end(tmp_path, reads))


async def _an_owed_check_is_settled_at_the_end(tmp_path: Path, reads: list[str]) -> None:
    db, box, app_id, token = await _store(tmp_path)
    digest = token_hash(token)
    claims = TokenClaims()

    def owed_check() -> DeferredTokenCheck:
        claims.remember(digest, app_id)
        return DeferredTokenCheck(claims, digest, app_id)

    # A live token: the answer stands, the check settled on the way.
    check = owed_check()
    assert await check.refusal_at_end(db, 404) is None and check.settled
    # Settled by the write: nothing more is read at the end.
    check = owed_check()
    reads.clear()
    await db.grouped(check.confirm)
    assert await check.refusal_at_end(db, 202) is None
    assert reads == [digest]

    async with db.transaction() as session:
        await rotate_token(session, box, app_id)
    # A stale token: whatever the request was about to answer, invalid_api_key instead.
    for status in (200, 400, 404, 429, 500):
        check = owed_check()
        refused = await check.refusal_at_end(db, status)
        assert refused is not None, status
        assert (refused.status, refused.code) == (401, "invalid_api_key")
        assert claims.app_of(digest) is None
    # A 401 ends the request as it is, without a read.
    check = owed_check()
    reads.clear()
    assert await check.refusal_at_end(db, 401) is None and reads == []
    await db.dispose()
