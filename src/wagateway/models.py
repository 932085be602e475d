"""Every table, imported in one place so Alembic and the app see the same metadata."""

from wagateway.apps.models import App, AppToken
from wagateway.audit.models import AuditEntry, LoginFailure
from wagateway.cluster.models import ClusterNode, ClusterSetting, DeviceOwner
from wagateway.core.db import Base
from wagateway.devices.models import Device
from wagateway.messages.models import IdempotencyKey, Message
from wagateway.operators.models import Operator, OperatorSession, ProjectMember
from wagateway.sandbox.models import (
    SandboxGroup,
    SandboxGroupMember,
    SandboxNetworkEntry,
    SandboxReceived,
    SandboxSession,
)
from wagateway.webhooks.models import (
    Event,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookFailure,
    WebhookRedelivery,
    WebhookStream,
)

__all__ = [
    "App",
    "AppToken",
    "AuditEntry",
    "Base",
    "ClusterNode",
    "ClusterSetting",
    "Device",
    "DeviceOwner",
    "Event",
    "IdempotencyKey",
    "LoginFailure",
    "Message",
    "Operator",
    "OperatorSession",
    "ProjectMember",
    "SandboxGroup",
    "SandboxGroupMember",
    "SandboxNetworkEntry",
    "SandboxReceived",
    "SandboxSession",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookFailure",
    "WebhookRedelivery",
    "WebhookStream",
]
