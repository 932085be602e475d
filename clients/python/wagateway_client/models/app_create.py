from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.app_create_engine import AppCreateEngine
from ..types import UNSET, Unset

T = TypeVar("T", bound="AppCreate")


@_attrs_define
class AppCreate:
    """What `wagateway apps create` takes.

    Attributes:
        name (str):
        domain_url (str | Unset): the base URL for a relative webhook path Default: ''.
        engine (AppCreateEngine | Unset):  Default: AppCreateEngine.SANDBOX.
        rotation_pin (None | str | Unset): a PIN that rotating the token then needs
        webhook_url (str | Unset): an http(s) URL, a /path joined to domain_url, or '' Default: ''.
    """

    name: str
    domain_url: str | Unset = ""
    engine: AppCreateEngine | Unset = AppCreateEngine.SANDBOX
    rotation_pin: None | str | Unset = UNSET
    webhook_url: str | Unset = ""
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        domain_url = self.domain_url

        engine: str | Unset = UNSET
        if not isinstance(self.engine, Unset):
            engine = self.engine.value

        rotation_pin: None | str | Unset
        if isinstance(self.rotation_pin, Unset):
            rotation_pin = UNSET
        else:
            rotation_pin = self.rotation_pin

        webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
            }
        )
        if domain_url is not UNSET:
            field_dict["domain_url"] = domain_url
        if engine is not UNSET:
            field_dict["engine"] = engine
        if rotation_pin is not UNSET:
            field_dict["rotation_pin"] = rotation_pin
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        domain_url = d.pop("domain_url", UNSET)

        _engine = d.pop("engine", UNSET)
        engine: AppCreateEngine | Unset
        if isinstance(_engine, Unset):
            engine = UNSET
        else:
            engine = AppCreateEngine(_engine)

        def _parse_rotation_pin(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        rotation_pin = _parse_rotation_pin(d.pop("rotation_pin", UNSET))

        webhook_url = d.pop("webhook_url", UNSET)

        app_create = cls(
            name=name,
            domain_url=domain_url,
            engine=engine,
            rotation_pin=rotation_pin,
            webhook_url=webhook_url,
        )

        app_create.additional_properties = d
        return app_create

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
