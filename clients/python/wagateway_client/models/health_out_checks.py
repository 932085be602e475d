from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.health_out_checks_additional_property import HealthOutChecksAdditionalProperty


T = TypeVar("T", bound="HealthOutChecks")


@_attrs_define
class HealthOutChecks:
    """by part (`database`, `engine:<name>`, the background workers): `ok`, and more only for callers `/metrics` admits"""

    additional_properties: dict[str, HealthOutChecksAdditionalProperty] = _attrs_field(
        init=False, factory=dict
    )

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            field_dict[prop_name] = prop.to_dict()

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_out_checks_additional_property import HealthOutChecksAdditionalProperty  # noqa: PLC0415

        d = dict(src_dict)
        health_out_checks = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = HealthOutChecksAdditionalProperty.from_dict(prop_dict)

            additional_properties[prop_name] = additional_property

        health_out_checks.additional_properties = additional_properties
        return health_out_checks

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> HealthOutChecksAdditionalProperty:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: HealthOutChecksAdditionalProperty) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
