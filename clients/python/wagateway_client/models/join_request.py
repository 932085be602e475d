from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="JoinRequest")


@_attrs_define
class JoinRequest:
    """
    Attributes:
        invite_link (str): https://chat.whatsapp.com/<code>, or the code alone
    """

    invite_link: str

    def to_dict(self) -> dict[str, Any]:
        invite_link = self.invite_link

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "invite_link": invite_link,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        invite_link = d.pop("invite_link")

        join_request = cls(
            invite_link=invite_link,
        )

        return join_request
