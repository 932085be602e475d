from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.device_update_presence_mode_type_0 import DeviceUpdatePresenceModeType0
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.call_policy_in import CallPolicyIn
    from ..models.pacing_update import PacingUpdate


T = TypeVar("T", bound="DeviceUpdate")


@_attrs_define
class DeviceUpdate:
    """
    Attributes:
        call_policy (CallPolicyIn | None | Unset): this device's call policy; null: the app's applies
        device_name (None | str | Unset):
        history_sync (bool | None | Unset): import the chats and messages WhatsApp sends at linking (stored with source
            "history", `history_sync` events report progress); set before the device links, it applies to that link, else
            from the next one
        pacing (None | PacingUpdate | Unset): send pacing overrides; fields left out inherit the app's
        presence_mode (DeviceUpdatePresenceModeType0 | None | Unset): on_demand (online only while acting) or
            always_online; null: the app's
    """

    call_policy: CallPolicyIn | None | Unset = UNSET
    device_name: None | str | Unset = UNSET
    history_sync: bool | None | Unset = UNSET
    pacing: None | PacingUpdate | Unset = UNSET
    presence_mode: DeviceUpdatePresenceModeType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.call_policy_in import CallPolicyIn  # noqa: PLC0415
        from ..models.pacing_update import PacingUpdate  # noqa: PLC0415

        call_policy: dict[str, Any] | None | Unset
        if isinstance(self.call_policy, Unset):
            call_policy = UNSET
        elif isinstance(self.call_policy, CallPolicyIn):
            call_policy = self.call_policy.to_dict()
        else:
            call_policy = self.call_policy

        device_name: None | str | Unset
        if isinstance(self.device_name, Unset):
            device_name = UNSET
        else:
            device_name = self.device_name

        history_sync: bool | None | Unset
        if isinstance(self.history_sync, Unset):
            history_sync = UNSET
        else:
            history_sync = self.history_sync

        pacing: dict[str, Any] | None | Unset
        if isinstance(self.pacing, Unset):
            pacing = UNSET
        elif isinstance(self.pacing, PacingUpdate):
            pacing = self.pacing.to_dict()
        else:
            pacing = self.pacing

        presence_mode: None | str | Unset
        if isinstance(self.presence_mode, Unset):
            presence_mode = UNSET
        elif isinstance(self.presence_mode, DeviceUpdatePresenceModeType0):
            presence_mode = self.presence_mode.value
        else:
            presence_mode = self.presence_mode

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if call_policy is not UNSET:
            field_dict["call_policy"] = call_policy
        if device_name is not UNSET:
            field_dict["device_name"] = device_name
        if history_sync is not UNSET:
            field_dict["history_sync"] = history_sync
        if pacing is not UNSET:
            field_dict["pacing"] = pacing
        if presence_mode is not UNSET:
            field_dict["presence_mode"] = presence_mode

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.call_policy_in import CallPolicyIn  # noqa: PLC0415
        from ..models.pacing_update import PacingUpdate  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_call_policy(data: object) -> CallPolicyIn | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                call_policy_type_0 = CallPolicyIn.from_dict(data)

                return call_policy_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CallPolicyIn | None | Unset, data)

        call_policy = _parse_call_policy(d.pop("call_policy", UNSET))

        def _parse_device_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        device_name = _parse_device_name(d.pop("device_name", UNSET))

        def _parse_history_sync(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        history_sync = _parse_history_sync(d.pop("history_sync", UNSET))

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

        def _parse_presence_mode(data: object) -> DeviceUpdatePresenceModeType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                presence_mode_type_0 = DeviceUpdatePresenceModeType0(data)

                return presence_mode_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeviceUpdatePresenceModeType0 | None | Unset, data)

        presence_mode = _parse_presence_mode(d.pop("presence_mode", UNSET))

        device_update = cls(
            call_policy=call_policy,
            device_name=device_name,
            history_sync=history_sync,
            pacing=pacing,
            presence_mode=presence_mode,
        )

        device_update.additional_properties = d
        return device_update

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
