from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.group_event_request_action import GroupEventRequestAction
from ..types import UNSET, Unset

T = TypeVar("T", bound="GroupEventRequest")


@_attrs_define
class GroupEventRequest:
    """
    Attributes:
        action (GroupEventRequestAction):
        by (str): who makes the change: a member's phone number
        group (str): the group's JID (…@g.us)
        announce (bool | None | Unset):
        description (None | str | Unset):
        locked (bool | None | Unset):
        participants (list[str] | Unset): phone numbers (for add, remove, promote, demote)
        subject (None | str | Unset): for update (and for add of the account)
    """

    action: GroupEventRequestAction
    by: str
    group: str
    announce: bool | None | Unset = UNSET
    description: None | str | Unset = UNSET
    locked: bool | None | Unset = UNSET
    participants: list[str] | Unset = UNSET
    subject: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        by = self.by

        group = self.group

        announce: bool | None | Unset
        if isinstance(self.announce, Unset):
            announce = UNSET
        else:
            announce = self.announce

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        locked: bool | None | Unset
        if isinstance(self.locked, Unset):
            locked = UNSET
        else:
            locked = self.locked

        participants: list[str] | Unset = UNSET
        if not isinstance(self.participants, Unset):
            participants = self.participants

        subject: None | str | Unset
        if isinstance(self.subject, Unset):
            subject = UNSET
        else:
            subject = self.subject

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action": action,
                "by": by,
                "group": group,
            }
        )
        if announce is not UNSET:
            field_dict["announce"] = announce
        if description is not UNSET:
            field_dict["description"] = description
        if locked is not UNSET:
            field_dict["locked"] = locked
        if participants is not UNSET:
            field_dict["participants"] = participants
        if subject is not UNSET:
            field_dict["subject"] = subject

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = GroupEventRequestAction(d.pop("action"))

        by = d.pop("by")

        group = d.pop("group")

        def _parse_announce(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        announce = _parse_announce(d.pop("announce", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_locked(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        locked = _parse_locked(d.pop("locked", UNSET))

        participants = cast(list[str], d.pop("participants", UNSET))

        def _parse_subject(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subject = _parse_subject(d.pop("subject", UNSET))

        group_event_request = cls(
            action=action,
            by=by,
            group=group,
            announce=announce,
            description=description,
            locked=locked,
            participants=participants,
            subject=subject,
        )

        return group_event_request
