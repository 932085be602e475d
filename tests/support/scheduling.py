"""How pytest-xdist hands the suite to its workers.

A test module's end-to-end tests share one real server per database backend (the
module-scoped `server` fixture in tests/conftest.py). The unit of work given to a worker is
therefore a module *and backend*: a module's SQLite half and its PostgreSQL half can run on
two workers at once, each with its own server, and no server is started twice.

The units are handed out longest first, by the time each took in a whole run
(`scope_durations.json`): xdist's own order, most tests first, left the suite's longest units
(one fuzz or cluster test of a minute each) to the end, where one worker ran them while the
others had nothing left. A unit the file does not know counts a second per test. Refresh the
file from a run's `--durations=0` output:

    scripts/test --durations=0 | tee /tmp/run.log
    .venv/bin/python -m tests.support.scheduling /tmp/run.log
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.support.databases import BACKENDS

DURATIONS = Path(__file__).with_name("scope_durations.json")


def backend_of(nodeid: str) -> str:
    """The database backend a test runs on, from its parameter id (`test_x[postgresql-…]`)."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return ""
    params = nodeid[nodeid.index("[") + 1 : -1].split("-")
    return next((p for p in params if p in BACKENDS), "")


def scope_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    backend = backend_of(nodeid)
    return f"{module}[{backend}]" if backend else module


def longest_scopes_first(items: list[pytest.Item]) -> None:
    """Order the collected tests so that the units of work come longest first; a unit's
    tests keep their order. Every worker collects, and sorts, the same way."""
    known: dict[str, float] = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    counts = Counter(scope_of(item.nodeid) for item in items)
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(scope_of(item.nodeid), index)

    def key(item: pytest.Item) -> tuple[float, int]:
        scope = scope_of(item.nodeid)
        return (-known.get(scope, float(counts[scope])), first_seen[scope])

    items.sort(key=key)


class ModuleAndBackendScheduling(LoadScopeScheduling):
    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)  # type: ignore[arg-type]
        # Units go out in collection order, which `longest_scopes_first` made.
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)


def _durations_from(log: str) -> dict[str, float]:
    """Seconds per unit (setup, call and teardown) from pytest's `--durations=0` lines."""
    seconds: Counter[str] = Counter()
    for line in log.splitlines():
        found = re.match(r"([\d.]+)s (?:setup|call|teardown)\s+(\S.*?)\s*$", line)
        if found:
            seconds[scope_of(found.group(2))] += float(found.group(1))
    return {scope: round(total, 1) for scope, total in sorted(seconds.items())}


if __name__ == "__main__":
    measured = _durations_from(Path(sys.argv[1]).read_text())
    if not measured:
        raise SystemExit("no --durations=0 lines in that file")
    DURATIONS.write_text(json.dumps(measured, indent=0, sort_keys=True) + "\n")
    print(f"{len(measured)} units, {sum(measured.values()):.0f} s, written to {DURATIONS}")
