from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.app_out_call_policy_type_0 import AppOutCallPolicyType0
    from ..models.app_out_pacing_type_0 import AppOutPacingType0
    from ..models.limits_out import LimitsOut


T = TypeVar("T", bound="AppOut")


@_attrs_define
class AppOut:
    """
    Attributes:
        app_id (str):
        call_policy (AppOutCallPolicyType0 | None): what happens to calls to the app's devices (`reject`, `reply_text`);
            null: calls are only reported. A device's own policy wins
        created_at (datetime.datetime):
        domain_url (str):
        egress_addresses (list[str]): the addresses webhooks and media fetches come from, for receivers that filter by
            source (the server's WAGW_EGRESS_ADDRESSES; empty when not published)
        engine (str):
        limits (LimitsOut): What applies to the app now (defaults and overrides resolved).
        name (str):
        pacing (AppOutPacingType0 | None):
        presence_mode (None | str): on_demand or always_online; null: the default, on_demand. A device's own mode wins
        updated_at (datetime.datetime):
        webhook_url (str):
    """

    app_id: str
    call_policy: AppOutCallPolicyType0 | None
    created_at: datetime.datetime
    domain_url: str
    egress_addresses: list[str]
    engine: str
    limits: LimitsOut
    name: str
    pacing: AppOutPacingType0 | None
    presence_mode: None | str
    updated_at: datetime.datetime
    webhook_url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.app_out_call_policy_type_0 import AppOutCallPolicyType0  # noqa: PLC0415
        from ..models.app_out_pacing_type_0 import AppOutPacingType0  # noqa: PLC0415

        app_id = self.app_id

        call_policy: dict[str, Any] | None
        if isinstance(self.call_policy, AppOutCallPolicyType0):
            call_policy = self.call_policy.to_dict()
        else:
            call_policy = self.call_policy

        created_at = self.created_at.isoformat()

        domain_url = self.domain_url

        egress_addresses = self.egress_addresses

        engine = self.engine

        limits = self.limits.to_dict()

        name = self.name

        pacing: dict[str, Any] | None
        if isinstance(self.pacing, AppOutPacingType0):
            pacing = self.pacing.to_dict()
        else:
            pacing = self.pacing

        presence_mode: None | str
        presence_mode = self.presence_mode

        updated_at = self.updated_at.isoformat()

        webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "app_id": app_id,
                "call_policy": call_policy,
                "created_at": created_at,
                "domain_url": domain_url,
                "egress_addresses": egress_addresses,
                "engine": engine,
                "limits": limits,
                "name": name,
                "pacing": pacing,
                "presence_mode": presence_mode,
                "updated_at": updated_at,
                "webhook_url": webhook_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.app_out_call_policy_type_0 import AppOutCallPolicyType0  # noqa: PLC0415
        from ..models.app_out_pacing_type_0 import AppOutPacingType0  # noqa: PLC0415
        from ..models.limits_out import LimitsOut  # noqa: PLC0415

        d = dict(src_dict)
        app_id = d.pop("app_id")

        def _parse_call_policy(data: object) -> AppOutCallPolicyType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                call_policy_type_0 = AppOutCallPolicyType0.from_dict(data)

                return call_policy_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AppOutCallPolicyType0 | None, data)

        call_policy = _parse_call_policy(d.pop("call_policy"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        domain_url = d.pop("domain_url")

        egress_addresses = cast(list[str], d.pop("egress_addresses"))

        engine = d.pop("engine")

        limits = LimitsOut.from_dict(d.pop("limits"))

        name = d.pop("name")

        def _parse_pacing(data: object) -> AppOutPacingType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pacing_type_0 = AppOutPacingType0.from_dict(data)

                return pacing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AppOutPacingType0 | None, data)

        pacing = _parse_pacing(d.pop("pacing"))

        def _parse_presence_mode(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        presence_mode = _parse_presence_mode(d.pop("presence_mode"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        webhook_url = d.pop("webhook_url")

        app_out = cls(
            app_id=app_id,
            call_policy=call_policy,
            created_at=created_at,
            domain_url=domain_url,
            egress_addresses=egress_addresses,
            engine=engine,
            limits=limits,
            name=name,
            pacing=pacing,
            presence_mode=presence_mode,
            updated_at=updated_at,
            webhook_url=webhook_url,
        )

        app_out.additional_properties = d
        return app_out

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
