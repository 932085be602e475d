"""Checking a Bearer app token on the send path without a read of its own.

Every API request proves its token against `app_tokens`. For most routes that is a read
transaction before the route runs; on the messaging hot path it was the costliest single
piece of work per message (a pooled connection, BEGIN, an ORM load of the app, COMMIT).

A token this process has verified recently is remembered (`TokenClaims`), and the next
request carrying it names its app at once; the check itself is *deferred*, not skipped: the
request's own write (the group-committed unit that accepts the message) re-runs it inside
its transaction, before it writes anything, once per token per group. So a rotated-out or
expired token is refused exactly when it would have been without the memory, whichever
process or node rotated it, and nothing it sent is written.

The request owes the check until it is settled (`api/owed_checks.py`): however the
request ends without reaching that write (a validation error, a 404, a 429), the check is
settled then with a read of its own, before the answer is sent, and a token that fails it
is answered `invalid_api_key` instead, so a stale token never learns more than that.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.apps.models import AppToken
from wagateway.core.db import Database, utcnow
from wagateway.core.errors import ApiError

DEFAULT_MAX_CLAIMS = 10_000
_GROUP_CACHE_KEY = "wagateway.verified_tokens"


def invalid_api_key(message: str = "unknown or rotated-out app token") -> ApiError:
    return ApiError(401, "invalid_api_key", message, headers={"WWW-Authenticate": "Bearer"})


def live_token(digest: str, now: datetime) -> ColumnElement[bool]:
    """The `app_tokens` row with this SHA-256, if it is current or within its grace period."""
    return and_(
        AppToken.token_hash == digest,
        or_(AppToken.expires_at.is_(None), AppToken.expires_at > now),
    )


async def app_id_of_token(session: AsyncSession, digest: str) -> str | None:
    stmt = select(AppToken.app_id).where(live_token(digest, utcnow()))
    return (await session.execute(stmt)).scalar_one_or_none()


class TokenClaims:
    """Token digests this process verified, and their app: a bounded, least-recently-used map.

    Only tokens that passed a check are added, so unknown tokens cannot fill it.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_CLAIMS) -> None:
        self._apps: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries

    def app_of(self, digest: str) -> str | None:
        app_id = self._apps.get(digest)
        if app_id is not None:
            self._apps.move_to_end(digest)
        return app_id

    def remember(self, digest: str, app_id: str) -> None:
        self._apps[digest] = app_id
        self._apps.move_to_end(digest)
        while len(self._apps) > self._max:
            self._apps.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._apps.pop(digest, None)


class DeferredTokenCheck:
    """A remembered token's check, still owed: settled by the request's write or on its own."""

    def __init__(self, claims: TokenClaims, digest: str, app_id: str) -> None:
        self._claims = claims
        self._digest = digest
        self.app_id = app_id
        self.settled = False

    async def confirm(self, session: AsyncSession) -> None:
        """Check inside `session`'s transaction (raises `invalid_api_key`, evicting the claim).

        A group commit checks each token once: its units share one transaction.
        """
        verified: dict[str, str | None] = session.info.setdefault(_GROUP_CACHE_KEY, {})
        if self._digest not in verified:
            verified[self._digest] = await app_id_of_token(session, self._digest)
        if verified[self._digest] != self.app_id:
            self._claims.forget(self._digest)
            raise invalid_api_key()
        self.settled = True

    async def confirm_now(self, db: Database) -> None:
        """Settle the check with a read of its own (paths that never reach the write)."""
        if not self.settled:
            async with db.read() as session:
                await self.confirm(session)

    async def refusal_at_end(self, db: Database, status: int) -> ApiError | None:
        """The request is ending with `status` while it may still owe this check (an error
        anywhere, or an end that never reached the write): settle it with a read of its own.
        The 401 `invalid_api_key` to answer instead when the token fails it, else None. A
        401 ends the request as it is, and a check the write settled costs nothing."""
        if self.settled or status == 401:
            return None
        try:
            await self.confirm_now(db)
        except ApiError as refused:
            if refused.status != 401:
                raise
            return refused
        return None
