from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.network_entry_out_preview_type_0 import NetworkEntryOutPreviewType0


T = TypeVar("T", bound="NetworkEntryOut")


@_attrs_define
class NetworkEntryOut:
    """One act of the device on the simulated network. Fields beyond `kind` and `at` depend
    on the kind; a field that does not apply is absent.

        Attributes:
            at (datetime.datetime):
            kind (str): message, connect or disconnect (later also read, chat_presence, presence, edit, revoke, reaction,
                group_create, group_update, group_participants, group_leave, group_join, profile_update, block, unblock,
                call_reject)
            from_me (bool | None | Unset): message of type reaction: the target is the account's own message
            phone (None | str | Unset): connect: the linked account's phone
            preview (NetworkEntryOutPreviewType0 | None | Unset): text message with preview_url: the link preview the
                gateway fetched (url, title, description); absent when none was sent
            quoted_sender (None | str | Unset): message, a reply or reaction: the JID of the quoted / reacted-to message's
                sender (the account's own for its own message); absent when the gateway does not know that message
            reaction_to (None | str | Unset): message of type reaction: the WhatsApp id reacted to
            reason (None | str | Unset): disconnect: dropped, logged_out or closed
            reconnected (bool | None | Unset): connect: from the stored session
            reply_to (None | str | Unset): message, a reply: the quoted WhatsApp id
            sha256 (None | str | Unset): media message: SHA-256 of the bytes, hex
            size (int | None | Unset): media message: bytes sent
            text (None | str | Unset): text message: the text sent
            to (None | str | Unset): message: the recipient's JID
            type_ (None | str | Unset): message: its type
            wa_message_id (None | str | Unset): message: its WhatsApp id (a resend repeats it)
    """

    at: datetime.datetime
    kind: str
    from_me: bool | None | Unset = UNSET
    phone: None | str | Unset = UNSET
    preview: NetworkEntryOutPreviewType0 | None | Unset = UNSET
    quoted_sender: None | str | Unset = UNSET
    reaction_to: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    reconnected: bool | None | Unset = UNSET
    reply_to: None | str | Unset = UNSET
    sha256: None | str | Unset = UNSET
    size: int | None | Unset = UNSET
    text: None | str | Unset = UNSET
    to: None | str | Unset = UNSET
    type_: None | str | Unset = UNSET
    wa_message_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.network_entry_out_preview_type_0 import NetworkEntryOutPreviewType0  # noqa: PLC0415

        at = self.at.isoformat()

        kind = self.kind

        from_me: bool | None | Unset
        if isinstance(self.from_me, Unset):
            from_me = UNSET
        else:
            from_me = self.from_me

        phone: None | str | Unset
        if isinstance(self.phone, Unset):
            phone = UNSET
        else:
            phone = self.phone

        preview: dict[str, Any] | None | Unset
        if isinstance(self.preview, Unset):
            preview = UNSET
        elif isinstance(self.preview, NetworkEntryOutPreviewType0):
            preview = self.preview.to_dict()
        else:
            preview = self.preview

        quoted_sender: None | str | Unset
        if isinstance(self.quoted_sender, Unset):
            quoted_sender = UNSET
        else:
            quoted_sender = self.quoted_sender

        reaction_to: None | str | Unset
        if isinstance(self.reaction_to, Unset):
            reaction_to = UNSET
        else:
            reaction_to = self.reaction_to

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        reconnected: bool | None | Unset
        if isinstance(self.reconnected, Unset):
            reconnected = UNSET
        else:
            reconnected = self.reconnected

        reply_to: None | str | Unset
        if isinstance(self.reply_to, Unset):
            reply_to = UNSET
        else:
            reply_to = self.reply_to

        sha256: None | str | Unset
        if isinstance(self.sha256, Unset):
            sha256 = UNSET
        else:
            sha256 = self.sha256

        size: int | None | Unset
        if isinstance(self.size, Unset):
            size = UNSET
        else:
            size = self.size

        text: None | str | Unset
        if isinstance(self.text, Unset):
            text = UNSET
        else:
            text = self.text

        to: None | str | Unset
        if isinstance(self.to, Unset):
            to = UNSET
        else:
            to = self.to

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        wa_message_id: None | str | Unset
        if isinstance(self.wa_message_id, Unset):
            wa_message_id = UNSET
        else:
            wa_message_id = self.wa_message_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "kind": kind,
            }
        )
        if from_me is not UNSET:
            field_dict["from_me"] = from_me
        if phone is not UNSET:
            field_dict["phone"] = phone
        if preview is not UNSET:
            field_dict["preview"] = preview
        if quoted_sender is not UNSET:
            field_dict["quoted_sender"] = quoted_sender
        if reaction_to is not UNSET:
            field_dict["reaction_to"] = reaction_to
        if reason is not UNSET:
            field_dict["reason"] = reason
        if reconnected is not UNSET:
            field_dict["reconnected"] = reconnected
        if reply_to is not UNSET:
            field_dict["reply_to"] = reply_to
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256
        if size is not UNSET:
            field_dict["size"] = size
        if text is not UNSET:
            field_dict["text"] = text
        if to is not UNSET:
            field_dict["to"] = to
        if type_ is not UNSET:
            field_dict["type"] = type_
        if wa_message_id is not UNSET:
            field_dict["wa_message_id"] = wa_message_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.network_entry_out_preview_type_0 import NetworkEntryOutPreviewType0  # noqa: PLC0415

        d = dict(src_dict)
        at = datetime.datetime.fromisoformat(d.pop("at"))

        kind = d.pop("kind")

        def _parse_from_me(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        from_me = _parse_from_me(d.pop("from_me", UNSET))

        def _parse_phone(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        phone = _parse_phone(d.pop("phone", UNSET))

        def _parse_preview(data: object) -> NetworkEntryOutPreviewType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                preview_type_0 = NetworkEntryOutPreviewType0.from_dict(data)

                return preview_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NetworkEntryOutPreviewType0 | None | Unset, data)

        preview = _parse_preview(d.pop("preview", UNSET))

        def _parse_quoted_sender(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        quoted_sender = _parse_quoted_sender(d.pop("quoted_sender", UNSET))

        def _parse_reaction_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reaction_to = _parse_reaction_to(d.pop("reaction_to", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_reconnected(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        reconnected = _parse_reconnected(d.pop("reconnected", UNSET))

        def _parse_reply_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_to = _parse_reply_to(d.pop("reply_to", UNSET))

        def _parse_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sha256 = _parse_sha256(d.pop("sha256", UNSET))

        def _parse_size(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        size = _parse_size(d.pop("size", UNSET))

        def _parse_text(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        text = _parse_text(d.pop("text", UNSET))

        def _parse_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        to = _parse_to(d.pop("to", UNSET))

        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))

        def _parse_wa_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        wa_message_id = _parse_wa_message_id(d.pop("wa_message_id", UNSET))

        network_entry_out = cls(
            at=at,
            kind=kind,
            from_me=from_me,
            phone=phone,
            preview=preview,
            quoted_sender=quoted_sender,
            reaction_to=reaction_to,
            reason=reason,
            reconnected=reconnected,
            reply_to=reply_to,
            sha256=sha256,
            size=size,
            text=text,
            to=to,
            type_=type_,
            wa_message_id=wa_message_id,
        )

        network_entry_out.additional_properties = d
        return network_entry_out

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
