"""Webhooks: the outbox, event states and signing (`delivery/` sends the events), and for
receivers `verify` (see verification.py)."""

from wagateway.webhooks.verification import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
