from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="InboundAccepted")


@_attrs_define
class InboundAccepted:
    """
    Attributes:
        wa_message_id (None | str): the new message's WhatsApp id; for revoke the revoked message's; null for
            chat_presence
    """

    wa_message_id: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        wa_message_id: None | str
        wa_message_id = self.wa_message_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "wa_message_id": wa_message_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_wa_message_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        wa_message_id = _parse_wa_message_id(d.pop("wa_message_id"))

        inbound_accepted = cls(
            wa_message_id=wa_message_id,
        )

        inbound_accepted.additional_properties = d
        return inbound_accepted

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
