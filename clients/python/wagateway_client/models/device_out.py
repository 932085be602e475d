from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.device_out_call_policy_type_0 import DeviceOutCallPolicyType0
    from ..models.device_out_pacing_type_0 import DeviceOutPacingType0


T = TypeVar("T", bound="DeviceOut")


@_attrs_define
class DeviceOut:
    """
    Attributes:
        app_id (str):
        connection (str):
        created_at (datetime.datetime):
        device_id (str):
        device_name (str):
        engine (str):
        last_error (None | str):
        linked_at (datetime.datetime | None):
        pacing (DeviceOutPacingType0 | None):
        pairing_code (None | str):
        qr (None | str):
        qr_expires_at (datetime.datetime | None):
        qr_image (None | str):
        status (str):
        updated_at (datetime.datetime):
        wa_device_jid (None | str):
        wa_number (None | str):
        call_policy (DeviceOutCallPolicyType0 | None | Unset): this device's own call policy (`reject`, `reply_text`);
            null when it follows the app's (GET /app)
        history_sync (bool | Unset): import the chats and messages WhatsApp sends at linking (stored with source
            "history", `history_sync` events report progress); set before the device links, it applies to that link, else
            from the next one Default: False.
        presence_mode (None | str | Unset): this device's own presence mode; null when it follows the app's
    """

    app_id: str
    connection: str
    created_at: datetime.datetime
    device_id: str
    device_name: str
    engine: str
    last_error: None | str
    linked_at: datetime.datetime | None
    pacing: DeviceOutPacingType0 | None
    pairing_code: None | str
    qr: None | str
    qr_expires_at: datetime.datetime | None
    qr_image: None | str
    status: str
    updated_at: datetime.datetime
    wa_device_jid: None | str
    wa_number: None | str
    call_policy: DeviceOutCallPolicyType0 | None | Unset = UNSET
    history_sync: bool | Unset = False
    presence_mode: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.device_out_call_policy_type_0 import DeviceOutCallPolicyType0  # noqa: PLC0415
        from ..models.device_out_pacing_type_0 import DeviceOutPacingType0  # noqa: PLC0415

        app_id = self.app_id

        connection = self.connection

        created_at = self.created_at.isoformat()

        device_id = self.device_id

        device_name = self.device_name

        engine = self.engine

        last_error: None | str
        last_error = self.last_error

        linked_at: None | str
        if isinstance(self.linked_at, datetime.datetime):
            linked_at = self.linked_at.isoformat()
        else:
            linked_at = self.linked_at

        pacing: dict[str, Any] | None
        if isinstance(self.pacing, DeviceOutPacingType0):
            pacing = self.pacing.to_dict()
        else:
            pacing = self.pacing

        pairing_code: None | str
        pairing_code = self.pairing_code

        qr: None | str
        qr = self.qr

        qr_expires_at: None | str
        if isinstance(self.qr_expires_at, datetime.datetime):
            qr_expires_at = self.qr_expires_at.isoformat()
        else:
            qr_expires_at = self.qr_expires_at

        qr_image: None | str
        qr_image = self.qr_image

        status = self.status

        updated_at = self.updated_at.isoformat()

        wa_device_jid: None | str
        wa_device_jid = self.wa_device_jid

        wa_number: None | str
        wa_number = self.wa_number

        call_policy: dict[str, Any] | None | Unset
        if isinstance(self.call_policy, Unset):
            call_policy = UNSET
        elif isinstance(self.call_policy, DeviceOutCallPolicyType0):
            call_policy = self.call_policy.to_dict()
        else:
            call_policy = self.call_policy

        history_sync = self.history_sync

        presence_mode: None | str | Unset
        if isinstance(self.presence_mode, Unset):
            presence_mode = UNSET
        else:
            presence_mode = self.presence_mode

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "app_id": app_id,
                "connection": connection,
                "created_at": created_at,
                "device_id": device_id,
                "device_name": device_name,
                "engine": engine,
                "last_error": last_error,
                "linked_at": linked_at,
                "pacing": pacing,
                "pairing_code": pairing_code,
                "qr": qr,
                "qr_expires_at": qr_expires_at,
                "qr_image": qr_image,
                "status": status,
                "updated_at": updated_at,
                "wa_device_jid": wa_device_jid,
                "wa_number": wa_number,
            }
        )
        if call_policy is not UNSET:
            field_dict["call_policy"] = call_policy
        if history_sync is not UNSET:
            field_dict["history_sync"] = history_sync
        if presence_mode is not UNSET:
            field_dict["presence_mode"] = presence_mode

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.device_out_call_policy_type_0 import DeviceOutCallPolicyType0  # noqa: PLC0415
        from ..models.device_out_pacing_type_0 import DeviceOutPacingType0  # noqa: PLC0415

        d = dict(src_dict)
        app_id = d.pop("app_id")

        connection = d.pop("connection")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        device_id = d.pop("device_id")

        device_name = d.pop("device_name")

        engine = d.pop("engine")

        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("last_error"))

        def _parse_linked_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                linked_at_type_0 = datetime.datetime.fromisoformat(data)

                return linked_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        linked_at = _parse_linked_at(d.pop("linked_at"))

        def _parse_pacing(data: object) -> DeviceOutPacingType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pacing_type_0 = DeviceOutPacingType0.from_dict(data)

                return pacing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeviceOutPacingType0 | None, data)

        pacing = _parse_pacing(d.pop("pacing"))

        def _parse_pairing_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        pairing_code = _parse_pairing_code(d.pop("pairing_code"))

        def _parse_qr(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        qr = _parse_qr(d.pop("qr"))

        def _parse_qr_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                qr_expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return qr_expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        qr_expires_at = _parse_qr_expires_at(d.pop("qr_expires_at"))

        def _parse_qr_image(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        qr_image = _parse_qr_image(d.pop("qr_image"))

        status = d.pop("status")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_wa_device_jid(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        wa_device_jid = _parse_wa_device_jid(d.pop("wa_device_jid"))

        def _parse_wa_number(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        wa_number = _parse_wa_number(d.pop("wa_number"))

        def _parse_call_policy(data: object) -> DeviceOutCallPolicyType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                call_policy_type_0 = DeviceOutCallPolicyType0.from_dict(data)

                return call_policy_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeviceOutCallPolicyType0 | None | Unset, data)

        call_policy = _parse_call_policy(d.pop("call_policy", UNSET))

        history_sync = d.pop("history_sync", UNSET)

        def _parse_presence_mode(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        presence_mode = _parse_presence_mode(d.pop("presence_mode", UNSET))

        device_out = cls(
            app_id=app_id,
            connection=connection,
            created_at=created_at,
            device_id=device_id,
            device_name=device_name,
            engine=engine,
            last_error=last_error,
            linked_at=linked_at,
            pacing=pacing,
            pairing_code=pairing_code,
            qr=qr,
            qr_expires_at=qr_expires_at,
            qr_image=qr_image,
            status=status,
            updated_at=updated_at,
            wa_device_jid=wa_device_jid,
            wa_number=wa_number,
            call_policy=call_policy,
            history_sync=history_sync,
            presence_mode=presence_mode,
        )

        device_out.additional_properties = d
        return device_out

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
