from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.call_request_outcome import CallRequestOutcome
from ..types import UNSET, Unset

T = TypeVar("T", bound="CallRequest")


@_attrs_define
class CallRequest:
    """
    Attributes:
        from_ (str): the caller's phone number
        outcome (CallRequestOutcome | Unset): how the ring ends unless the call policy rejects the call: missed (nobody
            answers), or accepted (the owner answers on the phone, then the call ends) Default: CallRequestOutcome.MISSED.
        video (bool | Unset):  Default: False.
    """

    from_: str
    outcome: CallRequestOutcome | Unset = CallRequestOutcome.MISSED
    video: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        outcome: str | Unset = UNSET
        if not isinstance(self.outcome, Unset):
            outcome = self.outcome.value

        video = self.video

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "from": from_,
            }
        )
        if outcome is not UNSET:
            field_dict["outcome"] = outcome
        if video is not UNSET:
            field_dict["video"] = video

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_ = d.pop("from")

        _outcome = d.pop("outcome", UNSET)
        outcome: CallRequestOutcome | Unset
        if isinstance(_outcome, Unset):
            outcome = UNSET
        else:
            outcome = CallRequestOutcome(_outcome)

        video = d.pop("video", UNSET)

        call_request = cls(
            from_=from_,
            outcome=outcome,
            video=video,
        )

        call_request.additional_properties = d
        return call_request

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
