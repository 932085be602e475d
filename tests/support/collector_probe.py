"""A module run by `core.child_process.python_module` in tests: reports whether the
collector was on while it was imported and after the child settled, and its arguments."""

from __future__ import annotations

import gc
import json
import sys

COLLECTING_WHILE_IMPORTED = gc.isenabled()

if __name__ == "__main__":
    from wagateway.core.gc_tuning import settle_after_startup

    settle_after_startup()
    print(
        json.dumps(
            {
                "while_imported": COLLECTING_WHILE_IMPORTED,
                "once_started": gc.isenabled(),
                "argv": sys.argv[1:],
                "main": __name__,
            }
        )
    )
