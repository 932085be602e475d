"""Which failures say the database is out of reach (core/errors.py): the API answers those
503 with Retry-After instead of 500 (tests/e2e/test_cluster_faults.py restarts PostgreSQL
under load)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa

from wagateway.core.errors import database_unreachable


def _wrapped(orig: Exception, invalidated: bool = False) -> sa.DBAPIError:
    return sa.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation")),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.InterfaceError("connection is closed")),
        _wrapped(ValueError("whatever the driver said"), invalidated=True),
        sa.TimeoutError("QueuePool limit reached"),
    ],
)
def test_the_database_out_of_reach(failure: Exception) -> None:
    assert database_unreachable(failure)


def test_raised_from_one() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as cause:
            raise RuntimeError("could not load the app") from cause
    except RuntimeError as exc:
        assert database_unreachable(exc)


@pytest.mark.parametrize(
    "failure",
    [
        ValueError("a bug"),
        KeyError("x"),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        sa.IntegrityError("INSERT", None, ValueError("constraint")),
    ],
)
def test_other_failures_are_not(failure: Exception) -> None:
    assert not database_unreachable(failure)
