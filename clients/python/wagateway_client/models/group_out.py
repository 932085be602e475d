from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.group_participant_out import GroupParticipantOut


T = TypeVar("T", bound="GroupOut")


@_attrs_define
class GroupOut:
    """
    Attributes:
        announce (bool): only admins send messages
        created_at (datetime.datetime | None):
        description (None | str):
        jid (str):
        locked (bool): only admins change the group's settings
        owner (None | str):
        participants (list[GroupParticipantOut]): every member, the account itself included
        subject (str):
    """

    announce: bool
    created_at: datetime.datetime | None
    description: None | str
    jid: str
    locked: bool
    owner: None | str
    participants: list[GroupParticipantOut]
    subject: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        announce = self.announce

        created_at: None | str
        if isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        description: None | str
        description = self.description

        jid = self.jid

        locked = self.locked

        owner: None | str
        owner = self.owner

        participants = []
        for participants_item_data in self.participants:
            participants_item = participants_item_data.to_dict()
            participants.append(participants_item)

        subject = self.subject

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "announce": announce,
                "created_at": created_at,
                "description": description,
                "jid": jid,
                "locked": locked,
                "owner": owner,
                "participants": participants,
                "subject": subject,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.group_participant_out import GroupParticipantOut  # noqa: PLC0415

        d = dict(src_dict)
        announce = d.pop("announce")

        def _parse_created_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                created_at_type_0 = datetime.datetime.fromisoformat(data)

                return created_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        created_at = _parse_created_at(d.pop("created_at"))

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        jid = d.pop("jid")

        locked = d.pop("locked")

        def _parse_owner(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        owner = _parse_owner(d.pop("owner"))

        participants = []
        _participants = d.pop("participants")
        for participants_item_data in _participants:
            participants_item = GroupParticipantOut.from_dict(participants_item_data)

            participants.append(participants_item)

        subject = d.pop("subject")

        group_out = cls(
            announce=announce,
            created_at=created_at,
            description=description,
            jid=jid,
            locked=locked,
            owner=owner,
            participants=participants,
            subject=subject,
        )

        group_out.additional_properties = d
        return group_out

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
