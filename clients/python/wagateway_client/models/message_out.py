from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.message_out_content import MessageOutContent
    from ..models.message_out_error_type_0 import MessageOutErrorType0


T = TypeVar("T", bound="MessageOut")


@_attrs_define
class MessageOut:
    """
    Attributes:
        attempts (int):
        chat (str):
        content (MessageOutContent):
        created_at (datetime.datetime):
        delivered_at (datetime.datetime | None):
        device_id (str):
        direction (str):
        error (MessageOutErrorType0 | None):
        expires_at (datetime.datetime | None):
        forwarded (bool):
        media_path (None | str):
        mentions (list[str]):
        message_id (str):
        read_at (datetime.datetime | None):
        reply_to (None | str):
        sender (None | str):
        sender_lid (None | str):
        sent_at (datetime.datetime | None):
        status (str):
        to (None | str):
        type_ (str):
        updated_at (datetime.datetime):
        wa_message_id (None | str):
        edited_at (datetime.datetime | None | Unset): when the text or caption was last edited (by the app or the
            sender)
        media_url (None | str | Unset): a signed link to the attachment that works without a token until it expires
            (WAGW_MEDIA_URL_SECONDS from this answer)
        revoked (bool | Unset): deleted for everyone Default: False.
        source (str | Unset): who wrote it: api (sent through the gateway), auto (by the gateway itself), phone (the
            account, from the phone or another linked device), history (imported), contact (an inbound message from someone
            else) Default: 'api'.
    """

    attempts: int
    chat: str
    content: MessageOutContent
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None
    device_id: str
    direction: str
    error: MessageOutErrorType0 | None
    expires_at: datetime.datetime | None
    forwarded: bool
    media_path: None | str
    mentions: list[str]
    message_id: str
    read_at: datetime.datetime | None
    reply_to: None | str
    sender: None | str
    sender_lid: None | str
    sent_at: datetime.datetime | None
    status: str
    to: None | str
    type_: str
    updated_at: datetime.datetime
    wa_message_id: None | str
    edited_at: datetime.datetime | None | Unset = UNSET
    media_url: None | str | Unset = UNSET
    revoked: bool | Unset = False
    source: str | Unset = "api"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.message_out_error_type_0 import MessageOutErrorType0  # noqa: PLC0415

        attempts = self.attempts

        chat = self.chat

        content = self.content.to_dict()

        created_at = self.created_at.isoformat()

        delivered_at: None | str
        if isinstance(self.delivered_at, datetime.datetime):
            delivered_at = self.delivered_at.isoformat()
        else:
            delivered_at = self.delivered_at

        device_id = self.device_id

        direction = self.direction

        error: dict[str, Any] | None
        if isinstance(self.error, MessageOutErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        forwarded = self.forwarded

        media_path: None | str
        media_path = self.media_path

        mentions = self.mentions

        message_id = self.message_id

        read_at: None | str
        if isinstance(self.read_at, datetime.datetime):
            read_at = self.read_at.isoformat()
        else:
            read_at = self.read_at

        reply_to: None | str
        reply_to = self.reply_to

        sender: None | str
        sender = self.sender

        sender_lid: None | str
        sender_lid = self.sender_lid

        sent_at: None | str
        if isinstance(self.sent_at, datetime.datetime):
            sent_at = self.sent_at.isoformat()
        else:
            sent_at = self.sent_at

        status = self.status

        to: None | str
        to = self.to

        type_ = self.type_

        updated_at = self.updated_at.isoformat()

        wa_message_id: None | str
        wa_message_id = self.wa_message_id

        edited_at: None | str | Unset
        if isinstance(self.edited_at, Unset):
            edited_at = UNSET
        elif isinstance(self.edited_at, datetime.datetime):
            edited_at = self.edited_at.isoformat()
        else:
            edited_at = self.edited_at

        media_url: None | str | Unset
        if isinstance(self.media_url, Unset):
            media_url = UNSET
        else:
            media_url = self.media_url

        revoked = self.revoked

        source = self.source

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "chat": chat,
                "content": content,
                "created_at": created_at,
                "delivered_at": delivered_at,
                "device_id": device_id,
                "direction": direction,
                "error": error,
                "expires_at": expires_at,
                "forwarded": forwarded,
                "media_path": media_path,
                "mentions": mentions,
                "message_id": message_id,
                "read_at": read_at,
                "reply_to": reply_to,
                "sender": sender,
                "sender_lid": sender_lid,
                "sent_at": sent_at,
                "status": status,
                "to": to,
                "type": type_,
                "updated_at": updated_at,
                "wa_message_id": wa_message_id,
            }
        )
        if edited_at is not UNSET:
            field_dict["edited_at"] = edited_at
        if media_url is not UNSET:
            field_dict["media_url"] = media_url
        if revoked is not UNSET:
            field_dict["revoked"] = revoked
        if source is not UNSET:
            field_dict["source"] = source

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.message_out_content import MessageOutContent  # noqa: PLC0415
        from ..models.message_out_error_type_0 import MessageOutErrorType0  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        chat = d.pop("chat")

        content = MessageOutContent.from_dict(d.pop("content"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_delivered_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                delivered_at_type_0 = datetime.datetime.fromisoformat(data)

                return delivered_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        delivered_at = _parse_delivered_at(d.pop("delivered_at"))

        device_id = d.pop("device_id")

        direction = d.pop("direction")

        def _parse_error(data: object) -> MessageOutErrorType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = MessageOutErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MessageOutErrorType0 | None, data)

        error = _parse_error(d.pop("error"))

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expires_at"))

        forwarded = d.pop("forwarded")

        def _parse_media_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        media_path = _parse_media_path(d.pop("media_path"))

        mentions = cast(list[str], d.pop("mentions"))

        message_id = d.pop("message_id")

        def _parse_read_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                read_at_type_0 = datetime.datetime.fromisoformat(data)

                return read_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        read_at = _parse_read_at(d.pop("read_at"))

        def _parse_reply_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reply_to = _parse_reply_to(d.pop("reply_to"))

        def _parse_sender(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        sender = _parse_sender(d.pop("sender"))

        def _parse_sender_lid(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        sender_lid = _parse_sender_lid(d.pop("sender_lid"))

        def _parse_sent_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sent_at_type_0 = datetime.datetime.fromisoformat(data)

                return sent_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        sent_at = _parse_sent_at(d.pop("sent_at"))

        status = d.pop("status")

        def _parse_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        to = _parse_to(d.pop("to"))

        type_ = d.pop("type")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_wa_message_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        wa_message_id = _parse_wa_message_id(d.pop("wa_message_id"))

        def _parse_edited_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                edited_at_type_0 = datetime.datetime.fromisoformat(data)

                return edited_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        edited_at = _parse_edited_at(d.pop("edited_at", UNSET))

        def _parse_media_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        media_url = _parse_media_url(d.pop("media_url", UNSET))

        revoked = d.pop("revoked", UNSET)

        source = d.pop("source", UNSET)

        message_out = cls(
            attempts=attempts,
            chat=chat,
            content=content,
            created_at=created_at,
            delivered_at=delivered_at,
            device_id=device_id,
            direction=direction,
            error=error,
            expires_at=expires_at,
            forwarded=forwarded,
            media_path=media_path,
            mentions=mentions,
            message_id=message_id,
            read_at=read_at,
            reply_to=reply_to,
            sender=sender,
            sender_lid=sender_lid,
            sent_at=sent_at,
            status=status,
            to=to,
            type_=type_,
            updated_at=updated_at,
            wa_message_id=wa_message_id,
            edited_at=edited_at,
            media_url=media_url,
            revoked=revoked,
            source=source,
        )

        message_out.additional_properties = d
        return message_out

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
