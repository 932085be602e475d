"""Phone numbers and WhatsApp addresses (JIDs) as clients write them → one canonical form.

One digit rule for both: a recipient (`to`, mentions: any form an integrator has, CONTRACT
§3, → one JID) and a bare phone number (pairing, contact checks, the sandbox's contacts →
its digits). Low in the layers so that devices, messages and the sandbox share it."""

from __future__ import annotations

import re

from wagateway.core.errors import validation_error

_PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
_DIGITS = re.compile(r"^\d{7,15}$")
_LID = re.compile(r"^\d{5,25}$")
_GROUP = re.compile(r"^(\d{5,25}|\d{7,15}-\d{9,12})$")

USER_SERVER = "s.whatsapp.net"

# A message can mention at most everyone in the largest group WhatsApp allows; more is a
# client bug, and each mention is resolved and stored.
MAX_MENTIONS = 1024


def phone_digits(raw: str) -> str | None:
    """The digits of a phone number with its country code, as people write it (spaces,
    dashes, brackets, a leading `+` or `00`), or None when that is not one."""
    digits = _PHONE_PUNCTUATION.sub("", raw)
    if digits.startswith("00"):
        digits = digits[2:]
    return digits if _DIGITS.match(digits) else None


def normalise_phone(raw: str, field: str = "phone") -> str:
    """Digits only, country code first: accepts '+62 812-3456-7890' and the like."""
    digits = phone_digits(raw or "")
    if digits is None:
        raise validation_error(
            f"{field} must be a phone number with country code (7-15 digits)", field
        )
    return digits


def normalise_recipient(raw: str, field: str = "to") -> str:
    """A phone number, phone JID, LID JID or group JID → the canonical JID."""
    value = (raw or "").strip()
    if not value:
        raise validation_error(f"{field} is required", field)
    user, at, server = value.partition("@")
    if not at:
        digits = phone_digits(value)
        if digits is None:
            raise validation_error(
                f"{field} must be a phone number with country code or a JID", field
            )
        return f"{digits}@{USER_SERVER}"
    user = user.split(":", 1)[0]  # a device suffix ("…:12@s.whatsapp.net") addresses the user
    if server == USER_SERVER and _DIGITS.match(user):
        return f"{user}@{server}"
    if server == "lid" and _LID.match(user):
        return f"{user}@lid"
    if server == "g.us" and _GROUP.match(user):
        return f"{user}@g.us"
    raise validation_error(f"{field} is not a valid phone, phone JID, LID JID or group JID", field)


def jid_user(jid: str) -> str:
    return jid.partition("@")[0]
