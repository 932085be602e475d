from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.send_accepted_error_type_0 import SendAcceptedErrorType0


T = TypeVar("T", bound="SendAccepted")


@_attrs_define
class SendAccepted:
    """
    Attributes:
        created_at (datetime.datetime):
        device_id (str):
        message_id (str):
        status (str):
        to (str):
        type_ (str):
        error (None | SendAcceptedErrorType0 | Unset):
        wa_message_id (None | str | Unset):
    """

    created_at: datetime.datetime
    device_id: str
    message_id: str
    status: str
    to: str
    type_: str
    error: None | SendAcceptedErrorType0 | Unset = UNSET
    wa_message_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.send_accepted_error_type_0 import SendAcceptedErrorType0  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        device_id = self.device_id

        message_id = self.message_id

        status = self.status

        to = self.to

        type_ = self.type_

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, SendAcceptedErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        wa_message_id: None | str | Unset
        if isinstance(self.wa_message_id, Unset):
            wa_message_id = UNSET
        else:
            wa_message_id = self.wa_message_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "device_id": device_id,
                "message_id": message_id,
                "status": status,
                "to": to,
                "type": type_,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if wa_message_id is not UNSET:
            field_dict["wa_message_id"] = wa_message_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.send_accepted_error_type_0 import SendAcceptedErrorType0  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        device_id = d.pop("device_id")

        message_id = d.pop("message_id")

        status = d.pop("status")

        to = d.pop("to")

        type_ = d.pop("type")

        def _parse_error(data: object) -> None | SendAcceptedErrorType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = SendAcceptedErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendAcceptedErrorType0 | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_wa_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        wa_message_id = _parse_wa_message_id(d.pop("wa_message_id", UNSET))

        send_accepted = cls(
            created_at=created_at,
            device_id=device_id,
            message_id=message_id,
            status=status,
            to=to,
            type_=type_,
            error=error,
            wa_message_id=wa_message_id,
        )

        send_accepted.additional_properties = d
        return send_accepted

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
