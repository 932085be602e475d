"""One phone rule (core/addresses.py) for bare phone numbers and for recipients: the same
digits accepted and refused both ways, each refusal naming the caller's field."""

from __future__ import annotations

import pytest

from wagateway.core.addresses import normalise_phone, normalise_recipient
from wagateway.core.errors import ApiError

WRITTEN_AS_PEOPLE_DO = {
    "+62 812-3456-7890": "6281234567890",
    "0062 (812) 3456.7890": "6281234567890",
    "6281234567": "6281234567",
}
NOT_A_PHONE = ["", "123456", "1234567890123456", "62812abc", "+", "00"]


@pytest.mark.parametrize(("raw", "digits"), WRITTEN_AS_PEOPLE_DO.items())
def test_a_phone_is_its_digits_whichever_way_it_is_written(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits
    assert normalise_recipient(raw) == f"{digits}@s.whatsapp.net"


@pytest.mark.parametrize("raw", NOT_A_PHONE)
def test_what_is_not_a_phone_is_refused_on_the_caller_s_field(raw: str) -> None:
    with pytest.raises(ApiError) as refused:
        normalise_phone(raw, "from")
    assert (refused.value.code, refused.value.details) == ("validation_error", {"field": "from"})
    assert refused.value.message == "from must be a phone number with country code (7-15 digits)"
    with pytest.raises(ApiError) as refused:
        normalise_recipient(raw)
    assert refused.value.details == {"field": "to"}


def test_recipients_take_jids_too() -> None:
    assert normalise_recipient("6281234567:12@s.whatsapp.net") == "6281234567@s.whatsapp.net"
    assert normalise_recipient("123456789012@lid") == "123456789012@lid"
    assert normalise_recipient("120363012345678901@g.us") == "120363012345678901@g.us"
    with pytest.raises(ApiError) as refused:
        normalise_recipient("62812@example.com", "mentions")
    assert refused.value.message == (
        "mentions is not a valid phone, phone JID, LID JID or group JID"
    )
