"""Log output never carries secrets: tracebacks without local variables (structlog's defaults
would print them), and known secret-bearing keys redacted. Each case runs in a process of
its own, as logging's configuration is global."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import structlog
from wagateway.core.logging import configure_logging
configure_logging("debug", {fmt!r})
log = structlog.get_logger("probe")

def handler(token):
    password = "pw-LOCALSECRET-2"
    raise ValueError("boom in handler")

try:
    handler("wag_LOCALSECRET-1")
except ValueError:
    log.exception("unhandled_error", path="/x")

import logging
try:
    handler("wag_LOCALSECRET-3")
except ValueError:
    logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

log.info("probe", app_token="wag_KEYSECRET-4", password="KEYSECRET-5", csrf_token="KEYSECRET-6")
"""


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_keep_no_locals_and_secret_keys_are_redacted(fmt: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fmt=fmt)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    output = result.stdout + result.stderr
    # The tracebacks are there (both ours and a library's through the stdlib)...
    assert output.count("ValueError: boom in handler") == 2, output
    assert "in handler" in output
    # ...without the frames' variables, and keys known to hold secrets are redacted.
    assert "LOCALSECRET" not in output, output
    assert "KEYSECRET" not in output, output
    assert output.count("[redacted]") == 3, output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_errors_do_not_quote_the_statement_values(backend: str, tmp_path) -> None:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from tests.support.databases import PG_ADMIN_URL, provider_for
    from wagateway.core.db import create_engine
    from wagateway.core.settings import Settings

    provider_for(backend)  # skips when PostgreSQL is not reachable
    url = Settings(
        data_dir=tmp_path, database_url="" if backend == "sqlite" else PG_ADMIN_URL
    ).resolved_database_url

    async def fail() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(
                    text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "csrf-SECRET"}
                )
        except DBAPIError as exc:
            return str(exc)
        finally:
            await engine.dispose()
        raise AssertionError("the statement did not fail")

    message = asyncio.run(fail())
    assert "no_such_table" in message and "csrf-SECRET" not in message, message
