from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pacing_update import PacingUpdate


T = TypeVar("T", bound="DeviceCreate")


@_attrs_define
class DeviceCreate:
    """
    Attributes:
        device_name (str): unique among the app's devices that are not destroyed
        history_sync (bool | Unset): import the chats and messages WhatsApp sends at linking (stored with source
            "history", `history_sync` events report progress); set before the device links, it applies to that link, else
            from the next one Default: False.
        pacing (None | PacingUpdate | Unset): send pacing overrides for this device
    """

    device_name: str
    history_sync: bool | Unset = False
    pacing: None | PacingUpdate | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.pacing_update import PacingUpdate  # noqa: PLC0415

        device_name = self.device_name

        history_sync = self.history_sync

        pacing: dict[str, Any] | None | Unset
        if isinstance(self.pacing, Unset):
            pacing = UNSET
        elif isinstance(self.pacing, PacingUpdate):
            pacing = self.pacing.to_dict()
        else:
            pacing = self.pacing

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "device_name": device_name,
            }
        )
        if history_sync is not UNSET:
            field_dict["history_sync"] = history_sync
        if pacing is not UNSET:
            field_dict["pacing"] = pacing

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pacing_update import PacingUpdate  # noqa: PLC0415

        d = dict(src_dict)
        device_name = d.pop("device_name")

        history_sync = d.pop("history_sync", UNSET)

        def _parse_pacing(data: object) -> None | PacingUpdate | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pacing_type_0 = PacingUpdate.from_dict(data)

                return pacing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PacingUpdate | Unset, data)

        pacing = _parse_pacing(d.pop("pacing", UNSET))

        device_create = cls(
            device_name=device_name,
            history_sync=history_sync,
            pacing=pacing,
        )

        device_create.additional_properties = d
        return device_create

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
