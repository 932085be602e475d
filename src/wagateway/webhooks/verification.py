"""Checking a delivery on the receiving side: `wagateway.webhooks.verify`.

For receivers written in Python. The gateway signs every webhook the Standard Webhooks way
(CONTRACT §4): `webhook-signature` holds one `v1,<base64 HMAC-SHA256>` per active secret
(two while a rotated secret's grace period runs) over `"<webhook-id>.<webhook-timestamp>.<body>"`.
A receiver must check a signature against the exact bytes it received, refuse a timestamp
too far from its own clock (a replayed request), and, since delivery is at least once,
ignore a `X-WA-Request-ID` it has already processed (docs/webhook-receivers.md shows that
part, which needs the receiver's own storage).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from wagateway.webhooks.signing import sign

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(ValueError):
    """The request is not a genuine, fresh delivery: answer it 400 and do not process it."""


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | list[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivered event, once its signature and timestamp check out; otherwise
    `WebhookVerificationError`.

    `body` is the raw request body, exactly as received (not re-serialised JSON);
    `headers` any mapping of the request's headers (names in any case); `secret` the app's
    webhook secret as the dashboard shows it (`whsec_…`), or a list of them to accept
    either while you rotate; `tolerance` how far, in seconds, the timestamp may be from
    `now` (default: this machine's clock)."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "").split()
    if not msg_id or not stamp or not offered:
        raise WebhookVerificationError(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a whole number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is more than {tolerance} s from this machine's clock"
        )
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [sign([s], msg_id, timestamp, raw) for s in secrets]
    if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
        raise WebhookVerificationError("no valid signature for this secret")
    try:
        event = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return event
