"""Garbage-collector settings for the gateway's long-running processes.

Measured in `benchmarks/messaging.py` (10 devices x 400 messages, the server process
watched through `gc.callbacks`): with CPython's defaults the server ran 11 full (gen2)
collections of up to 114 ms each, about 1 s of its 4.9 s of CPU, because every full
collection walks everything alive since startup: modules, SQLAlchemy's and pydantic's
caches, the FastAPI app. Nearly none of that ever becomes garbage.

- `gc.freeze()` once startup is done moves what exists then out of the collector's sight
  (CPython's documented use: "after ... initialization"), so later full collections only
  walk what the process made since.
- A first generation of 10,000 objects instead of 700: a request or a group commit makes
  thousands of short-lived containers that reference counting frees anyway; collecting
  every 700 allocations mostly re-scans the same live request state.

Together: server CPU 1.34 -> 1.05 ms per message in that run (see docs/architecture.md
for the interleaved comparison).
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 20)


def settle_after_startup() -> None:
    """Call once a process has finished starting: collect what startup left behind, freeze
    the survivors and set the thresholds above."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
