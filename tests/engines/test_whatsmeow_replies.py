"""Replies and reactions at the neonize boundary: the quote WhatsApp shows (ContextInfo
stanzaID + participant + quotedMessage) and the reaction key's fromMe / participant, read
back with neonize's own protobuf classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wagateway.engines.base import EngineEvent, OutboundMessage

pytest.importorskip("tests.support.fake_neonize", reason="neonize is not installed")

from tests.engines.test_whatsmeow_backend import run  # noqa: E402
from wagateway.engines.whatsmeow.backend import WhatsmeowBackend  # noqa: E402

CONTACT = "6285550001111@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
OWN = "6281234567890@s.whatsapp.net"


def test_a_reply_carries_the_quoted_sender_and_text(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        await backend.send(
            "d1",
            OutboundMessage(
                "3EB0A", GROUP, "text", {"text": "ya"}, reply_to="3EB0THEIRS",
                quoted_sender=CONTACT, quoted_text="jam berapa?",
            ),
        )  # fmt: skip
        await backend.send(
            "d1",
            OutboundMessage(
                "3EB0B", CONTACT, "image", {"mime_type": "image/png"}, b"\x89PNG" * 20,
                reply_to="3EB0MINE", quoted_sender=OWN, quoted_from_me=True, quoted_text="nota",
            ),
        )  # fmt: skip
        await backend.send(
            "d1", OutboundMessage("3EB0C", CONTACT, "text", {"text": "x"}, reply_to="3EB0UNKNOWN")
        )
        built = [m for _, _, m in network.sent]
        context = built[0].extendedTextMessage.contextInfo
        assert (context.stanzaID, context.participant) == ("3EB0THEIRS", CONTACT)
        assert context.quotedMessage.conversation == "jam berapa?"
        image = built[1].imageMessage.contextInfo
        assert (image.stanzaID, image.participant) == ("3EB0MINE", OWN)
        assert image.quotedMessage.conversation == "nota"
        unknown = built[2].extendedTextMessage.contextInfo
        assert unknown.stanzaID == "3EB0UNKNOWN" and not unknown.participant
        assert not unknown.HasField("quotedMessage")

    run(tmp_path, scenario)


def test_a_reaction_key_says_whose_message_it_is(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        def reaction(to: str, target: str, **quoted: Any) -> OutboundMessage:
            content = {"message_id": target, "emoji": "👍"}
            return OutboundMessage("3EB0R" + target, to, "reaction", content, **quoted)

        await backend.send("d1", reaction(CONTACT, "3EB0IN", quoted_sender=CONTACT))
        await backend.send(
            "d1", reaction(CONTACT, "3EB0OUT", quoted_sender=OWN, quoted_from_me=True)
        )
        await backend.send("d1", reaction(GROUP, "3EB0GIN", quoted_sender=CONTACT))
        await backend.send(
            "d1", reaction(GROUP, "3EB0GOUT", quoted_sender=OWN, quoted_from_me=True)
        )
        keys = [m.reactionMessage.key for _, _, m in network.sent]
        assert [(k.remoteJID, k.ID, k.fromMe, k.participant) for k in keys] == [
            (CONTACT, "3EB0IN", False, ""),
            (CONTACT, "3EB0OUT", True, ""),
            (GROUP, "3EB0GIN", False, CONTACT),
            (GROUP, "3EB0GOUT", True, OWN),
        ]

    run(tmp_path, scenario)


def test_a_link_preview_is_the_one_the_gateway_fetched(tmp_path: Path) -> None:
    async def scenario(backend: WhatsmeowBackend, network: Any, events: list[EngineEvent]) -> None:
        preview = {"url": "https://toko.example/a", "title": "Toko", "description": "Buka 9"}
        text = "lihat https://toko.example/a"
        await backend.send(
            "d1", OutboundMessage("3EB0P", CONTACT, "text", {"text": text}, link_preview=preview)
        )
        await backend.send(
            "d1",
            OutboundMessage(
                "3EB0Q", CONTACT, "text", {"text": text}, reply_to="3EB0X",
                quoted_sender=CONTACT, quoted_text="?", link_preview=preview,
            ),
        )  # fmt: skip
        plain, quoting = (m.extendedTextMessage for _, _, m in network.sent)
        assert (plain.text, plain.matchedText, plain.title, plain.description) == (
            text,
            "https://toko.example/a",
            "Toko",
            "Buka 9",
        )
        assert not plain.HasField("contextInfo") and not plain.JPEGThumbnail
        assert quoting.matchedText == "https://toko.example/a"
        assert quoting.contextInfo.stanzaID == "3EB0X"

    run(tmp_path, scenario)
