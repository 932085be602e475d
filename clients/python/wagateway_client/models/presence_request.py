from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.presence_request_state import PresenceRequestState

T = TypeVar("T", bound="PresenceRequest")


@_attrs_define
class PresenceRequest:
    """
    Attributes:
        state (PresenceRequestState):
    """

    state: PresenceRequestState

    def to_dict(self) -> dict[str, Any]:
        state = self.state.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "state": state,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        state = PresenceRequestState(d.pop("state"))

        presence_request = cls(
            state=state,
        )

        return presence_request
