from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.chat_presence_request_state import ChatPresenceRequestState

T = TypeVar("T", bound="ChatPresenceRequest")


@_attrs_define
class ChatPresenceRequest:
    """
    Attributes:
        state (ChatPresenceRequestState): "typing…", "recording audio…", or `paused` to clear either
    """

    state: ChatPresenceRequestState

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
        state = ChatPresenceRequestState(d.pop("state"))

        chat_presence_request = cls(
            state=state,
        )

        return chat_presence_request
