from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PacingUpdate")


@_attrs_define
class PacingUpdate:
    """Pacing overrides for an app or a device; fields left out (or null) are inherited.

    Attributes:
        daily_cap (int | None | Unset): 0 = no cap
        jitter (float | None | Unset):
        rate_per_second (float | None | Unset): 0 = unpaced
        typing_seconds (float | None | Unset):
    """

    daily_cap: int | None | Unset = UNSET
    jitter: float | None | Unset = UNSET
    rate_per_second: float | None | Unset = UNSET
    typing_seconds: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        daily_cap: int | None | Unset
        if isinstance(self.daily_cap, Unset):
            daily_cap = UNSET
        else:
            daily_cap = self.daily_cap

        jitter: float | None | Unset
        if isinstance(self.jitter, Unset):
            jitter = UNSET
        else:
            jitter = self.jitter

        rate_per_second: float | None | Unset
        if isinstance(self.rate_per_second, Unset):
            rate_per_second = UNSET
        else:
            rate_per_second = self.rate_per_second

        typing_seconds: float | None | Unset
        if isinstance(self.typing_seconds, Unset):
            typing_seconds = UNSET
        else:
            typing_seconds = self.typing_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if daily_cap is not UNSET:
            field_dict["daily_cap"] = daily_cap
        if jitter is not UNSET:
            field_dict["jitter"] = jitter
        if rate_per_second is not UNSET:
            field_dict["rate_per_second"] = rate_per_second
        if typing_seconds is not UNSET:
            field_dict["typing_seconds"] = typing_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_daily_cap(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        daily_cap = _parse_daily_cap(d.pop("daily_cap", UNSET))

        def _parse_jitter(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        jitter = _parse_jitter(d.pop("jitter", UNSET))

        def _parse_rate_per_second(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        rate_per_second = _parse_rate_per_second(d.pop("rate_per_second", UNSET))

        def _parse_typing_seconds(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        typing_seconds = _parse_typing_seconds(d.pop("typing_seconds", UNSET))

        pacing_update = cls(
            daily_cap=daily_cap,
            jitter=jitter,
            rate_per_second=rate_per_second,
            typing_seconds=typing_seconds,
        )

        pacing_update.additional_properties = d
        return pacing_update

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
