from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.blocked_contact import BlockedContact


T = TypeVar("T", bound="BlocklistOut")


@_attrs_define
class BlocklistOut:
    """
    Attributes:
        blocklist (list[BlockedContact]):
    """

    blocklist: list[BlockedContact]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        blocklist = []
        for blocklist_item_data in self.blocklist:
            blocklist_item = blocklist_item_data.to_dict()
            blocklist.append(blocklist_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "blocklist": blocklist,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.blocked_contact import BlockedContact  # noqa: PLC0415

        d = dict(src_dict)
        blocklist = []
        _blocklist = d.pop("blocklist")
        for blocklist_item_data in _blocklist:
            blocklist_item = BlockedContact.from_dict(blocklist_item_data)

            blocklist.append(blocklist_item)

        blocklist_out = cls(
            blocklist=blocklist,
        )

        blocklist_out.additional_properties = d
        return blocklist_out

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
