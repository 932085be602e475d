"""The send route's deferred token check, settled however the request ends.

A send whose token this process remembers names its app at once and leaves the token's
check to the message's own write (`apps/tokens.py`). Until that write settles it, the
request *owes* the check: `owe` records it on the request, and this middleware, which every
answer and every escaping error passes through, settles what is still owed before the answer
leaves. A token that fails is answered 401 `invalid_api_key` in place of whatever the request
was about to answer (a body its model refused, a 404, a 429, a 2xx that never wrote, an
unexpected error), so a stale token never learns more than that. A request that owes
nothing, or whose write settled the check, passes through untouched.

An ASGI middleware rather than a dependency with cleanup: the middleware sees every ending
in one place, including the error handlers' answers, and costs a dictionary lookup per
answer where a `yield` dependency adds an exit stack and a cancel scope to every send.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wagateway.apps.tokens import DeferredTokenCheck
from wagateway.core.db import Database
from wagateway.core.errors import error_response

_OWED = "owed_token_check"


def owe(request: Request, check: DeferredTokenCheck, db: Database) -> None:
    """`request` owes `check` until its write settles it (or this module does, at its end)."""
    request.state.owed_token_check = (check, db)


async def _refusal(scope: Scope, status: int) -> ASGIApp | None:
    owed = scope.get("state", {}).get(_OWED)
    if owed is None:
        return None
    check, db = owed
    refused = await check.refusal_at_end(db, status)
    if refused is None:
        return None
    return error_response(
        Request(scope),
        refused.status,
        refused.code,
        refused.message,
        refused.details,
        refused.headers,
    )


class SettleOwedTokenChecks:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered_instead = False

        async def send_settled(message: Message) -> None:
            nonlocal answered_instead
            if answered_instead:
                return  # the rest of the answer the request was about to give
            if message["type"] == "http.response.start":
                refusal = await _refusal(scope, message["status"])
                if refusal is not None:
                    answered_instead = True
                    await refusal(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_settled)
        except Exception:
            # An unexpected error, on its way to the 500 handler outside every middleware.
            refusal = None if answered_instead else await _refusal(scope, 500)
            if refusal is None:
                raise
            await refusal(scope, receive, send)
