from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.participants_request_action import ParticipantsRequestAction

T = TypeVar("T", bound="ParticipantsRequest")


@_attrs_define
class ParticipantsRequest:
    """
    Attributes:
        action (ParticipantsRequestAction):
        participants (list[str]): phone numbers or JIDs, as a message's `to`
    """

    action: ParticipantsRequestAction
    participants: list[str]

    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        participants = self.participants

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "participants": participants,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = ParticipantsRequestAction(d.pop("action"))

        participants = cast(list[str], d.pop("participants"))

        participants_request = cls(
            action=action,
            participants=participants,
        )

        return participants_request
