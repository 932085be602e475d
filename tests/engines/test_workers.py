"""Engine worker processes: the protocol, placement, crash isolation, restart and restore.

Real worker processes (`python -m wagateway.engines.workers.host`) hosting the scripted
backend from tests/support/worker_backend.py; a crash is a real `os._exit(134)` inside one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.worker_backend import LAST_WORDS
from wagateway.engines import base
from wagateway.engines.base import (
    Connected,
    ConnectionLost,
    EngineError,
    EngineEvent,
    OutboundMessage,
    PairingWindowEnded,
    QrCode,
    Receipt,
    SentMessage,
)
from wagateway.engines.workers import protocol
from wagateway.engines.workers.engine import WorkerEngine
from wagateway.engines.workers.supervisor import WorkerPool

BACKEND = "tests.support.worker_backend:factory"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    return not Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


# --- protocol ------------------------------------------------------------------------------


def test_every_boundary_type_round_trips() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    values = [
        QrCode("d", 1, "qr", now),
        Connected("d", 2, "628", "628:1@s.whatsapp.net", now, reconnected=True),
        base.InboundMessage(
            "d",
            1,
            "W1",
            "628@s.whatsapp.net",
            "628",
            None,
            "image",
            {"caption": "c"},
            now,
            mentions=("6281",),
            media=b"\x00\xffpng",
        ),
        Receipt("d", 1, ("A", "B"), "read", "628@s.whatsapp.net", "6281", now),
        base.InboundMessage(
            "d",
            1,
            "W2",
            "6285@s.whatsapp.net",
            "628",
            None,
            "text",
            {"text": "x"},
            now,
            from_me=True,
        ),  # fmt: skip
        base.ChatPresence("d", 1, "g@g.us", "628@s.whatsapp.net", "recording"),
        base.MessageRevoked("d", 1, "W1", "g@g.us", "628", by="6281"),
        base.MessageEdited("d", 1, "W1", "628@s.whatsapp.net", "628", "1@lid", "new", now),
        base.PollVote("d", 1, "P1", "g@g.us", "628", None, ("ab", "cd"), now),
        OutboundMessage("W", "628@s.whatsapp.net", "text", {"text": "hi"}, b"x", None, ("1",)),
        OutboundMessage(
            "W",
            "g@g.us",
            "text",
            {"text": "ya"},
            reply_to="Q",
            quoted_sender="628@s.whatsapp.net",
            quoted_from_me=True,
            quoted_text="jam?",
            link_preview={"url": "https://t.example", "title": "T", "description": ""},
        ),  # fmt: skip
        SentMessage("W", now),
        base.GroupInfo("g@g.us", "G", ("1", "2")),
        base.GroupInfo(
            "g@g.us",
            "G",
            ("1", "2@lid"),
            admins=("1",),
            description="d",
            announce=True,
            created_at=now,
            members=(
                base.GroupMember("1@s.whatsapp.net", "1", "3@lid", admin=True),
                base.GroupMember("2@lid", None, "2@lid"),
            ),
        ),
        base.GroupParticipantChange("628@s.whatsapp.net", "628", "privacy_restricted"),
        base.GroupChanged(
            "d",
            1,
            kind="group_participants",
            group="g@g.us",
            by="1",
            action="add",
            participants=("2", "3@lid"),
        ),  # fmt: skip
        base.GroupChanged("d", 1, kind="group_updated", group="g@g.us", changes={"locked": True}),
        base.ContactCheck("628", True, "628@s.whatsapp.net", "1@lid"),
        base.EngineHealth(ok=True, detail={"n": 1}),
        base.OwnerRead("d", 1, "628@s.whatsapp.net", ("A", "B"), now),
        base.Contact("628@s.whatsapp.net", "628", "1@lid", "Ani", "Ani", None),
        base.HistoryBatch(
            "d",
            1,
            messages=(
                base.InboundMessage(
                    "d", 1, "H1", "628@s.whatsapp.net", "628", None, "text", {"text": "x"}, now
                ),
            ),
            chats=1,
            progress=40,
        ),
        base.HistoryBatch("d", 1, messages=(), chats=0, progress=None),
    ]
    for value in values:
        wire = protocol.encode(value)
        assert protocol.decode(wire) == value


def test_unknown_types_are_refused_both_ways() -> None:
    class Foreign:
        pass

    with pytest.raises(protocol.ProtocolError):
        protocol.encode(Foreign())
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"$type": "Popen", "args": ["sh"]})
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"$type": "QrCode"})  # a payload cannot smuggle a tag


def test_errors_keep_their_kind_and_fields() -> None:
    wire = protocol.error_frame(
        3, base.SendError("provider_rate_limit", "slow", permanent=False, retry_after=2.5)
    )
    error = protocol.error_of(wire["error"])
    assert isinstance(error, base.SendError)
    assert (error.code, error.permanent, error.retry_after) == ("provider_rate_limit", False, 2.5)
    crash = protocol.error_frame(4, ZeroDivisionError("secret detail"))
    assert crash["error"] == {
        "kind": "engine",
        "code": "engine_error",
        "message": "ZeroDivisionError",
    }


def test_frames_over_the_limit_are_refused() -> None:
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data((protocol.MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(protocol.ProtocolError):
            await protocol.read_frame(reader)

    asyncio.run(scenario())


# --- the pool ------------------------------------------------------------------------------


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[EngineEvent] = []
        self._delay = delay  # a slow gateway: events back up in the supervisor

    async def sink(self, event: EngineEvent) -> None:
        if self._delay:
            await asyncio.sleep(self._delay)
        self.events.append(event)

    async def wait(self, predicate: Callable[[EngineEvent], bool], timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(predicate(e) for e in self.events):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching event; got {self.events!r}")
            await asyncio.sleep(0.02)

    def of(self, device_id: str) -> list[EngineEvent]:
        return [e for e in self.events if e.device_id == device_id]


def _run(
    tmp_path: Path,
    scenario: Callable[[WorkerEngine, Recorder], Awaitable[None]],
    *,
    devices_per_worker: int = 50,
    never_link: tuple[str, ...] = (),
    sink_delay: float = 0.0,
) -> None:
    async def main() -> None:
        pool = WorkerPool(
            "scripted",
            BACKEND,
            {"store_dir": str(tmp_path / "stores"), "never_link": list(never_link)},
            devices_per_worker=devices_per_worker,
            restart_backoff=(0.1, 0.2),
        )
        engine = WorkerEngine("scripted", pool)
        recorder = Recorder(sink_delay)
        await engine.start(recorder.sink)
        try:
            await scenario(engine, recorder)
        finally:
            await engine.shutdown()

    asyncio.run(main())


def _text(to: str) -> OutboundMessage:
    return OutboundMessage("3EB0AA", f"{to}@s.whatsapp.net", "text", {"text": "hi"})


async def _link(engine: WorkerEngine, recorder: Recorder, device_id: str) -> None:
    await engine.begin_pairing(device_id, 1)
    await recorder.wait(lambda e: e.device_id == device_id and isinstance(e, Connected))


def test_devices_are_spread_over_workers_and_calls_reach_theirs(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        for device in ("a", "b", "c"):
            await _link(engine, recorder, device)
        pids = {d: engine.pool.worker_pid(d) for d in ("a", "b", "c")}
        assert pids["a"] == pids["b"] != pids["c"], "two devices per worker, then a new worker"
        sent = await engine.send("c", _text("6281"))
        assert sent.wa_message_id == "3EB0AA"
        await recorder.wait(lambda e: isinstance(e, Receipt) and e.device_id == "c")
        assert [c.on_whatsapp for c in await engine.check_contacts("a", ["628", "9991"])] == [
            True,
            False,
        ]
        health = await engine.health()
        assert health.ok and health.detail["devices"] == 3
        assert [w["devices"] for w in engine.pool.health()["workers"]] == [2, 1]

    _run(tmp_path, scenario, devices_per_worker=2)


def test_a_crashing_worker_takes_only_its_devices_and_they_come_back(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "a")
        await _link(engine, recorder, "b")
        crashed_pid = engine.pool.worker_pid("a")
        other_pid = engine.pool.worker_pid("b")
        assert crashed_pid and other_pid and crashed_pid != other_pid
        before_b = list(recorder.of("b"))

        with pytest.raises(EngineError) as caught:
            await engine.send("a", _text("crash-6281"))
        assert caught.value.code == "engine_unavailable"

        # a: lost, then restored from its stored session on a new worker process
        await recorder.wait(lambda e: e.device_id == "a" and isinstance(e, ConnectionLost))
        await recorder.wait(
            lambda e: e.device_id == "a" and isinstance(e, Connected) and e.reconnected
        )
        assert not _alive(crashed_pid)
        new_pid = engine.pool.worker_pid("a")
        assert new_pid and new_pid != crashed_pid
        assert (await engine.send("a", _text("6281"))).wa_message_id == "3EB0AA"

        # b: same worker process, no event of any kind, still sends
        assert engine.pool.worker_pid("b") == other_pid
        assert recorder.of("b") == before_b
        assert (await engine.send("b", _text("6282"))).wa_message_id == "3EB0AA"
        restarts = [w["restarts"] for w in engine.pool.health()["workers"]]
        assert sorted(restarts) == [0, 1]

    _run(tmp_path, scenario, devices_per_worker=1)


def test_what_a_worker_said_before_dying_arrives_first_and_whole(tmp_path: Path) -> None:
    """A receipt the dead worker wrote is in the socket: it must reach the gateway, before
    the news of the death and before anything the restarted worker says (it was lost once:
    the old delivery task switched to the new worker's queue and dropped the rest)."""

    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "a")
        with pytest.raises(EngineError):
            await engine.send("a", _text("crash-6281"))
        await recorder.wait(
            lambda e: e.device_id == "a" and isinstance(e, Connected) and e.reconnected
        )
        events = recorder.of("a")
        linked = next(i for i, e in enumerate(events) if isinstance(e, Connected))
        after_link = events[linked + 1 :]
        last_words = [e for e in after_link if isinstance(e, Receipt)]
        assert [e.wa_message_ids[0] for e in last_words] == [f"last-{i}" for i in range(LAST_WORDS)]
        kinds = [type(e).__name__ for e in after_link]
        assert kinds == ["Receipt"] * LAST_WORDS + ["ConnectionLost", "Connected"], kinds

    # 50 ms per event: the 20 receipts take a second to hand on, the restart takes less
    _run(tmp_path, scenario, devices_per_worker=1, sink_delay=0.05)


