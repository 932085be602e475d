from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="EndpointCreated")


@_attrs_define
class EndpointCreated:
    """
    Attributes:
        created_at (datetime.datetime):
        description (str):
        device_ids (list[str]): devices whose events it gets; empty: every device (events of no device always pass)
        enabled (bool):
        endpoint_id (str): "default" is the app's webhook_url
        events (list[str]): event names delivered to it; empty: every event
        previous_secret_valid_until (datetime.datetime | None): during a secret rotation, until when the previous secret
            signs too
        secret (str): whsec_…; shown this once (rotate it for a new one)
        updated_at (datetime.datetime):
        url (str):
    """

    created_at: datetime.datetime
    description: str
    device_ids: list[str]
    enabled: bool
    endpoint_id: str
    events: list[str]
    previous_secret_valid_until: datetime.datetime | None
    secret: str
    updated_at: datetime.datetime
    url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        description = self.description

        device_ids = self.device_ids

        enabled = self.enabled

        endpoint_id = self.endpoint_id

        events = self.events

        previous_secret_valid_until: None | str
        if isinstance(self.previous_secret_valid_until, datetime.datetime):
            previous_secret_valid_until = self.previous_secret_valid_until.isoformat()
        else:
            previous_secret_valid_until = self.previous_secret_valid_until

        secret = self.secret

        updated_at = self.updated_at.isoformat()

        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "description": description,
                "device_ids": device_ids,
                "enabled": enabled,
                "endpoint_id": endpoint_id,
                "events": events,
                "previous_secret_valid_until": previous_secret_valid_until,
                "secret": secret,
                "updated_at": updated_at,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        device_ids = cast(list[str], d.pop("device_ids"))

        enabled = d.pop("enabled")

        endpoint_id = d.pop("endpoint_id")

        events = cast(list[str], d.pop("events"))

        def _parse_previous_secret_valid_until(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                previous_secret_valid_until_type_0 = datetime.datetime.fromisoformat(data)

                return previous_secret_valid_until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        previous_secret_valid_until = _parse_previous_secret_valid_until(
            d.pop("previous_secret_valid_until")
        )

        secret = d.pop("secret")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        url = d.pop("url")

        endpoint_created = cls(
            created_at=created_at,
            description=description,
            device_ids=device_ids,
            enabled=enabled,
            endpoint_id=endpoint_id,
            events=events,
            previous_secret_valid_until=previous_secret_valid_until,
            secret=secret,
            updated_at=updated_at,
            url=url,
        )

        endpoint_created.additional_properties = d
        return endpoint_created

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
