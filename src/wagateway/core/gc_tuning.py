"""Garbage-collector settings for the gateway's long-running processes.

Watched through `gc.callbacks` under `benchmarks/messaging.py`: with CPython's defaults the
server spent a good share of its CPU in full (gen2) collections, because every full
collection walks everything alive since startup: modules, SQLAlchemy's and pydantic's
caches, the FastAPI app. Nearly none of that ever becomes garbage.

- `gc.freeze()` once startup is done moves what exists then out of the collector's sight
  (CPython's documented use: "after ... initialization"), so later full collections only
  walk what the process made since.
- A first generation of 10,000 objects instead of 700: a request or a group commit makes
  thousands of short-lived containers that reference counting frees anyway; collecting
  every 700 allocations mostly re-scans the same live request state.

What it gained, interleaved against the defaults, is in the decisions log of
benchmarks/README.md.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 20)


def settle_after_startup() -> None:
    """Call once a process has finished starting: freeze what exists, set the thresholds
    above, and switch the collector on if startup had switched it off.

    No collection first: startup leaves little cyclic garbage behind, and a collection walks
    every object alive, on the way to the node's first answer (figures in benchmarks/README.md,
    "Start-up with many devices")."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    gc.enable()
