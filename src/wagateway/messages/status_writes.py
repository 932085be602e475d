"""The one way a stored message's status changes: checked against `states.ALLOWED`.

Two shapes of the same rule. `change_status` moves one loaded message (the object shows
the change at once; the row gets it in a deferred Core UPDATE, `core/deferred_writes.py`,
as the send queue and receipts are hot). `change_all_statuses` moves every row in one
status that a condition picks, as one set-based UPDATE whose WHERE names that status.
A new row starts as `queued` (outbound) or `received` (inbound): an insert, not a change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.core.db import table_of
from wagateway.core.deferred_writes import defer_update
from wagateway.messages.models import Message
from wagateway.messages.states import MessageStatus, can_transition, check_transition

_MESSAGES = table_of(Message)


def change_status(session: AsyncSession, message: Message, status: str, **values: Any) -> bool:
    """Move `message` to `status`, with the other columns in `values`, if the state machine
    allows it from the status the message has now; else change nothing and return False
    (a late receipt, a message failed meanwhile)."""
    if not can_transition(message.status, status):
        return False
    defer_update(
        session,
        _MESSAGES,
        "seq",
        message.seq,
        {"status": MessageStatus(status), **values},
        mapped=message,
    )
    return True


async def change_all_statuses(
    session: AsyncSession,
    current: MessageStatus,
    status: MessageStatus,
    *where: ColumnElement[bool],
    **values: Any,
) -> None:
    """Move every message in `current` that `where` picks to `status` (with `values`), in
    one UPDATE; IllegalTransition if the state machine has no such move."""
    check_transition(current, status)
    await session.execute(
        update(Message).where(Message.status == current, *where).values(status=status, **values)
    )
