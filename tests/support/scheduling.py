"""How pytest-xdist hands the suite to its workers.

A test module's end-to-end tests share one real server per database backend (the
module-scoped `server` fixture in tests/conftest.py). The unit of work given to a worker is
therefore a module *and backend*: a module's SQLite half and its PostgreSQL half can run on
two workers at once, each with its own server, and no server is started twice.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

from tests.support.databases import BACKENDS


def backend_of(nodeid: str) -> str:
    """The database backend a test runs on, from its parameter id (`test_x[postgresql-…]`)."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return ""
    params = nodeid[nodeid.index("[") + 1 : -1].split("-")
    return next((p for p in params if p in BACKENDS), "")


class ModuleAndBackendScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        backend = backend_of(nodeid)
        return f"{module}[{backend}]" if backend else module
