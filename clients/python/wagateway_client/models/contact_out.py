from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ContactOut")


@_attrs_define
class ContactOut:
    """
    Attributes:
        business_name (None | str):
        jid (str):
        lid (None | str):
        name (None | str): the name the phone's address book gives it
        phone (None | str):
        push_name (None | str): the name the contact chose for itself
    """

    business_name: None | str
    jid: str
    lid: None | str
    name: None | str
    phone: None | str
    push_name: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        business_name: None | str
        business_name = self.business_name

        jid = self.jid

        lid: None | str
        lid = self.lid

        name: None | str
        name = self.name

        phone: None | str
        phone = self.phone

        push_name: None | str
        push_name = self.push_name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "business_name": business_name,
                "jid": jid,
                "lid": lid,
                "name": name,
                "phone": phone,
                "push_name": push_name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_business_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        business_name = _parse_business_name(d.pop("business_name"))

        jid = d.pop("jid")

        def _parse_lid(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        lid = _parse_lid(d.pop("lid"))

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        def _parse_phone(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        phone = _parse_phone(d.pop("phone"))

        def _parse_push_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        push_name = _parse_push_name(d.pop("push_name"))

        contact_out = cls(
            business_name=business_name,
            jid=jid,
            lid=lid,
            name=name,
            phone=phone,
            push_name=push_name,
        )

        contact_out.additional_properties = d
        return contact_out

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
