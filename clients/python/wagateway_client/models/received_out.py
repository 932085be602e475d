from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ReceivedOut")


@_attrs_define
class ReceivedOut:
    """
    Attributes:
        first_received_at (datetime.datetime):
        times_received (int):
        to (str):
        type_ (str):
        wa_message_id (str):
    """

    first_received_at: datetime.datetime
    times_received: int
    to: str
    type_: str
    wa_message_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        first_received_at = self.first_received_at.isoformat()

        times_received = self.times_received

        to = self.to

        type_ = self.type_

        wa_message_id = self.wa_message_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "first_received_at": first_received_at,
                "times_received": times_received,
                "to": to,
                "type": type_,
                "wa_message_id": wa_message_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        first_received_at = datetime.datetime.fromisoformat(d.pop("first_received_at"))

        times_received = d.pop("times_received")

        to = d.pop("to")

        type_ = d.pop("type")

        wa_message_id = d.pop("wa_message_id")

        received_out = cls(
            first_received_at=first_received_at,
            times_received=times_received,
            to=to,
            type_=type_,
            wa_message_id=wa_message_id,
        )

        received_out.additional_properties = d
        return received_out

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
