"""The device state machine (CONTRACT §2), in one place.

Every status change goes through `transition`, which refuses anything the diagram does
not allow. `connection` (online/reconnecting/offline) is a finer-grained attribute that
changes freely inside `connected`.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QR_GENERATED = "qr_generated"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    EXPIRED = "expired"
    DESTROYED = "destroyed"


class Connection(StrEnum):
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


ALLOWED: dict[Status, frozenset[Status]] = {
    # qr_generated → qr_generated is a QR rotation within the same window.
    Status.QR_GENERATED: frozenset(
        {
            Status.QR_GENERATED,
            Status.CONNECTED,
            Status.EXPIRED,
            Status.DISCONNECTED,
            Status.DESTROYED,
        }
    ),
    # connected → connected is a restore or reconnect of the same link.
    Status.CONNECTED: frozenset({Status.CONNECTED, Status.DISCONNECTED, Status.DESTROYED}),
    Status.DISCONNECTED: frozenset({Status.QR_GENERATED, Status.DESTROYED}),
    Status.EXPIRED: frozenset({Status.QR_GENERATED, Status.DESTROYED}),
    Status.DESTROYED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"device cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return Status(target) in ALLOWED[Status(current)]


def check_transition(current: str, target: str) -> Status:
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return Status(target)
