from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ChatOut")


@_attrs_define
class ChatOut:
    """
    Attributes:
        chat (str): the chat's JID (a group's is …@g.us)
        last_message_at (datetime.datetime): when the chat's newest message was stored
        name (None | str): a one-to-one chat: the contact's push name from its newest message; a group: null
        unread_count (int): inbound messages not yet read, by the device (`…/read`) or by the owner on the phone
    """

    chat: str
    last_message_at: datetime.datetime
    name: None | str
    unread_count: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        chat = self.chat

        last_message_at = self.last_message_at.isoformat()

        name: None | str
        name = self.name

        unread_count = self.unread_count

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "chat": chat,
                "last_message_at": last_message_at,
                "name": name,
                "unread_count": unread_count,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        chat = d.pop("chat")

        last_message_at = datetime.datetime.fromisoformat(d.pop("last_message_at"))

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        unread_count = d.pop("unread_count")

        chat_out = cls(
            chat=chat,
            last_message_at=last_message_at,
            name=name,
            unread_count=unread_count,
        )

        chat_out.additional_properties = d
        return chat_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
