"""The message state machine (CONTRACT §3), in one place.

An outbound message goes `queued → sending → sent → delivered → read (→ played)`, or ends
`failed`; an inbound one is `received` and stays so. `ALLOWED` lists every status change;
the only code that writes one, `status_writes.py`, refuses anything it does not list.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    RECEIVED = "received"


# The outbound path in order. A receipt moves a message forward along it, never back: a
# late `delivered` after `read` is ignored, as is a group's second participant reading what
# the first already read.
PROGRESS: tuple[MessageStatus, ...] = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.PLAYED,
)
# Keyed by plain strings (a StrEnum member hashes and compares as its value): statuses
# loaded from the database are looked up as they are, the hot path converts nothing.
_RANK: dict[str, int] = {status: rank for rank, status in enumerate(PROGRESS)}

# Not yet out of the device: what the queue still owns, what can still fail.
PENDING: tuple[MessageStatus, ...] = (MessageStatus.QUEUED, MessageStatus.SENDING)


def _later_than(status: MessageStatus) -> frozenset[MessageStatus]:
    return frozenset(PROGRESS[_RANK[status] + 1 :])


ALLOWED: dict[MessageStatus, frozenset[MessageStatus]] = {
    # Claimed by the sender (→ sending); expired, media unusable or device deleted
    # (→ failed); a receipt of a send the queue had released for a retry, which left after
    # all (→ anything later).
    MessageStatus.QUEUED: _later_than(MessageStatus.QUEUED) | {MessageStatus.FAILED},
    # Released for a retry, or a node taking its own leases back at start (→ queued);
    # bookkept (→ sent); a receipt that overtook that bookkeeping (→ later, by way of sent);
    # given up (→ failed).
    MessageStatus.SENDING: (
        _later_than(MessageStatus.SENDING) | {MessageStatus.QUEUED, MessageStatus.FAILED}
    ),
    # Out of the device: only receipts move it, forward.
    MessageStatus.SENT: _later_than(MessageStatus.SENT),
    MessageStatus.DELIVERED: _later_than(MessageStatus.DELIVERED),
    MessageStatus.READ: _later_than(MessageStatus.READ),
    MessageStatus.PLAYED: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.RECEIVED: frozenset(),
}


_ALLOWED_BY_VALUE: dict[str, frozenset[str]] = dict(ALLOWED.items())


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"message cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in _ALLOWED_BY_VALUE.get(current, frozenset())


def check_transition(current: str, target: str) -> MessageStatus:
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return MessageStatus(target)


def predecessors(target: str) -> tuple[MessageStatus, ...]:
    """Every status from which a message may move to `target`."""
    return tuple(status for status, allowed in ALLOWED.items() if target in allowed)


def after_receipt(current: str, reported: str) -> MessageStatus | None:
    """The status a receipt reporting `reported` moves a message in `current` to, or None
    when it does not move it (not forward, a failed message, or a status receipts do not
    report)."""
    rank = _RANK.get(reported)
    if rank is None or current not in _RANK or rank <= _RANK[current]:
        return None
    return PROGRESS[rank]
