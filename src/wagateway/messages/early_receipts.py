"""Receipts that arrive before the send they acknowledge has been written.

With whatsmeow the WhatsApp message id is known only when the send returns, and the
receipt travels another path (an engine event) than the send's answer (the queue's
bookkeeping). On a busy node either may reach the database first: a receipt that finds no
message is held here for a while, and the bookkeeping that writes the id applies it. The
sandbox picks ids before sending, so its receipts always find their message.

In memory on purpose: both paths run in the node that hosts the device, and a receipt held
here when the node dies is not lost with it (the engine never acknowledged it to WhatsApp
if the message's own bookkeeping did not commit either, and WhatsApp offers it again).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from wagateway.engines.base import Receipt

HOLD_SECONDS = 120.0
PER_DEVICE = 1024  # receipts of messages the phone itself sent match nothing, ever: bounded


class EarlyReceipts:
    def __init__(self, hold_seconds: float = HOLD_SECONDS, per_device: int = PER_DEVICE) -> None:
        self._hold_seconds = hold_seconds
        self._per_device = per_device
        # device id -> wa_message_id -> (held until, receipts in arrival order)
        self._held: dict[str, OrderedDict[str, tuple[float, list[Receipt]]]] = {}

    def hold(self, device_id: str, wa_message_id: str, receipt: Receipt) -> None:
        held = self._held.setdefault(device_id, OrderedDict())
        _, receipts = held.get(wa_message_id, (0.0, []))
        if receipt not in receipts:  # a group retried alone applies its receipts again
            receipts.append(receipt)
        held[wa_message_id] = (time.monotonic() + self._hold_seconds, receipts)
        held.move_to_end(wa_message_id)
        while len(held) > self._per_device:
            held.popitem(last=False)

    def waiting(self, device_id: str, wa_message_id: str) -> list[Receipt]:
        """The receipts held for this message (left in place until `discard`, so bookkeeping
        retried after a failed commit finds them again)."""
        held = self._held.get(device_id)
        if not held:
            return []
        # Held in deadline order (`hold` moves a renewed entry to the end), so the expired
        # ones are at the front: this runs on every send's bookkeeping, never scan them all.
        now = time.monotonic()
        while held and next(iter(held.values()))[0] < now:
            held.popitem(last=False)
        entry = held.get(wa_message_id)
        return list(entry[1]) if entry else []

    def discard(self, device_id: str, wa_message_id: str) -> None:
        held = self._held.get(device_id)
        if held is not None:
            held.pop(wa_message_id, None)
            if not held:
                del self._held[device_id]
