"""Webhooks: the outbox, the dispatcher, and for receivers `verify` (see verification.py)."""

from wagateway.webhooks.verification import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
