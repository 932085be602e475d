from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.send_message_request_type import SendMessageRequestType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.button import Button


T = TypeVar("T", bound="SendMessageRequest")


@_attrs_define
class SendMessageRequest:
    """One body for every type; which fields are required depends on `type` (CONTRACT §3).

    Attributes:
        to (str): phone number, phone JID, LID JID or group JID
        address (None | str | Unset):
        buttons (list[Button] | None | Unset):
        caption (None | str | Unset):
        contact_name (None | str | Unset):
        data_base64 (None | str | Unset): media source: the bytes, base64
        emoji (None | str | Unset):
        file_name (None | str | Unset):
        footer (None | str | Unset):
        latitude (float | None | Unset):
        longitude (float | None | Unset):
        mentions (list[str] | None | Unset): JIDs or numbers to mention (at most 1024)
        message_id (None | str | Unset): reaction: the message reacted to, by its message_id or wa_message_id
        mime_type (None | str | Unset):
        name (None | str | Unset):
        poll_multi (bool | None | Unset):
        poll_options (list[str] | None | Unset):
        poll_question (None | str | Unset):
        preview_url (bool | None | Unset): text: send a link preview of the first URL, fetched by the gateway under the
            outbound address rules (none if the fetch fails or is refused)
        ptt (bool | None | Unset):
        reply_to (None | str | Unset): the message to quote, by its message_id or wa_message_id
        text (None | str | Unset):
        type_ (SendMessageRequestType | Unset):  Default: SendMessageRequestType.TEXT.
        url (None | str | Unset): media source: fetched by the gateway
        vcard (None | str | Unset):
    """

    to: str
    address: None | str | Unset = UNSET
    buttons: list[Button] | None | Unset = UNSET
    caption: None | str | Unset = UNSET
    contact_name: None | str | Unset = UNSET
    data_base64: None | str | Unset = UNSET
    emoji: None | str | Unset = UNSET
    file_name: None | str | Unset = UNSET
    footer: None | str | Unset = UNSET
    latitude: float | None | Unset = UNSET
    longitude: float | None | Unset = UNSET
    mentions: list[str] | None | Unset = UNSET
    message_id: None | str | Unset = UNSET
    mime_type: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    poll_multi: bool | None | Unset = UNSET
    poll_options: list[str] | None | Unset = UNSET
    poll_question: None | str | Unset = UNSET
    preview_url: bool | None | Unset = UNSET
    ptt: bool | None | Unset = UNSET
    reply_to: None | str | Unset = UNSET
    text: None | str | Unset = UNSET
    type_: SendMessageRequestType | Unset = SendMessageRequestType.TEXT
    url: None | str | Unset = UNSET
    vcard: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        to = self.to

        address: None | str | Unset
        if isinstance(self.address, Unset):
            address = UNSET
        else:
            address = self.address

        buttons: list[dict[str, Any]] | None | Unset
        if isinstance(self.buttons, Unset):
            buttons = UNSET
        elif isinstance(self.buttons, list):
            buttons = []
            for buttons_type_0_item_data in self.buttons:
                buttons_type_0_item = buttons_type_0_item_data.to_dict()
                buttons.append(buttons_type_0_item)

        else:
            buttons = self.buttons

        caption: None | str | Unset
        if isinstance(self.caption, Unset):
            caption = UNSET
        else:
            caption = self.caption

        contact_name: None | str | Unset
        if isinstance(self.contact_name, Unset):
            contact_name = UNSET
        else:
            contact_name = self.contact_name

        data_base64: None | str | Unset
        if isinstance(self.data_base64, Unset):
            data_base64 = UNSET
        else:
            data_base64 = self.data_base64

        emoji: None | str | Unset
        if isinstance(self.emoji, Unset):
            emoji = UNSET
        else:
            emoji = self.emoji

        file_name: None | str | Unset
        if isinstance(self.file_name, Unset):
            file_name = UNSET
        else:
            file_name = self.file_name

        footer: None | str | Unset
        if isinstance(self.footer, Unset):
            footer = UNSET
        else:
            footer = self.footer

        latitude: float | None | Unset
        if isinstance(self.latitude, Unset):
            latitude = UNSET
        else:
            latitude = self.latitude

        longitude: float | None | Unset
        if isinstance(self.longitude, Unset):
            longitude = UNSET
        else:
            longitude = self.longitude

        mentions: list[str] | None | Unset
        if isinstance(self.mentions, Unset):
            mentions = UNSET
        elif isinstance(self.mentions, list):
            mentions = self.mentions

        else:
            mentions = self.mentions

        message_id: None | str | Unset
        if isinstance(self.message_id, Unset):
            message_id = UNSET
        else:
            message_id = self.message_id

        mime_type: None | str | Unset
        if isinstance(self.mime_type, Unset):
            mime_type = UNSET
        else:
            mime_type = self.mime_type

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        poll_multi: bool | None | Unset
        if isinstance(self.poll_multi, Unset):
            poll_multi = UNSET
        else:
            poll_multi = self.poll_multi

        poll_options: list[str] | None | Unset
        if isinstance(self.poll_options, Unset):
            poll_options = UNSET
        elif isinstance(self.poll_options, list):
            poll_options = self.poll_options

        else:
            poll_options = self.poll_options

        poll_question: None | str | Unset
        if isinstance(self.poll_question, Unset):
            poll_question = UNSET
        else:
            poll_question = self.poll_question

        preview_url: bool | None | Unset
        if isinstance(self.preview_url, Unset):
            preview_url = UNSET
        else:
            preview_url = self.preview_url

        ptt: bool | None | Unset
        if isinstance(self.ptt, Unset):
            ptt = UNSET
        else:
            ptt = self.ptt

        reply_to: None | str | Unset
        if isinstance(self.reply_to, Unset):
            reply_to = UNSET
        else:
            reply_to = self.reply_to

        text: None | str | Unset
        if isinstance(self.text, Unset):
            text = UNSET
        else:
            text = self.text

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url

        vcard: None | str | Unset
        if isinstance(self.vcard, Unset):
            vcard = UNSET
        else:
            vcard = self.vcard

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "to": to,
            }
        )
        if address is not UNSET:
            field_dict["address"] = address
        if buttons is not UNSET:
            field_dict["buttons"] = buttons
        if caption is not UNSET:
            field_dict["caption"] = caption
        if contact_name is not UNSET:
            field_dict["contact_name"] = contact_name
        if data_base64 is not UNSET:
            field_dict["data_base64"] = data_base64
        if emoji is not UNSET:
            field_dict["emoji"] = emoji
        if file_name is not UNSET:
            field_dict["file_name"] = file_name
        if footer is not UNSET:
            field_dict["footer"] = footer
        if latitude is not UNSET:
            field_dict["latitude"] = latitude
        if longitude is not UNSET:
            field_dict["longitude"] = longitude
        if mentions is not UNSET:
            field_dict["mentions"] = mentions
        if message_id is not UNSET:
            field_dict["message_id"] = message_id
        if mime_type is not UNSET:
            field_dict["mime_type"] = mime_type
        if name is not UNSET:
            field_dict["name"] = name
        if poll_multi is not UNSET:
            field_dict["poll_multi"] = poll_multi
        if poll_options is not UNSET:
            field_dict["poll_options"] = poll_options
        if poll_question is not UNSET:
            field_dict["poll_question"] = poll_question
        if preview_url is not UNSET:
            field_dict["preview_url"] = preview_url
        if ptt is not UNSET:
            field_dict["ptt"] = ptt
        if reply_to is not UNSET:
            field_dict["reply_to"] = reply_to
        if text is not UNSET:
            field_dict["text"] = text
        if type_ is not UNSET:
            field_dict["type"] = type_
        if url is not UNSET:
            field_dict["url"] = url
        if vcard is not UNSET:
            field_dict["vcard"] = vcard

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.button import Button  # noqa: PLC0415

        d = dict(src_dict)
        to = d.pop("to")

        def _parse_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        address = _parse_address(d.pop("address", UNSET))

        def _parse_buttons(data: object) -> list[Button] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                buttons_type_0 = []
                _buttons_type_0 = data
                for buttons_type_0_item_data in _buttons_type_0:
                    buttons_type_0_item = Button.from_dict(buttons_type_0_item_data)

                    buttons_type_0.append(buttons_type_0_item)

                return buttons_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Button] | None | Unset, data)

        buttons = _parse_buttons(d.pop("buttons", UNSET))

        def _parse_caption(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        caption = _parse_caption(d.pop("caption", UNSET))

        def _parse_contact_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        contact_name = _parse_contact_name(d.pop("contact_name", UNSET))

        def _parse_data_base64(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        data_base64 = _parse_data_base64(d.pop("data_base64", UNSET))

        def _parse_emoji(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        emoji = _parse_emoji(d.pop("emoji", UNSET))

        def _parse_file_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        file_name = _parse_file_name(d.pop("file_name", UNSET))

        def _parse_footer(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        footer = _parse_footer(d.pop("footer", UNSET))

        def _parse_latitude(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        latitude = _parse_latitude(d.pop("latitude", UNSET))

        def _parse_longitude(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        longitude = _parse_longitude(d.pop("longitude", UNSET))

        def _parse_mentions(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                mentions_type_0 = cast(list[str], data)

                return mentions_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        mentions = _parse_mentions(d.pop("mentions", UNSET))

        def _parse_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message_id = _parse_message_id(d.pop("message_id", UNSET))

        def _parse_mime_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        mime_type = _parse_mime_type(d.pop("mime_type", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_poll_multi(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        poll_multi = _parse_poll_multi(d.pop("poll_multi", UNSET))

        def _parse_poll_options(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                poll_options_type_0 = cast(list[str], data)

                return poll_options_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        poll_options = _parse_poll_options(d.pop("poll_options", UNSET))

        def _parse_poll_question(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        poll_question = _parse_poll_question(d.pop("poll_question", UNSET))

        def _parse_preview_url(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        preview_url = _parse_preview_url(d.pop("preview_url", UNSET))

        def _parse_ptt(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        ptt = _parse_ptt(d.pop("ptt", UNSET))

        def _parse_reply_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_to = _parse_reply_to(d.pop("reply_to", UNSET))

        def _parse_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text = _parse_text(d.pop("text", UNSET))

        _type_ = d.pop("type", UNSET)
        type_: SendMessageRequestType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = SendMessageRequestType(_type_)

        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))

        def _parse_vcard(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        vcard = _parse_vcard(d.pop("vcard", UNSET))

        send_message_request = cls(
            to=to,
            address=address,
            buttons=buttons,
            caption=caption,
            contact_name=contact_name,
            data_base64=data_base64,
            emoji=emoji,
            file_name=file_name,
            footer=footer,
            latitude=latitude,
            longitude=longitude,
            mentions=mentions,
            message_id=message_id,
            mime_type=mime_type,
            name=name,
            poll_multi=poll_multi,
            poll_options=poll_options,
            poll_question=poll_question,
            preview_url=preview_url,
            ptt=ptt,
            reply_to=reply_to,
            text=text,
            type_=type_,
            url=url,
            vcard=vcard,
        )

        send_message_request.additional_properties = d
        return send_message_request

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
