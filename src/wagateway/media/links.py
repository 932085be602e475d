"""Signed, expiring media links (CONTRACT §10, `media_url`): a stored attachment fetched
without a token until the link runs out.

A link is `/media/link?path={media_path}&expires={unix seconds}&sig={signature}` under the
gateway's address: the signature is an HMAC-SHA256 over
the app, the path and the expiry with a key derived from the master key (its own HKDF
`info`, so it signs nothing else and no other key signs links). The link carries no token and
no secret: the signature opens that one file of that one app until `expires`, and changing
any of the three (another app's path, a later expiry) makes it invalid. Checked in constant
time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Why a link is refused, as `details.reason` says it.
INVALID = "invalid_signature"
EXPIRED = "expired"


class MediaLinks:
    """Makes and checks `media_url`s. `clock` gives Unix seconds (tests pass their own)."""

    def __init__(
        self,
        master_key: bytes,
        lifetime_seconds: int,
        public_base_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"wagateway", info=b"media-links"
        ).derive(master_key)
        self._lifetime = lifetime_seconds
        self._base = public_base_url.rstrip("/")
        self._clock = clock

    def _signature(self, app_id: str, path: str, expires: int) -> str:
        message = f"{app_id}\n{path}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, app_id: str, path: str) -> str:
        """The link to `path` (a `media_path` of `app_id`), valid for the configured time
        from now: absolute under `WAGW_PUBLIC_BASE_URL`, else relative to the gateway."""
        expires = int(self._clock()) + self._lifetime
        sig = self._signature(app_id, path, expires)
        query = urlencode({"path": path, "expires": expires, "sig": sig}, safe="/")
        return f"{self._base}/media/link?{query}"

    def refusal(self, app_id: str, path: str, expires: int, sig: str) -> str | None:
        """None when the link is genuine and current, else why not (`INVALID`, `EXPIRED`).
        The signature is checked first: an expiry someone moved is a forgery, not an old
        link."""
        expected = self._signature(app_id, path, expires)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            return INVALID
        if expires <= self._clock():
            return EXPIRED
        return None

    def add_to(self, app_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """`payload` with `media_url` beside its `media_path` (None when there is none)."""
        path = payload.get("media_path")
        payload["media_url"] = self.url(app_id, path) if isinstance(path, str) and path else None
        return payload
