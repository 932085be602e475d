"""`WorkerEngine`: the gateway-side `Engine` whose sessions live in worker processes."""

from __future__ import annotations

from typing import Any

from wagateway.engines.base import (
    Contact,
    ContactCheck,
    EngineHealth,
    EventSink,
    GroupInfo,
    GroupParticipantChange,
    OutboundMessage,
    Profile,
    SentMessage,
)
from wagateway.engines.workers.supervisor import WorkerPool


class WorkerEngine:
    """Every call goes to the worker that holds the device; events come back through the
    pool, in the order each worker sent them."""

    def __init__(self, name: str, pool: WorkerPool) -> None:
        self.name = name
        self.pool = pool

    async def start(self, sink: EventSink) -> None:
        await self.pool.start(sink)

    async def shutdown(self) -> None:
        await self.pool.shutdown()

    async def _call(self, device_id: str, op: str, **args: Any) -> Any:
        return await self.pool.call(device_id, op, args)

    async def begin_pairing(self, device_id: str, epoch: int) -> None:
        await self._call(device_id, "begin_pairing", epoch=epoch)

    async def request_pairing_code(self, device_id: str, epoch: int, phone: str) -> str:
        return str(await self._call(device_id, "request_pairing_code", epoch=epoch, phone=phone))

    async def restore(self, device_id: str, epoch: int) -> None:
        await self._call(device_id, "restore", epoch=epoch)

    async def close(self, device_id: str) -> None:
        if self.pool.worker_pid(device_id) is not None:
            await self._call(device_id, "close")

    async def closes_recorded(self, timeout: float) -> None:
        """Nothing to wait for: `close` returns once the worker has closed the socket, which
        is how WhatsApp learns of it."""

    async def logout(self, device_id: str) -> None:
        if self.pool.worker_pid(device_id) is None:
            # No live session (never linked here, or its worker is gone): a worker erases
            # the stored session material all the same.
            await self.pool.call(device_id, "logout", {}, place_anyway=True)
        else:
            await self._call(device_id, "logout")

    async def send(self, device_id: str, message: OutboundMessage) -> SentMessage:
        result = await self._call(device_id, "send", message=message)
        assert isinstance(result, SentMessage)
        return result

    async def send_typing(self, device_id: str, to_jid: str, seconds: float) -> None:
        await self._call(device_id, "send_typing", to_jid=to_jid, seconds=seconds)

    async def mark_read(
        self, device_id: str, chat: str, sender: str, wa_message_ids: tuple[str, ...]
    ) -> None:
        await self._call(
            device_id, "mark_read", chat=chat, sender=sender, wa_message_ids=list(wa_message_ids)
        )

    async def send_chat_presence(self, device_id: str, chat: str, state: str) -> None:
        await self._call(device_id, "send_chat_presence", chat=chat, state=state)

    async def send_presence(self, device_id: str, state: str) -> None:
        await self._call(device_id, "send_presence", state=state)

    async def edit_message(
        self, device_id: str, chat: str, wa_message_id: str, new_content: dict[str, str]
    ) -> None:
        await self._call(
            device_id,
            "edit_message",
            chat=chat,
            wa_message_id=wa_message_id,
            new_content=dict(new_content),
        )

    async def revoke_message(
        self, device_id: str, chat: str, sender: str, wa_message_id: str
    ) -> None:
        await self._call(
            device_id, "revoke_message", chat=chat, sender=sender, wa_message_id=wa_message_id
        )

    async def reject_call(self, device_id: str, call_id: str, caller: str) -> None:
        await self._call(device_id, "reject_call", call_id=call_id, caller=caller)

    async def groups(self, device_id: str) -> list[GroupInfo]:
        return list(await self._call(device_id, "groups"))

    async def profile(self, device_id: str, jid: str) -> Profile:
        result = await self._call(device_id, "profile", jid=jid)
        assert isinstance(result, Profile)
        return result

    async def check_contacts(self, device_id: str, phones: list[str]) -> list[ContactCheck]:
        return list(await self._call(device_id, "check_contacts", phones=phones))

    async def set_presence_mode(self, device_id: str, mode: str) -> None:
        await self._call(device_id, "set_presence_mode", mode=mode)

    async def subscribe_presence(self, device_id: str, jid: str) -> None:
        await self._call(device_id, "subscribe_presence", jid=jid)

    async def update_group(self, device_id: str, group: str, changes: dict[str, Any]) -> None:
        await self._call(device_id, "update_group", group=group, changes=dict(changes))

    async def update_group_participants(
        self, device_id: str, group: str, action: str, participants: list[str]
    ) -> list[GroupParticipantChange]:
        return list(
            await self._call(
                device_id,
                "update_group_participants",
                group=group,
                action=action,
                participants=list(participants),
            )
        )

    async def leave_group(self, device_id: str, group: str) -> None:
        await self._call(device_id, "leave_group", group=group)

    async def create_group(
        self, device_id: str, subject: str, participants: list[str]
    ) -> GroupInfo:
        result = await self._call(
            device_id, "create_group", subject=subject, participants=list(participants)
        )
        assert isinstance(result, GroupInfo)
        return result

    async def group_invite_link(self, device_id: str, group: str, reset: bool) -> str:
        return str(await self._call(device_id, "group_invite_link", group=group, reset=reset))

    async def join_group(self, device_id: str, code: str) -> GroupInfo:
        result = await self._call(device_id, "join_group", code=code)
        assert isinstance(result, GroupInfo)
        return result

    async def health(self) -> EngineHealth:
        detail = self.pool.health()
        workers = detail["workers"]
        # What each worker's backend says of itself (e.g. whatsmeow's connects and open
        # descriptors, which neonize leaks one per connect).
        for worker, own in zip(workers, await self.pool.backend_health(), strict=True):
            worker["backend"] = own.detail if own is not None else None
        return EngineHealth(ok=all(w["alive"] for w in workers), detail=detail)

    # --- the account itself (CONTRACT §8.4) ------------------------------------------------

    async def reconnect(self, device_id: str) -> None:
        await self._call(device_id, "reconnect")

    async def update_own_profile(
        self,
        device_id: str,
        name: str | None = None,
        about: str | None = None,
        picture: bytes | None = None,
    ) -> None:
        await self._call(device_id, "update_own_profile", name=name, about=about, picture=picture)

    async def set_blocked(self, device_id: str, jid: str, blocked: bool) -> None:
        await self._call(device_id, "set_blocked", jid=jid, blocked=blocked)

    async def set_history_limit(self, device_id: str, limit: int) -> None:
        await self._call(device_id, "set_history_limit", limit=limit)

    async def blocklist(self, device_id: str) -> list[str]:
        return [str(jid) for jid in await self._call(device_id, "blocklist")]

    async def contacts(self, device_id: str) -> list[Contact]:
        return list(await self._call(device_id, "contacts"))
