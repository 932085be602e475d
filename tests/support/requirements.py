"""A real part a test needs (PostgreSQL, Chromium, wrk, nginx) that this machine lacks: the
test skips with the reason on a newcomer's machine, and fails where CI sets the part's
`WAGW_TEST_REQUIRE_…=1`, so a missing install step cannot pass as a green run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(problem: str, require_variable: str) -> NoReturn:
    if os.environ.get(require_variable) == "1":
        pytest.fail(f"{problem} — {require_variable}=1 makes this a failure")
    pytest.skip(problem)
