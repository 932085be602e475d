"""Whom a read receipt names as the sender (messages/actions.py): WhatsApp wants the chat in a
one-to-one chat and the participant who wrote the message in a group."""

from __future__ import annotations

from wagateway.messages.actions import sender_jid
from wagateway.messages.models import Message


def inbound(chat: str, sender: str | None, sender_lid: str | None = None) -> Message:
    return Message(chat=chat, sender=sender, sender_lid=sender_lid, direction="inbound")


def test_one_to_one_chats_name_the_chat() -> None:
    assert sender_jid(inbound("6281@s.whatsapp.net", "6281")) == "6281@s.whatsapp.net"
    assert sender_jid(inbound("123456@lid", None, "123456@lid")) == "123456@lid"


def test_groups_name_the_participant() -> None:
    group = "120363000@g.us"
    assert sender_jid(inbound(group, "6282")) == "6282@s.whatsapp.net"
    assert sender_jid(inbound(group, "6282@s.whatsapp.net")) == "6282@s.whatsapp.net"
    assert sender_jid(inbound(group, None, "777@lid")) == "777@lid"
