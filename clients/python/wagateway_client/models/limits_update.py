from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="LimitsUpdate")


@_attrs_define
class LimitsUpdate:
    """What `wagateway apps set-limits` takes.

    Attributes:
        burst (int | None | Unset):
        device_burst (int | None | Unset):
        device_requests_per_second (float | None | Unset): 0 = none
        max_devices (int | None | Unset): device quota: 0 = none, -1 = the server's default
        requests_per_second (float | None | Unset): 0 = no app limit
        reset (bool | Unset): start again from the server's defaults Default: False.
    """

    burst: int | None | Unset = UNSET
    device_burst: int | None | Unset = UNSET
    device_requests_per_second: float | None | Unset = UNSET
    max_devices: int | None | Unset = UNSET
    requests_per_second: float | None | Unset = UNSET
    reset: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        burst: int | None | Unset
        if isinstance(self.burst, Unset):
            burst = UNSET
        else:
            burst = self.burst

        device_burst: int | None | Unset
        if isinstance(self.device_burst, Unset):
            device_burst = UNSET
        else:
            device_burst = self.device_burst

        device_requests_per_second: float | None | Unset
        if isinstance(self.device_requests_per_second, Unset):
            device_requests_per_second = UNSET
        else:
            device_requests_per_second = self.device_requests_per_second

        max_devices: int | None | Unset
        if isinstance(self.max_devices, Unset):
            max_devices = UNSET
        else:
            max_devices = self.max_devices

        requests_per_second: float | None | Unset
        if isinstance(self.requests_per_second, Unset):
            requests_per_second = UNSET
        else:
            requests_per_second = self.requests_per_second

        reset = self.reset

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if burst is not UNSET:
            field_dict["burst"] = burst
        if device_burst is not UNSET:
            field_dict["device_burst"] = device_burst
        if device_requests_per_second is not UNSET:
            field_dict["device_requests_per_second"] = device_requests_per_second
        if max_devices is not UNSET:
            field_dict["max_devices"] = max_devices
        if requests_per_second is not UNSET:
            field_dict["requests_per_second"] = requests_per_second
        if reset is not UNSET:
            field_dict["reset"] = reset

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_burst(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        burst = _parse_burst(d.pop("burst", UNSET))

        def _parse_device_burst(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        device_burst = _parse_device_burst(d.pop("device_burst", UNSET))

        def _parse_device_requests_per_second(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        device_requests_per_second = _parse_device_requests_per_second(
            d.pop("device_requests_per_second", UNSET)
        )

        def _parse_max_devices(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_devices = _parse_max_devices(d.pop("max_devices", UNSET))

        def _parse_requests_per_second(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        requests_per_second = _parse_requests_per_second(d.pop("requests_per_second", UNSET))

        reset = d.pop("reset", UNSET)

        limits_update = cls(
            burst=burst,
            device_burst=device_burst,
            device_requests_per_second=device_requests_per_second,
            max_devices=max_devices,
            requests_per_second=requests_per_second,
            reset=reset,
        )

        limits_update.additional_properties = d
        return limits_update

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
