"""Every table, imported in one place so Alembic and the app see the same metadata."""

from wagateway.apps.models import App, AppToken
from wagateway.core.db import Base
from wagateway.devices.models import Device
from wagateway.messages.models import IdempotencyKey, Message
from wagateway.sandbox.models import SandboxReceived, SandboxSession
from wagateway.webhooks.models import Event, WebhookAttempt

__all__ = [
    "App",
    "AppToken",
    "Base",
    "Device",
    "Event",
    "IdempotencyKey",
    "Message",
    "SandboxReceived",
    "SandboxSession",
    "WebhookAttempt",
]
