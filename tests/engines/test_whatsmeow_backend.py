"""The whatsmeow backend beyond the conformance suite: every message type built from bytes,
inbound media downloaded under the cap, the process-killing calls serialised."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.engines.conformance import wait_for
from wagateway.engines.base import (
    QR_CODE_LIFETIMES,
    Connected,
    EngineError,
    EngineEvent,
    GroupMember,
    InboundMessage,
    OutboundMessage,
    PollVote,
    QrCode,
    SendError,
)

fake_neonize = pytest.importorskip("tests.support.fake_neonize", reason="neonize is not installed")

from wagateway.engines.whatsmeow.backend import SharedExclusiveLock, WhatsmeowBackend  # noqa: E402

SCALE = 0.02
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


async def until(events: list[EngineEvent], predicate: Callable[[EngineEvent], bool]) -> EngineEvent:
    return await wait_for(SimpleNamespace(events=events), predicate)  # type: ignore[arg-type]


def run(
    tmp_path: Path,
    scenario: Callable[[WhatsmeowBackend, Any, list[EngineEvent]], Awaitable[None]],
    **config: Any,
) -> None:
    async def main() -> None:
        network = fake_neonize.FakeWhatsApp([t * SCALE for t in QR_CODE_LIFETIMES])
        backend = WhatsmeowBackend(
            {"store_dir": str(tmp_path), "time_scale": SCALE, **config},
            client_factory=network.factory,
        )
        events: list[EngineEvent] = []

        async def sink(event: EngineEvent) -> None:
            events.append(event)

        await backend.start(sink)
        try:
            await backend.begin_pairing("d1", 1)
            qr = await until(events, lambda e: isinstance(e, QrCode))
            assert isinstance(qr, QrCode)
            await network.scan(qr.code, "6281234567890")
            await until(events, lambda e: isinstance(e, Connected))
            await scenario(backend, network, events)
        finally:
            await backend.shutdown()

    asyncio.run(main())


def out(
    kind: str, content: dict[str, Any], media: bytes | None = None, **extra: Any
) -> OutboundMessage:
    return OutboundMessage(
        "3EB0OURS", "6285550001111@s.whatsapp.net", kind, content, media, **extra
    )


def test_every_message_type_is_built_from_bytes(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        cases = [
            out("text", {"text": "hi"}),
            out(
                "text", {"text": "@6282 lihat"}, reply_to="3EB0Q", mentions=("6282@s.whatsapp.net",)
            ),
            out("image", {"mime_type": "image/png", "caption": "foto"}, PNG),
            out("video", {"mime_type": "video/mp4", "caption": "klip"}, b"mp4" * 50),
            out("audio", {"mime_type": "audio/ogg", "ptt": True}, b"ogg" * 50),
            out("document", {"mime_type": "application/pdf", "file_name": "nota.pdf"}, b"%PDF" * 9),
            out("sticker", {"mime_type": "image/webp"}, b"RIFFwebp" * 9),
            out("contact", {"contact_name": "Ana", "vcard": "BEGIN:VCARD\nEND:VCARD"}),
            out("location", {"latitude": -6.2, "longitude": 106.8, "name": "Toko"}),
            out("reaction", {"message_id": "3EB0THEIRS", "emoji": "👍"}),
            out("interactive", {"poll_question": "Jam?", "poll_options": ["9", "10"]}),
        ]
        for message in cases:
            sent = await backend.send("d1", message)
            assert sent.wa_message_id.startswith("3EB0")
        built = [m for _, _, m in network.sent]
        assert built[0].conversation == "hi"
        ext = built[1].extendedTextMessage
        assert ext.contextInfo.stanzaID == "3EB0Q"
        assert list(ext.contextInfo.mentionedJID) == ["6282@s.whatsapp.net"]
        image = built[2].imageMessage
        assert image.caption == "foto" and image.mimetype == "image/png"
        assert image.fileSHA256 == hashlib.sha256(PNG).digest() and image.fileLength == len(PNG)
        assert network.uploads[image.fileSHA256] == PNG  # the bytes themselves went up
        assert built[3].videoMessage.caption == "klip"
        assert built[4].audioMessage.PTT is True
        assert built[5].documentMessage.fileName == "nota.pdf"
        assert built[6].HasField("stickerMessage")
        assert built[7].contactMessage.displayName == "Ana"
        assert built[8].locationMessage.degreesLatitude == -6.2
        reaction = built[9].reactionMessage
        assert (reaction.text, reaction.key.ID) == ("👍", "3EB0THEIRS")
        assert [o.optionName for o in built[10].pollCreationMessage.options] == ["9", "10"]

        with pytest.raises(SendError) as caught:
            await backend.send("d1", out("interactive", {"buttons": [{"id": "1", "title": "ok"}]}))
        assert caught.value.code == "unsupported_type" and caught.value.permanent
        with pytest.raises(SendError) as missing:
            await backend.send("d1", out("image", {"mime_type": "image/png"}))
        assert missing.value.code == "media_error"
        with pytest.raises(SendError) as offline:
            await backend.send("nobody", out("text", {"text": "x"}))
        assert offline.value.code == "not_connected"

    run(tmp_path, scenario)


def test_inbound_image_is_downloaded_within_the_cap(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        await network.contact_sends_image("d1", "6285550001111", PNG, "lihat")
        await network.contact_sends_image("d1", "6285550001111", PNG * 10, "besar")
        await until(
            events, lambda _: len([x for x in events if isinstance(x, InboundMessage)]) == 2
        )
        small, big = sorted(
            (e for e in events if isinstance(e, InboundMessage)), key=lambda e: e.media_size or 0
        )
        assert small.type == "image" and small.content["caption"] == "lihat"
        assert small.media == PNG and small.media_size == len(PNG)
        assert big.media is None and big.media_size == len(PNG) * 10  # over the cap: not fetched

    run(tmp_path, scenario, media_max_bytes=len(PNG) * 2)


def test_a_vote_on_a_poll_whatsmeow_cannot_decrypt_is_dropped(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        # a poll this account never sent: whatsmeow has no secret for it
        await network.contact_votes("d1", "6285550001111", "3EB0NOTOURS", ["Ya"])
        await network.contact_writes("d1", "6285550001111", "after the vote")
        await until(events, lambda e: isinstance(e, InboundMessage))
        await asyncio.sleep(0.1)  # the vote's task ran first or alongside; nothing came of it
        assert not [e for e in events if isinstance(e, PollVote)]
        assert not [e for e in events if isinstance(e, InboundMessage) and e.type != "text"]

    run(tmp_path, scenario)


def test_queries_answer_from_whatsapp(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        [group] = await backend.groups("d1")
        assert group.jid == "120363000@g.us" and group.name == "Tim Toko"
        assert group.participants == ("6281111", "99887766554433", "6281234567890")
        assert group.members[1] == GroupMember(
            jid="99887766554433@lid", phone="6282222", lid="99887766554433@lid", admin=False
        ), "a member named by LID, with the phone number WhatsApp gives beside it"
        assert group.members[2].admin and group.members[2].phone == "6281234567890"
        assert group.description == "Jadwal piket" and group.announce and not group.locked
        assert group.created_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert group.owner == "6281111"
        assert group.admins == ("6281234567890",), "the account, from IsAdmin"
        checks = await backend.check_contacts("d1", ["6285550001111", "9991234"])
        assert [c.on_whatsapp for c in checks] == [True, False]
        assert checks[0].jid == "6285550001111@s.whatsapp.net"
        assert checks[0].lid and checks[0].lid.endswith("@lid")  # phone -> LID resolved
        profile = await backend.profile("d1", "6285550001111@s.whatsapp.net")
        assert profile.about == "Buka 9-5" and profile.phone == "6285550001111"
        with pytest.raises(EngineError) as unknown:
            await backend.profile("d1", "9990000@s.whatsapp.net")
        assert unknown.value.code == "not_found"
        with pytest.raises(EngineError) as offline:
            await backend.groups("nobody")
        assert offline.value.code == "not_connected"
        await backend.send_typing("d1", "6285550001111@s.whatsapp.net", 2.0)
        assert network.presences == [("d1", "6285550001111", "CHAT_PRESENCE_COMPOSING")]

    run(tmp_path, scenario)


def test_connect_and_stop_never_overlap_other_calls() -> None:
    async def scenario() -> None:
        lock = SharedExclusiveLock()
        log: list[str] = []

        async def shared(name: str) -> None:
            async with lock.shared():
                log.append(f"+{name}")
                await asyncio.sleep(0.02)
                log.append(f"-{name}")

        async def exclusive() -> None:
            async with lock.exclusive():
                log.append("+X")
                await asyncio.sleep(0.02)
                log.append("-X")

        await asyncio.gather(shared("a"), shared("b"), exclusive(), shared("c"))
        start, end = log.index("+X"), log.index("-X")
        assert end == start + 1, log  # nothing else while the exclusive holder runs
        assert log.index("+b") < log.index("-a")  # shared holders do overlap

    asyncio.run(scenario())


def test_an_echo_of_the_clients_own_send_is_not_a_phone_message(tmp_path: Path) -> None:
    """WhatsApp may hand the client its own send back (`IsFromMe`, the same id): only what
    the account sent from elsewhere is reported, even before the gateway wrote the id down."""

    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        sent = await backend.send("d1", out("text", {"text": "dari API"}))
        await network.owner_writes("d1", "6285550001111", "dari API", sent.wa_message_id)
        await network.owner_writes("d1", "6285550001111", "dari HP")
        own = await until(events, lambda e: isinstance(e, InboundMessage) and e.from_me)
        assert isinstance(own, InboundMessage) and own.content == {"text": "dari HP"}
        client = network.clients["d1"]
        await asyncio.gather(*client._tasks)  # each event is a task of its own: the echo's too
        assert [e.content for e in events if isinstance(e, InboundMessage)] == [{"text": "dari HP"}]

    run(tmp_path, scenario)
