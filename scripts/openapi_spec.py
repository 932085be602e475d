"""The API's OpenAPI description as `/openapi.json` serves it, built in process (no server):
the input of `scripts/generate-client`, and what `tests/unit/test_python_client_in_sync.py`
compares the committed `clients/python/openapi.json` with.

Deterministic: default settings (no `WAGW_*` variable, no `.env` file read), a throwaway data
directory (nothing is written: the lifespan does not run), keys sorted.

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
            settings = Settings(_env_file=None, data_dir=Path(data_dir))
            spec = create_app(settings).openapi()
    finally:
        os.environ.update(saved)
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generator_input(text: str) -> str:
    """The description the client is generated from: each operation id without the path and
    method FastAPI appends (its `generate_unique_id`), unless another operation has that name
    too (operation ids are unique: both keep their long ids)."""
    spec: dict[str, Any] = json.loads(text)
    operations = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    short: dict[int, str] = {}
    for path, method, operation in operations:
        suffix = re.sub(r"\W", "_", path) + "_" + method
        operation_id = operation["operationId"]
        if operation_id.endswith(suffix) and len(operation_id) > len(suffix):
            short[id(operation)] = operation_id[: -len(suffix)]
    taken: dict[str, int] = {}
    for _, _, operation in operations:
        taken_name = short.get(id(operation)) or str(operation["operationId"])
        taken[taken_name] = taken.get(taken_name, 0) + 1
    for _, _, operation in operations:
        name = short.get(id(operation))
        if name is not None and taken[name] == 1:
            operation["operationId"] = name
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
