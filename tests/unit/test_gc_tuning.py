"""The gateway's processes freeze their startup heap and collect young objects less
often (core/gc_tuning.py): a full collection then no longer walks everything that startup
created, which cost the server about a fifth of its CPU at volume."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from wagateway.core.gc_tuning import THRESHOLDS
from wagateway.core.migrate import upgrade_to_head
from wagateway.core.settings import Settings
from wagateway.main import create_app


@pytest.fixture
def default_collector() -> Iterator[None]:
    """The test process's own collector settings, restored afterwards."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.enable()


def test_the_gateway_settles_its_heap_once_started(tmp_path: Path, default_collector: None) -> None:
    settings = Settings(data_dir=tmp_path, webhook_process=False)
    upgrade_to_head(settings.resolved_database_url)
    app = create_app(settings)
    seen: dict[str, object] = {}

    async def run() -> None:
        assert gc.get_freeze_count() == 0
        gc.disable()  # as `serve` does while it loads the gateway (cli.py)
        async with app.router.lifespan_context(app):
            seen["collecting"] = gc.isenabled()
            seen["frozen"] = gc.get_freeze_count()
            seen["thresholds"] = gc.get_threshold()
            # What the app built at startup is among the frozen objects.
            seen["gateway_frozen"] = not gc.is_tracked(app.state.gateway) or (
                app.state.gateway not in gc.get_objects()
            )

    asyncio.run(run())
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000
    assert seen["thresholds"] == THRESHOLDS
    assert seen["collecting"] is True
    assert seen["gateway_frozen"] is True
