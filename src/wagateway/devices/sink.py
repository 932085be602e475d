"""What a device's session hands on that is not a change of the device itself: inbound
messages, receipts, revokes and presence, each written in the transaction that applies the
engine event. The messages side implements `MessageSink` and `gateway.py` plugs it in, so
the devices layer never imports the messages layer above it.

Deleting a device likewise calls the `DeletionHook`s registered with the device service (the
messages side retires the device's messages there), in the deletion's own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from wagateway.devices.models import Device
from wagateway.engines.base import (
    ChatPresence,
    HistoryBatch,
    InboundMessage,
    MessageEdited,
    MessageRevoked,
    OwnerRead,
    PollVote,
    PresenceUpdate,
    Receipt,
)


class MessageSink(Protocol):
    async def apply_receipts(
        self, session: AsyncSession, receipts: list[tuple[Device, list[Receipt]]]
    ) -> None:
        """Receipts of the current session of each (live, locked) device."""

    async def store_inbound(
        self, session: AsyncSession, device: Device, message: InboundMessage
    ) -> None: ...

    async def apply_revoke(
        self, session: AsyncSession, device: Device, revoke: MessageRevoked
    ) -> None: ...

    async def apply_edit(
        self, session: AsyncSession, device: Device, edit: MessageEdited
    ) -> None: ...

    async def apply_poll_vote(
        self, session: AsyncSession, device: Device, vote: PollVote
    ) -> None: ...

    def presence(self, session: AsyncSession, device: Device, update: PresenceUpdate) -> None: ...

    def chat_presence(
        self, session: AsyncSession, device: Device, update: ChatPresence
    ) -> None: ...

    async def apply_owner_read(
        self, session: AsyncSession, device: Device, read: OwnerRead
    ) -> None:
        """The owner read a chat's messages on the phone (a read-self receipt)."""

    async def store_history(
        self, session: AsyncSession, device: Device, batch: HistoryBatch
    ) -> None:
        """A part of the history WhatsApp sent after linking (CONTRACT §8.4)."""


# Called inside the transaction that destroys a device, with its id; answers the media keys
# to delete from the store once that transaction has committed.
DeletionHook = Callable[[AsyncSession, str], Awaitable[list[str]]]
