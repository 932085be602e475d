from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.health_out_status import HealthOutStatus

if TYPE_CHECKING:
    from ..models.health_out_checks import HealthOutChecks


T = TypeVar("T", bound="HealthOut")


@_attrs_define
class HealthOut:
    """
    Attributes:
        checks (HealthOutChecks): by part (`database`, `engine:<name>`, the background workers): `ok`, and more only for
            callers `/metrics` admits
        restoring (bool): the node started moments ago and is still bringing its devices up from their stored sessions;
            it answers calls meanwhile
        status (HealthOutStatus):
    """

    checks: HealthOutChecks
    restoring: bool
    status: HealthOutStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checks = self.checks.to_dict()

        restoring = self.restoring

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checks": checks,
                "restoring": restoring,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_out_checks import HealthOutChecks  # noqa: PLC0415

        d = dict(src_dict)
        checks = HealthOutChecks.from_dict(d.pop("checks"))

        restoring = d.pop("restoring")

        status = HealthOutStatus(d.pop("status"))

        health_out = cls(
            checks=checks,
            restoring=restoring,
            status=status,
        )

        health_out.additional_properties = d
        return health_out

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
