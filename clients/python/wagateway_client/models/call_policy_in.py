from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="CallPolicyIn")


@_attrs_define
class CallPolicyIn:
    """What happens to calls to the account (CONTRACT §8.2).

    Attributes:
        reject (bool): reject every incoming call
        reply_text (None | str | Unset): sent to a rejected caller as an ordinary queued text (`source: auto`); needs
            reject: true
    """

    reject: bool
    reply_text: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        reject = self.reject

        reply_text: None | str | Unset
        if isinstance(self.reply_text, Unset):
            reply_text = UNSET
        else:
            reply_text = self.reply_text

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "reject": reject,
            }
        )
        if reply_text is not UNSET:
            field_dict["reply_text"] = reply_text

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reject = d.pop("reject")

        def _parse_reply_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_text = _parse_reply_text(d.pop("reply_text", UNSET))

        call_policy_in = cls(
            reject=reject,
            reply_text=reply_text,
        )

        return call_policy_in
