"""Structured logging (structlog) for the gateway and the libraries it runs.

Log lines carry ids and states, never tokens, secrets or QR strings: callers pass only
what is safe, and the redaction processor below is a second guard for known key names.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_REDACTED_KEYS = {
    "token",
    "app_token",
    "secret",
    "webhook_secret",
    "qr",
    "authorization",
    "pin",
    "password",
    "cookie",
    "csrf_token",
    "internal_token",
    "metrics_token",
    "admin_token",
    "x-internal-token",
    "secret_key",
    "s3_secret_access_key",
}


def _redact(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


_TICKET = re.compile(r"([?&]ticket=)[^&\s\"']*")


class _NoStreamTickets(logging.Filter):
    """uvicorn (and the websockets library under it, at DEBUG) log a WebSocket's path with its
    query string, `/events/ws?ticket=…`: a stream ticket opens a stream, so it is redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "ticket=" in record.msg:
            record.msg = _TICKET.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _TICKET.sub(r"\1[redacted]", arg)
                if isinstance(arg, str) and "ticket=" in arg
                else arg
                for arg in record.args
            )
        return True


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    # Tracebacks are plain text in both formats. Never with local variables: structlog's
    # defaults show them (rich's traceback on the console, `dict_tracebacks` in JSON), and a
    # frame's locals hold tokens, passwords and request headers.
    renderers: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log prints full URLs; ours is enough and is kept free of secrets.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NoStreamTickets) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(_NoStreamTickets())
