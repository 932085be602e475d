from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PictureSource")


@_attrs_define
class PictureSource:
    """A media source as a message's (CONTRACT §3): exactly one of `url` and `data_base64`.

    Attributes:
        mime_type (str): `image/jpeg` or `image/png`
        data_base64 (None | str | Unset): media source: the bytes, base64
        url (None | str | Unset): media source: fetched by the gateway (outbound address rules, no redirects, up to
            WAGW_SEND_MEDIA_MAX_BYTES)
    """

    mime_type: str
    data_base64: None | str | Unset = UNSET
    url: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        mime_type = self.mime_type

        data_base64: None | str | Unset
        if isinstance(self.data_base64, Unset):
            data_base64 = UNSET
        else:
            data_base64 = self.data_base64

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "mime_type": mime_type,
            }
        )
        if data_base64 is not UNSET:
            field_dict["data_base64"] = data_base64
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        mime_type = d.pop("mime_type")

        def _parse_data_base64(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        data_base64 = _parse_data_base64(d.pop("data_base64", UNSET))

        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))

        picture_source = cls(
            mime_type=mime_type,
            data_base64=data_base64,
            url=url,
        )

        return picture_source
