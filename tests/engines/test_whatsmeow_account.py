"""The whatsmeow backend's account actions at the neonize boundary (CONTRACT §8.4): a restart
stops the client before a new one connects from the same store (neonize: `connect()` again
without `stop()` orphans the Go loop; `disconnect()` cannot be reconnected), the own-profile
calls get bytes and strings, blocking passes neonize's own `BlocklistAction` and `JID`, and
neonize's errors become EngineErrors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engines.test_whatsmeow_chat_actions import CHAT, ENUM, PB, _events_until, run
from wagateway.engines.base import Connected, ConnectionLost, EngineError, SessionEnded

fake_neonize = pytest.importorskip("tests.support.fake_neonize", reason="neonize is not installed")

from wagateway.engines.whatsmeow.backend import WhatsmeowBackend  # noqa: E402


def test_restart_stops_the_old_client_before_a_new_one_connects(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        old = network.clients["d1"]
        await backend.reconnect("d1")
        back = await _events_until(events, lambda e: isinstance(e, Connected) and e.reconnected)
        assert isinstance(back, Connected) and back.epoch == 1
        new = network.clients["d1"]
        assert new is not old and old.stopped and not new.stopped
        assert not new.new_device, "the new client resumes the stored session"
        lost = next(e for e in events if isinstance(e, ConnectionLost))
        assert events.index(lost) < events.index(back)
        assert not any(isinstance(e, SessionEnded) for e in events)
        await backend.send_presence("d1", "available")  # the new client is the live one
        assert network.connects["d1"] == 2

    calls = run(tmp_path, scenario)
    names = [name for name, _, _ in calls]
    stop = names.index("stop")
    assert "connect" in names[stop:], "stop first, then the new client's connect"


def test_profile_and_blocklist_calls_use_neonize_types(tmp_path: Path) -> None:
    picture = b"\xff\xd8\xff\xe0" + bytes(range(50))

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list) -> None:
        await backend.update_own_profile("d1", about="")
        await backend.update_own_profile("d1", name="Toko", picture=picture)
        await backend.set_blocked("d1", CHAT, True)
        await backend.set_blocked("d1", "6285550002222@s.whatsapp.net", True)
        await backend.set_blocked("d1", "6285550002222@s.whatsapp.net", False)
        assert await backend.blocklist("d1") == [CHAT]

        async def refused(*args: Any) -> Any:
            raise RuntimeError("UpdateBlocklistError: server said no")

        network.clients["d1"].update_blocklist = refused
        network.clients["d1"].set_status_message = refused
        with pytest.raises(EngineError) as failed:
            await backend.set_blocked("d1", CHAT, False)
        assert failed.value.code == "block_failed"
        with pytest.raises(EngineError) as failed:
            await backend.update_own_profile("d1", about="x")
        assert failed.value.code == "profile_update_failed"

    calls = run(tmp_path, scenario)
    assert [args for name, args, _ in calls if name == "set_status_message"][0] == ("",)
    assert [args for name, args, _ in calls if name == "set_profile_name"] == [("Toko",)]
    [(photo,)] = [args for name, args, _ in calls if name == "set_profile_photo"]
    assert photo == picture and isinstance(photo, bytes)
    blocks = [args for name, args, _ in calls if name == "update_blocklist"]
    assert all(isinstance(jid, PB.JID) for jid, _ in blocks)
    assert [action for _, action in blocks][:3] == [
        ENUM.BlocklistAction.BLOCK,
        ENUM.BlocklistAction.BLOCK,
        ENUM.BlocklistAction.UNBLOCK,
    ]
