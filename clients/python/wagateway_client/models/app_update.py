from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.app_update_presence_mode_type_0 import AppUpdatePresenceModeType0
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.call_policy_in import CallPolicyIn
    from ..models.pacing_update import PacingUpdate


T = TypeVar("T", bound="AppUpdate")


@_attrs_define
class AppUpdate:
    """
    Attributes:
        call_policy (CallPolicyIn | None | Unset): reject calls (`reject: true`) and answer the caller with
            `reply_text`; null clears it (calls are only reported)
        domain_url (None | str | Unset):
        name (None | str | Unset):
        pacing (None | PacingUpdate | Unset): send pacing defaults for its devices
        presence_mode (AppUpdatePresenceModeType0 | None | Unset): on_demand (the default) or always_online; null clears
            it
        webhook_url (None | str | Unset):
    """

    call_policy: CallPolicyIn | None | Unset = UNSET
    domain_url: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    pacing: None | PacingUpdate | Unset = UNSET
    presence_mode: AppUpdatePresenceModeType0 | None | Unset = UNSET
    webhook_url: None | str | Unset = UNSET
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

        domain_url: None | str | Unset
        if isinstance(self.domain_url, Unset):
            domain_url = UNSET
        else:
            domain_url = self.domain_url

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

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
        elif isinstance(self.presence_mode, AppUpdatePresenceModeType0):
            presence_mode = self.presence_mode.value
        else:
            presence_mode = self.presence_mode

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if call_policy is not UNSET:
            field_dict["call_policy"] = call_policy
        if domain_url is not UNSET:
            field_dict["domain_url"] = domain_url
        if name is not UNSET:
            field_dict["name"] = name
        if pacing is not UNSET:
            field_dict["pacing"] = pacing
        if presence_mode is not UNSET:
            field_dict["presence_mode"] = presence_mode
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

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

        def _parse_domain_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        domain_url = _parse_domain_url(d.pop("domain_url", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

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

        def _parse_presence_mode(data: object) -> AppUpdatePresenceModeType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                presence_mode_type_0 = AppUpdatePresenceModeType0(data)

                return presence_mode_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AppUpdatePresenceModeType0 | None | Unset, data)

        presence_mode = _parse_presence_mode(d.pop("presence_mode", UNSET))

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))

        app_update = cls(
            call_policy=call_policy,
            domain_url=domain_url,
            name=name,
            pacing=pacing,
            presence_mode=presence_mode,
            webhook_url=webhook_url,
        )

        app_update.additional_properties = d
        return app_update

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
