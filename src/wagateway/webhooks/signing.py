"""Standard Webhooks signatures (https://www.standardwebhooks.com/), as CONTRACT §4 fixes."""

from __future__ import annotations

import base64
import hashlib
import hmac

from wagateway.core.secrets import WEBHOOK_SECRET_PREFIX


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))


def sign(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<sig>` per active secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )
