from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="LimitsOut")


@_attrs_define
class LimitsOut:
    """What applies to the app now (defaults and overrides resolved).

    Attributes:
        burst (int):
        device_burst (int):
        device_requests_per_second (float):
        max_devices (int | None): device quota; null = none
        requests_per_second (float):
    """

    burst: int
    device_burst: int
    device_requests_per_second: float
    max_devices: int | None
    requests_per_second: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        burst = self.burst

        device_burst = self.device_burst

        device_requests_per_second = self.device_requests_per_second

        max_devices: int | None
        max_devices = self.max_devices

        requests_per_second = self.requests_per_second

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "burst": burst,
                "device_burst": device_burst,
                "device_requests_per_second": device_requests_per_second,
                "max_devices": max_devices,
                "requests_per_second": requests_per_second,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        burst = d.pop("burst")

        device_burst = d.pop("device_burst")

        device_requests_per_second = d.pop("device_requests_per_second")

        def _parse_max_devices(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        max_devices = _parse_max_devices(d.pop("max_devices"))

        requests_per_second = d.pop("requests_per_second")

        limits_out = cls(
            burst=burst,
            device_burst=device_burst,
            device_requests_per_second=device_requests_per_second,
            max_devices=max_devices,
            requests_per_second=requests_per_second,
        )

        limits_out.additional_properties = d
        return limits_out

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
