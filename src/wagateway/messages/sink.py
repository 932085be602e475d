"""The messages side of a device's session (`devices/sink.py`): inbound messages, receipts,
revokes and presence, written by `messages/ingest.py`."""

from __future__ import annotations

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
from wagateway.media.links import MediaLinks
from wagateway.media.store import MediaStore
from wagateway.messages import history, ingest
from wagateway.messages.early_receipts import EarlyReceipts


class InboundMessages:
    """`MessageSink` for the session runtime. Receipts that find no message yet are held in
    `early_receipts`, which the send queue's bookkeeping applies once it writes the id."""

    def __init__(
        self,
        media: MediaStore,
        media_max_bytes: int,
        early_receipts: EarlyReceipts,
        links: MediaLinks | None = None,
        history_max_messages: int = 0,
    ) -> None:
        self._media = media
        self._media_max_bytes = media_max_bytes
        self.early_receipts = early_receipts
        self._links = links  # signs the `media_url` of inbound `message` events
        self._history_max_messages = history_max_messages

    async def apply_receipts(
        self, session: AsyncSession, receipts: list[tuple[Device, list[Receipt]]]
    ) -> None:
        for device_id, wa_message_id, receipt in await ingest.apply_receipts(session, receipts):
            self.early_receipts.hold(device_id, wa_message_id, receipt)

    async def store_inbound(
        self, session: AsyncSession, device: Device, message: InboundMessage
    ) -> None:
        await ingest.store_inbound(
            session, device, message, self._media, self._media_max_bytes, self._links
        )

    async def apply_revoke(
        self, session: AsyncSession, device: Device, revoke: MessageRevoked
    ) -> None:
        await ingest.apply_revoke(session, device, revoke)

    async def apply_edit(self, session: AsyncSession, device: Device, edit: MessageEdited) -> None:
        await ingest.apply_edit(session, device, edit)

    async def apply_poll_vote(self, session: AsyncSession, device: Device, vote: PollVote) -> None:
        await ingest.apply_poll_vote(session, device, vote)

    def presence(self, session: AsyncSession, device: Device, update: PresenceUpdate) -> None:
        ingest.presence_event(session, device, update)

    def chat_presence(self, session: AsyncSession, device: Device, update: ChatPresence) -> None:
        ingest.chat_presence_event(session, device, update)

    async def apply_owner_read(
        self, session: AsyncSession, device: Device, read: OwnerRead
    ) -> None:
        await ingest.apply_owner_read(session, device, read)

    async def store_history(
        self, session: AsyncSession, device: Device, batch: HistoryBatch
    ) -> None:
        await history.store_history(session, device, batch, self._history_max_messages)
