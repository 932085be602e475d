from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from wagateway.core.secrets import new_webhook_secret
from wagateway.webhooks.signing import sign

BODY = json.dumps(
    {"event": "message", "device_id": "d1", "payload": {"text": "héllo ✓"}},
    ensure_ascii=False,
).encode()
MSG_ID = "req_0123456789"


def _headers(signature: str, timestamp: int, msg_id: str = MSG_ID) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_single_secret_verifies_with_reference_library() -> None:
    secret = new_webhook_secret()
    ts = int(time.time())
    signature = sign([secret], MSG_ID, ts, BODY)
    assert signature.startswith("v1,")
    assert " " not in signature
    assert Webhook(secret).verify(BODY, _headers(signature, ts)) == json.loads(BODY)


def test_signature_matches_manual_hmac() -> None:
    secret = new_webhook_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    ts = 1_700_000_000
    expected = base64.b64encode(
        hmac.new(key, f"{MSG_ID}.{ts}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert sign([secret], MSG_ID, ts, BODY) == "v1," + expected


def test_rotation_header_holds_one_entry_per_secret_and_both_verify() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    ts = int(time.time())
    signature = sign([new, old], MSG_ID, ts, BODY)
    entries = signature.split(" ")
    assert len(entries) == 2
    assert all(e.startswith("v1,") for e in entries)
    assert entries[0] != entries[1]
    headers = _headers(signature, ts)
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    # A third, unrelated secret still fails against the rotation header.
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, headers)


def test_tampered_body_fails_verification() -> None:
    secret = new_webhook_secret()
    ts = int(time.time())
    signature = sign([secret], MSG_ID, ts, BODY)
    tampered = BODY.replace(b'"d1"', b'"d2"')
    assert tampered != BODY
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, _headers(signature, ts))


def test_tampered_id_or_timestamp_fails_verification() -> None:
    secret = new_webhook_secret()
    ts = int(time.time())
    signature = sign([secret], MSG_ID, ts, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, _headers(signature, ts, msg_id="req_other"))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, _headers(signature, ts - 1))


def test_wrong_secret_fails_verification() -> None:
    secret, other = new_webhook_secret(), new_webhook_secret()
    ts = int(time.time())
    signature = sign([secret], MSG_ID, ts, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, _headers(signature, ts))


def test_signature_is_deterministic_and_secret_dependent() -> None:
    secret = new_webhook_secret()
    ts = 1_700_000_000
    assert sign([secret], MSG_ID, ts, BODY) == sign([secret], MSG_ID, ts, BODY)
    assert sign([secret], MSG_ID, ts, BODY) != sign([new_webhook_secret()], MSG_ID, ts, BODY)
