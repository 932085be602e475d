"""A scripted backend for testing the worker machinery (not an engine anyone ships).

It runs inside real worker processes and behaves like a tiny WhatsApp engine: pairing
emits a QR and, after `link_after` seconds, links; a linked session is "stored" as a file
in `store_dir`, so a restarted worker can restore it; `restore` without a stored session
fails like whatsmeow's missing session; sending to a JID starting with `crash` emits a few
receipts and then ends the process with a fatal exit, as a Go `fatal error` in whatsmeow
would.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wagateway.engines.base import (
    Connected,
    Contact,
    ContactCheck,
    EngineError,
    EngineHealth,
    EventSink,
    GroupInfo,
    OutboundMessage,
    Profile,
    QrCode,
    Receipt,
    SendError,
    SentMessage,
)

CRASH_PREFIX = "crash"
LAST_WORDS = 20  # receipts a crashing worker sends just before it dies


class ScriptedBackend:
    name = "scripted"

    def __init__(self, config: dict[str, Any]) -> None:
        self._store = Path(config["store_dir"])
        self._link_after = float(config.get("link_after", 0.05))
        self._never_link = set(config.get("never_link", ()))  # their windows stay open
        self._sink: EventSink | None = None
        self._sessions: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _emit(self, event: Any) -> None:
        assert self._sink is not None
        await self._sink(event)

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._store.mkdir(parents=True, exist_ok=True)

    def open_sessions(self) -> list[str]:
        return list(self._sessions)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def begin_pairing(self, device_id: str, epoch: int) -> None:
        self._sessions[device_id] = epoch
        now = datetime.now(UTC)
        await self._emit(
            QrCode(device_id, epoch, f"qr-{device_id}-{epoch}", now + timedelta(seconds=60))
        )
        task = asyncio.create_task(self._link_later(device_id, epoch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _link_later(self, device_id: str, epoch: int) -> None:
        await asyncio.sleep(self._link_after)
        if self._sessions.get(device_id) != epoch or device_id in self._never_link:
            return
        (self._store / device_id).write_text("6281234567890")
        await self._emit(self._connected(device_id, epoch, reconnected=False))

    def _connected(self, device_id: str, epoch: int, *, reconnected: bool) -> Connected:
        phone = (self._store / device_id).read_text()
        return Connected(
            device_id,
            epoch,
            wa_number=phone,
            wa_device_jid=f"{phone}:{os.getpid()}@s.whatsapp.net",
            linked_at=datetime.now(UTC),
            reconnected=reconnected,
        )

    async def request_pairing_code(self, device_id: str, epoch: int, phone: str) -> str:
        return "ABCD1234"

    async def restore(self, device_id: str, epoch: int) -> None:
        if not (self._store / device_id).exists():
            raise EngineError("session_missing", "no stored session for this device")
        self._sessions[device_id] = epoch
        await self._emit(self._connected(device_id, epoch, reconnected=True))

    async def close(self, device_id: str) -> None:
        self._sessions.pop(device_id, None)

    async def logout(self, device_id: str) -> None:
        self._sessions.pop(device_id, None)
        (self._store / device_id).unlink(missing_ok=True)

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        epoch = self._sessions.get(device_id)
        if epoch is None:
            raise SendError("not_connected", "no session", permanent=False)
        if message.to_jid.startswith(CRASH_PREFIX):
            # Say a few things first, as whatsmeow would have before it died: the supervisor
            # must still hand every one of them on.
            for index in range(LAST_WORDS):
                await self._emit(
                    Receipt(device_id, epoch, (f"last-{index}",), "read", message.to_jid)
                )
            os._exit(134)  # what `fatal error: concurrent map writes` does to a process
        await self._emit(
            Receipt(device_id, epoch, (message.wa_message_id,), "delivered", message.to_jid)
        )
        return SentMessage(message.wa_message_id, datetime.now(UTC))

    async def send_typing(self, device_id: str, to_jid: str, seconds: float) -> None:
        return None

    async def groups(self, device_id: str) -> list[GroupInfo]:
        return [GroupInfo("1203@g.us", "Team", ("6281", "6282"))]

    async def profile(self, device_id: str, jid: str) -> Profile:
        return Profile(jid, jid.partition("@")[0], "Name", None)

    async def check_contacts(self, device_id: str, phones: list[str]) -> list[ContactCheck]:
        return [ContactCheck(p, not p.startswith("999"), f"{p}@s.whatsapp.net") for p in phones]

    async def health(self) -> EngineHealth:
        return EngineHealth(ok=True, detail={"sessions": len(self._sessions)})

    async def contacts(self, device_id: str) -> list[Contact]:
        return [Contact("628@s.whatsapp.net", "628", "1@lid", None, "Ani", "Toko Ani")]


def factory(config: dict[str, Any]) -> ScriptedBackend:
    return ScriptedBackend(config)
