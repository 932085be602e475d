"""The secrets that sign an endpoint's deliveries: the app's for the endpoint `default`,
the endpoint's own for every other (read by the dispatcher)."""

from __future__ import annotations

from datetime import datetime

from wagateway.apps.models import App
from wagateway.core.db import utcnow
from wagateway.core.secrets import SecretBox
from wagateway.webhooks.models import DEFAULT_ENDPOINT, WebhookEndpoint


def signing_secrets(
    box: SecretBox, app: App, endpoint: WebhookEndpoint, now: datetime | None = None
) -> list[str]:
    """Secrets that sign a delivery now: the current one, plus the previous during its grace."""
    now = now or utcnow()
    if endpoint.endpoint_id == DEFAULT_ENDPOINT or endpoint.secret_enc is None:
        current, previous, until = (
            app.webhook_secret_enc,
            app.webhook_secret_prev_enc,
            app.webhook_secret_prev_until,
        )
    else:
        current, previous, until = (
            endpoint.secret_enc,
            endpoint.secret_prev_enc,
            endpoint.secret_prev_until,
        )
    secrets = [box.decrypt(current)]
    if previous and until and until > now:
        secrets.append(box.decrypt(previous))
    return secrets