def test_a_pairing_window_on_a_crashed_worker_ends(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "linked")
        await engine.begin_pairing("pairing", 4)
        await recorder.wait(lambda e: e.device_id == "pairing" and isinstance(e, QrCode))
        with pytest.raises(EngineError):
            await engine.send("linked", _text("crash-1"))
        await recorder.wait(
            lambda e: e.device_id == "pairing" and isinstance(e, PairingWindowEnded)
        )
        ended = [e for e in recorder.of("pairing") if isinstance(e, PairingWindowEnded)]
        assert ended[0].epoch == 4
        await recorder.wait(
            lambda e: e.device_id == "linked" and isinstance(e, Connected) and e.reconnected
        )
        # the window's device is no longer placed: calls for it say so
        with pytest.raises(EngineError) as caught:
            await engine.send("pairing", _text("6281"))
        assert caught.value.code == "not_connected"

    _run(tmp_path, scenario, devices_per_worker=5, never_link=("pairing",))


def test_restore_without_a_stored_session_is_an_engine_error(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        with pytest.raises(EngineError) as caught:
            await engine.restore("never-linked", 1)
        assert caught.value.code == "session_missing"
        assert engine.pool.worker_pid("never-linked") is None  # not left placed

    _run(tmp_path, scenario)


def test_logout_erases_the_store_even_without_a_live_session(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "a")
        await engine.close("a")
        assert (tmp_path / "stores" / "a").exists()
        await engine.logout("a")
        assert not (tmp_path / "stores" / "a").exists()
        assert engine.pool.worker_pid("a") is None

    _run(tmp_path, scenario)


def test_shutdown_ends_every_worker_process(tmp_path: Path) -> None:
    pids: list[int] = []

    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        for device in ("a", "b"):
            await _link(engine, recorder, device)
            pid = engine.pool.worker_pid(device)
            assert pid is not None
            pids.append(pid)

    _run(tmp_path, scenario, devices_per_worker=1)
    assert len(set(pids)) == 2
    assert not any(_alive(pid) for pid in pids)


def test_contacts_reach_the_worker_that_holds_the_device(tmp_path: Path) -> None:
    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "a")
        assert await engine.contacts("a") == [
            base.Contact("628@s.whatsapp.net", "628", "1@lid", None, "Ani", "Toko Ani")
        ]

    _run(tmp_path, scenario)


def test_a_worker_closes_its_sessions_when_its_hold_is_not_renewed(tmp_path: Path) -> None:
    """Several nodes (CONTRACT §9): a worker keeps its sessions only as long as its gateway
    renews its hold; a gateway that froze (workers run on) cannot close them itself."""

    async def scenario(engine: WorkerEngine, recorder: Recorder) -> None:
        await _link(engine, recorder, "a")
        await _link(engine, recorder, "b")
        # Renewed on time: the sessions stay.
        for _ in range(6):
            engine.pool.hold_until(time.monotonic() + 0.3)
            await asyncio.sleep(0.1)
        assert (await engine.send("a", _text("6281"))).wa_message_id == "3EB0AA"
        # No renewal: at the deadline the worker closes them by itself.
        engine.pool.hold_until(time.monotonic() + 0.2)
        await asyncio.sleep(0.6)
        for device in ("a", "b"):
            with pytest.raises(base.SendError, match="no session"):
                await engine.send(device, _text("6281"))

    _run(tmp_path, scenario)
