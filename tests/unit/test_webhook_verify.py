"""`wagateway.webhooks.verify`, the receiver-side check, against what the gateway signs
and against the Standard Webhooks reference library (they must agree)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError as ReferenceError_

from wagateway.webhooks import WebhookVerificationError, verify
from wagateway.webhooks.signing import sign

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = json.dumps(
    {"event": "message", "request_id": "evt-1", "payload": {"text": "halo ✓"}},
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def delivery(body: bytes = BODY, secrets: list[str] | None = None, at: int | None = None):
    """Headers as the dispatcher sends them (delivery/http.py `WebhookClient._post`)."""
    timestamp = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/json",
        "X-WA-Request-ID": "evt-1",
        "webhook-id": "evt-1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets or [SECRET], "evt-1", timestamp, body),
    }


def reference_accepts(body: bytes, headers: dict[str, str], secret: str) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except ReferenceError_:
        return False
    return True


def test_a_genuine_delivery_gives_its_event() -> None:
    headers = delivery()
    assert verify(BODY, headers, SECRET)["payload"] == {"text": "halo ✓"}
    assert reference_accepts(BODY, headers, SECRET)
    # Header names in any case, body as text.
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify(BODY.decode(), lowered, SECRET)["request_id"] == "evt-1"


def test_during_rotation_either_secret_verifies() -> None:
    headers = delivery(secrets=[OTHER, SECRET])  # the gateway signs with both
    assert verify(BODY, headers, SECRET)["event"] == "message"
    assert verify(BODY, headers, OTHER)["event"] == "message"
    # A receiver that holds both secrets accepts a delivery signed with either one.
    assert verify(BODY, delivery(secrets=[OTHER]), [SECRET, OTHER])["event"] == "message"


@pytest.mark.parametrize(
    ("case", "body", "change"),
    [
        ("tampered body", BODY.replace(b"halo", b"HALO"), {}),
        ("wrong secret", BODY, {"secret": OTHER}),
        ("other id", BODY, {"webhook-id": "evt-2"}),
        # Ages in seconds, turned into timestamps when the test runs (not at collection,
        # seconds earlier), and clear of the 300 s tolerance by more than int()'s rounding.
        ("stale timestamp", BODY, {"age": 310}),
        ("future timestamp", BODY, {"age": -310}),
        ("missing signature", BODY, {"webhook-signature": None}),
        ("missing timestamp", BODY, {"webhook-timestamp": None}),
        ("garbled timestamp", BODY, {"webhook-timestamp": "soon"}),
        ("signature of another scheme", BODY, {"webhook-signature": "v1a,abc"}),
    ],
)
def test_what_is_not_a_genuine_fresh_delivery_is_refused(
    case: str, body: bytes, change: dict[str, object]
) -> None:
    age = change.pop("age", None)
    at = int(time.time()) - age if isinstance(age, int) else None
    secret = str(change.pop("secret", SECRET))
    headers = delivery(at=at)
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = str(value)
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, secret)
    # The reference library refuses it too.
    assert not reference_accepts(body, headers, secret), case


def test_tolerance_is_configurable() -> None:
    old = int(time.time()) - 600
    headers = delivery(at=old)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, SECRET)
    assert verify(BODY, headers, SECRET, tolerance=900)["event"] == "message"
    assert verify(BODY, headers, SECRET, now=old + 1)["event"] == "message"


def test_a_signed_body_that_is_not_a_json_object_is_refused() -> None:
    for body in (b"not json", b"[1, 2]"):
        with pytest.raises(WebhookVerificationError):
            verify(body, delivery(body=body), SECRET)
