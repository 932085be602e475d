from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.inbound_request_state_type_0 import InboundRequestStateType0
from ..models.inbound_request_type import InboundRequestType
from ..types import UNSET, Unset

T = TypeVar("T", bound="InboundRequest")


@_attrs_define
class InboundRequest:
    """
    Attributes:
        caption (None | str | Unset):
        file_name (None | str | Unset):
        forwarded (bool | Unset):  Default: False.
        from_ (str | Unset): the contact's phone number (not with `from_me`) Default: ''.
        from_me (bool | Unset): text, image, document, location: the account's owner sent it to `to` from the phone
            (stored as an outbound message with source `phone`); `from` unused Default: False.
        group (None | str | Unset): a message the contact writes in this group (a group JID) instead of the one-to-one
            chat: in the sandbox group 120363012345678901@g.us the account is the admin, in any other it is a plain member
        last_seen (datetime.datetime | None | Unset): presence: when the contact was last online (default: now)
        latitude (float | None | Unset):
        longitude (float | None | Unset):
        media_size (int | None | Unset): pad the generated document to this size
        mentions (list[str] | Unset):
        options (list[str] | None | Unset): poll_vote: the texts of the options chosen (empty: the vote withdrawn)
        poll_message_id (None | str | Unset): poll_vote: the poll's gateway id or WhatsApp id
        reply_to (None | str | Unset):
        selected_id (None | str | Unset): button_reply
        selected_row_id (None | str | Unset): list_reply
        selected_text (None | str | Unset): button_reply
        state (InboundRequestStateType0 | None | Unset): chat_presence: what the contact shows in its chat (typing,
            recording, paused); presence: available or unavailable
        text (None | str | Unset):
        title (None | str | Unset): list_reply
        to (None | str | Unset): from_me: the chat written to (phone, JID, group JID)
        type_ (InboundRequestType | Unset): a message (text, image, document, location), or what the contact does
            besides writing: chat_presence (starts / stops typing, needs `state`), revoke (deletes its message
            `wa_message_id` for everyone), edit (changes the text of its message `wa_message_id` to `text`), poll_vote
            (chooses `options` of the device's poll `poll_message_id`), button_reply (taps `selected_id` / `selected_text`
            of the message `reply_to`), list_reply (picks `selected_row_id` / `title` of `reply_to`), presence (comes online
            or goes offline: `state` available / unavailable, optional `last_seen`; a `presence` event follows only when the
            device subscribed to the contact and shows online, as on WhatsApp); read (the account's owner opens the chat
            `to` on the phone and reads it: its unread inbound messages become read, as a read-self receipt tells the
            device; `from` unused) Default: InboundRequestType.TEXT.
        wa_message_id (None | str | Unset): revoke, edit: the WhatsApp id of the contact's message
    """

    caption: None | str | Unset = UNSET
    file_name: None | str | Unset = UNSET
    forwarded: bool | Unset = False
    from_: str | Unset = ""
    from_me: bool | Unset = False
    group: None | str | Unset = UNSET
    last_seen: datetime.datetime | None | Unset = UNSET
    latitude: float | None | Unset = UNSET
    longitude: float | None | Unset = UNSET
    media_size: int | None | Unset = UNSET
    mentions: list[str] | Unset = UNSET
    options: list[str] | None | Unset = UNSET
    poll_message_id: None | str | Unset = UNSET
    reply_to: None | str | Unset = UNSET
    selected_id: None | str | Unset = UNSET
    selected_row_id: None | str | Unset = UNSET
    selected_text: None | str | Unset = UNSET
    state: InboundRequestStateType0 | None | Unset = UNSET
    text: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    to: None | str | Unset = UNSET
    type_: InboundRequestType | Unset = InboundRequestType.TEXT
    wa_message_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        caption: None | str | Unset
        if isinstance(self.caption, Unset):
            caption = UNSET
        else:
            caption = self.caption

        file_name: None | str | Unset
        if isinstance(self.file_name, Unset):
            file_name = UNSET
        else:
            file_name = self.file_name

        forwarded = self.forwarded

        from_ = self.from_

        from_me = self.from_me

        group: None | str | Unset
        if isinstance(self.group, Unset):
            group = UNSET
        else:
            group = self.group

        last_seen: None | str | Unset
        if isinstance(self.last_seen, Unset):
            last_seen = UNSET
        elif isinstance(self.last_seen, datetime.datetime):
            last_seen = self.last_seen.isoformat()
        else:
            last_seen = self.last_seen

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

        media_size: int | None | Unset
        if isinstance(self.media_size, Unset):
            media_size = UNSET
        else:
            media_size = self.media_size

        mentions: list[str] | Unset = UNSET
        if not isinstance(self.mentions, Unset):
            mentions = self.mentions

        options: list[str] | None | Unset
        if isinstance(self.options, Unset):
            options = UNSET
        elif isinstance(self.options, list):
            options = self.options

        else:
            options = self.options

        poll_message_id: None | str | Unset
        if isinstance(self.poll_message_id, Unset):
            poll_message_id = UNSET
        else:
            poll_message_id = self.poll_message_id

        reply_to: None | str | Unset
        if isinstance(self.reply_to, Unset):
            reply_to = UNSET
        else:
            reply_to = self.reply_to

        selected_id: None | str | Unset
        if isinstance(self.selected_id, Unset):
            selected_id = UNSET
        else:
            selected_id = self.selected_id

        selected_row_id: None | str | Unset
        if isinstance(self.selected_row_id, Unset):
            selected_row_id = UNSET
        else:
            selected_row_id = self.selected_row_id

        selected_text: None | str | Unset
        if isinstance(self.selected_text, Unset):
            selected_text = UNSET
        else:
            selected_text = self.selected_text

        state: None | str | Unset
        if isinstance(self.state, Unset):
            state = UNSET
        elif isinstance(self.state, InboundRequestStateType0):
            state = self.state.value
        else:
            state = self.state

        text: None | str | Unset
        if isinstance(self.text, Unset):
            text = UNSET
        else:
            text = self.text

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        to: None | str | Unset
        if isinstance(self.to, Unset):
            to = UNSET
        else:
            to = self.to

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value

        wa_message_id: None | str | Unset
        if isinstance(self.wa_message_id, Unset):
            wa_message_id = UNSET
        else:
            wa_message_id = self.wa_message_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if caption is not UNSET:
            field_dict["caption"] = caption
        if file_name is not UNSET:
            field_dict["file_name"] = file_name
        if forwarded is not UNSET:
            field_dict["forwarded"] = forwarded
        if from_ is not UNSET:
            field_dict["from"] = from_
        if from_me is not UNSET:
            field_dict["from_me"] = from_me
        if group is not UNSET:
            field_dict["group"] = group
        if last_seen is not UNSET:
            field_dict["last_seen"] = last_seen
        if latitude is not UNSET:
            field_dict["latitude"] = latitude
        if longitude is not UNSET:
            field_dict["longitude"] = longitude
        if media_size is not UNSET:
            field_dict["media_size"] = media_size
        if mentions is not UNSET:
            field_dict["mentions"] = mentions
        if options is not UNSET:
            field_dict["options"] = options
        if poll_message_id is not UNSET:
            field_dict["poll_message_id"] = poll_message_id
        if reply_to is not UNSET:
            field_dict["reply_to"] = reply_to
        if selected_id is not UNSET:
            field_dict["selected_id"] = selected_id
        if selected_row_id is not UNSET:
            field_dict["selected_row_id"] = selected_row_id
        if selected_text is not UNSET:
            field_dict["selected_text"] = selected_text
        if state is not UNSET:
            field_dict["state"] = state
        if text is not UNSET:
            field_dict["text"] = text
        if title is not UNSET:
            field_dict["title"] = title
        if to is not UNSET:
            field_dict["to"] = to
        if type_ is not UNSET:
            field_dict["type"] = type_
        if wa_message_id is not UNSET:
            field_dict["wa_message_id"] = wa_message_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_caption(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        caption = _parse_caption(d.pop("caption", UNSET))

        def _parse_file_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        file_name = _parse_file_name(d.pop("file_name", UNSET))

        forwarded = d.pop("forwarded", UNSET)

        from_ = d.pop("from", UNSET)

        from_me = d.pop("from_me", UNSET)

        def _parse_group(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        group = _parse_group(d.pop("group", UNSET))

        def _parse_last_seen(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_seen_type_0 = datetime.datetime.fromisoformat(data)

                return last_seen_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_seen = _parse_last_seen(d.pop("last_seen", UNSET))

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

        def _parse_media_size(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        media_size = _parse_media_size(d.pop("media_size", UNSET))

        mentions = cast(list[str], d.pop("mentions", UNSET))

        def _parse_options(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                options_type_0 = cast(list[str], data)

                return options_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        options = _parse_options(d.pop("options", UNSET))

        def _parse_poll_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        poll_message_id = _parse_poll_message_id(d.pop("poll_message_id", UNSET))

        def _parse_reply_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_to = _parse_reply_to(d.pop("reply_to", UNSET))

        def _parse_selected_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        selected_id = _parse_selected_id(d.pop("selected_id", UNSET))

        def _parse_selected_row_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        selected_row_id = _parse_selected_row_id(d.pop("selected_row_id", UNSET))

        def _parse_selected_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        selected_text = _parse_selected_text(d.pop("selected_text", UNSET))

        def _parse_state(data: object) -> InboundRequestStateType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                state_type_0 = InboundRequestStateType0(data)

                return state_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(InboundRequestStateType0 | None | Unset, data)

        state = _parse_state(d.pop("state", UNSET))

        def _parse_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text = _parse_text(d.pop("text", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        to = _parse_to(d.pop("to", UNSET))

        _type_ = d.pop("type", UNSET)
        type_: InboundRequestType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = InboundRequestType(_type_)

        def _parse_wa_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        wa_message_id = _parse_wa_message_id(d.pop("wa_message_id", UNSET))

        inbound_request = cls(
            caption=caption,
            file_name=file_name,
            forwarded=forwarded,
            from_=from_,
            from_me=from_me,
            group=group,
            last_seen=last_seen,
            latitude=latitude,
            longitude=longitude,
            media_size=media_size,
            mentions=mentions,
            options=options,
            poll_message_id=poll_message_id,
            reply_to=reply_to,
            selected_id=selected_id,
            selected_row_id=selected_row_id,
            selected_text=selected_text,
            state=state,
            text=text,
            title=title,
            to=to,
            type_=type_,
            wa_message_id=wa_message_id,
        )

        inbound_request.additional_properties = d
        return inbound_request

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
