from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ContactCheckOut")


@_attrs_define
class ContactCheckOut:
    """
    Attributes:
        jid (None | str):
        lid (None | str):
        on_whatsapp (bool):
        phone (str):
    """

    jid: None | str
    lid: None | str
    on_whatsapp: bool
    phone: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        jid: None | str
        jid = self.jid

        lid: None | str
        lid = self.lid

        on_whatsapp = self.on_whatsapp

        phone = self.phone

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "jid": jid,
                "lid": lid,
                "on_whatsapp": on_whatsapp,
                "phone": phone,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_jid(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        jid = _parse_jid(d.pop("jid"))

        def _parse_lid(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        lid = _parse_lid(d.pop("lid"))

        on_whatsapp = d.pop("on_whatsapp")

        phone = d.pop("phone")

        contact_check_out = cls(
            jid=jid,
            lid=lid,
            on_whatsapp=on_whatsapp,
            phone=phone,
        )

        contact_check_out.additional_properties = d
        return contact_check_out

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
