"""The API's OpenAPI description as `/openapi.json` serves it, built in process (no server):
the input of `scripts/generate-client`, and what `tests/unit/test_python_client_in_sync.py`
compares the committed `clients/python/openapi.json` with.

Deterministic: default settings (no `WAGW_*` variable, no `.env` file read) but for an admin
token (a random one, which the description never shows), so that the admin API is described
too; a throwaway data directory (nothing is written: the lifespan does not run); keys sorted.

    python scripts/openapi_spec.py OUT.json [GENERATOR_INPUT.json]

The generator's input (`generator_input`) is the same description with FastAPI's long operation
ids (`create_device_devices_post`) cut back to the route's function name (`create_device`): the
client's function names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any


def spec_text() -> str:
    """The description, as the text committed in `clients/python/openapi.json`."""
    from wagateway.core.settings import Settings
    from wagateway.main import create_app

    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("WAGW_")}
    try:
        with tempfile.TemporaryDirectory(prefix="wagw-openapi-") as data_dir:
            settings = Settings(
                _env_file=None, data_dir=Path(data_dir), admin_token=secrets.token_urlsafe(32)
            )
            spec = create_app(settings).openapi()
    finally:
        os.environ.update(saved)
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generator_input(text: str) -> str:
    """The description the client is generated from: each operation id without the path and
    method FastAPI appends (its `generate_unique_id`), unless another operation of its tag has
    that name too (both keep their long ids). A tag is one module of the client's `api`
    package, so `app.get_app` and `admin.get_app` can share a name: openapi-python-client
    (pinned) names functions by tag, and the input is ours alone."""
    spec: dict[str, Any] = json.loads(text)
    short: dict[int, tuple[str, str]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            suffix = re.sub(r"\W", "_", path) + "_" + method
            operation_id: str = operation["operationId"]
            name = operation_id
            if operation_id.endswith(suffix) and len(operation_id) > len(suffix):
                name = operation_id[: -len(suffix)]
            tag = str((operation.get("tags") or [""])[0])
            short[id(operation)] = (tag, name)
    taken: dict[tuple[str, str], int] = {}
    for tag_and_name in short.values():
        taken[tag_and_name] = taken.get(tag_and_name, 0) + 1
    for item in spec["paths"].values():
        for operation in item.values():
            found = short.get(id(operation)) if isinstance(operation, dict) else None
            if found is not None and taken[found] == 1:
                operation["operationId"] = found[1]
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def tree_digest(package: Path) -> str:
    """A digest of a generated package (paths and bytes of its `.py` and `py.typed` files):
    recorded at generation, compared by the in-sync test."""
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*")):
        if file.is_file() and (file.suffix == ".py" or file.name == "py.typed"):
            digest.update(file.relative_to(package).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python scripts/openapi_spec.py OUT.json [GENERATOR_INPUT.json]")
    text = spec_text()
    Path(sys.argv[1]).write_text(text, encoding="utf-8")
    if len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(generator_input(text), encoding="utf-8")
