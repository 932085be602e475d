from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="GroupCreate")


@_attrs_define
class GroupCreate:
    """
    Attributes:
        subject (str):
        participants (list[str] | Unset): phone numbers or JIDs, as a message's `to`
    """

    subject: str
    participants: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        subject = self.subject

        participants: list[str] | Unset = UNSET
        if not isinstance(self.participants, Unset):
            participants = self.participants

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "subject": subject,
            }
        )
        if participants is not UNSET:
            field_dict["participants"] = participants

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        subject = d.pop("subject")

        participants = cast(list[str], d.pop("participants", UNSET))

        group_create = cls(
            subject=subject,
            participants=participants,
        )

        return group_create
