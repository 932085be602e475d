"""Opaque tokens handed to clients (page cursors, stream cursors, ticket bodies): their text
as unpadded URL-safe base64, and back."""

from __future__ import annotations

import base64


def opaque(text: str) -> str:
    """`text` as unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unwrapped(token: str) -> str:
    """The text of an `opaque` token; ValueError for anything that is not one (bad base64 or
    not UTF-8: binascii.Error and UnicodeDecodeError are ValueErrors)."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
