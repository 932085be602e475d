from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.picture_source import PictureSource


T = TypeVar("T", bound="OwnProfileRequest")


@_attrs_define
class OwnProfileRequest:
    """
    Attributes:
        about (None | str | Unset): the about text (up to 139 characters; empty clears it)
        name (None | str | Unset): the account's push name (1 to 25 characters)
        picture (None | PictureSource | Unset): the profile picture: a media source (`data_base64` + `mime_type`)
    """

    about: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    picture: None | PictureSource | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.picture_source import PictureSource  # noqa: PLC0415

        about: None | str | Unset
        if isinstance(self.about, Unset):
            about = UNSET
        else:
            about = self.about

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        picture: dict[str, Any] | None | Unset
        if isinstance(self.picture, Unset):
            picture = UNSET
        elif isinstance(self.picture, PictureSource):
            picture = self.picture.to_dict()
        else:
            picture = self.picture

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if about is not UNSET:
            field_dict["about"] = about
        if name is not UNSET:
            field_dict["name"] = name
        if picture is not UNSET:
            field_dict["picture"] = picture

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.picture_source import PictureSource  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_about(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        about = _parse_about(d.pop("about", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_picture(data: object) -> None | PictureSource | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                picture_type_0 = PictureSource.from_dict(data)

                return picture_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PictureSource | Unset, data)

        picture = _parse_picture(d.pop("picture", UNSET))

        own_profile_request = cls(
            about=about,
            name=name,
            picture=picture,
        )

        return own_profile_request
