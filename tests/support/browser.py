"""Headless Chromium for the dashboard tests, through Playwright.

The browser is the system's Chromium (`apt-get install chromium`; Playwright's own download
is not needed). Without it (or without the playwright package) the browser tests skip with
the reason; CI sets WAGW_TEST_REQUIRE_BROWSER=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.requirements import missing

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str | None:
    configured = os.environ.get("WAGW_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium executable, or skip (fail under WAGW_TEST_REQUIRE_BROWSER=1)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        problem = f"the playwright package is not installed ({exc})"
    path = chromium_path()
    if problem is None and path is None:
        problem = "no Chromium found (apt-get install chromium, or set WAGW_TEST_CHROMIUM)"
    if problem is not None:
        missing(problem, "WAGW_TEST_REQUIRE_BROWSER")
    assert path is not None
    return path
