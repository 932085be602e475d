"""The secrets that sign an app's deliveries (read from the app by the dispatcher)."""

from __future__ import annotations

from datetime import datetime

from wagateway.apps.models import App
from wagateway.core.db import utcnow
from wagateway.core.secrets import SecretBox


def signing_secrets(box: SecretBox, app: App, now: datetime | None = None) -> list[str]:
    """Secrets that sign a delivery now: the current one, plus the previous during its grace."""
    now = now or utcnow()
    secrets = [box.decrypt(app.webhook_secret_enc)]
    if (
        app.webhook_secret_prev_enc
        and app.webhook_secret_prev_until
        and app.webhook_secret_prev_until > now
    ):
        secrets.append(box.decrypt(app.webhook_secret_prev_enc))
    return secrets
