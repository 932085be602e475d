"""What keeps a CLI command's start short: the modules it does not import, and the schema
head read without Alembic (the e2e side is tests/e2e/test_cli_startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wagateway.core import migrate
from wagateway.core.migrate import declared_head, migration_scripts

# The server's and the ops commands' dependencies, and the libraries only needed when
# something is logged or migrated.
NOT_FOR_A_DATABASE_COMMAND = (
    "fastapi",
    "starlette",
    "uvicorn",
    "aiohttp",
    "structlog",
    "alembic",
    "wagateway.gateway",
    "wagateway.main",
    "wagateway.engines",
    "wagateway.delivery",
    "wagateway.local_api",
)


def test_the_cli_module_imports_no_server_part() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, wagateway.cli; print(json.dumps(sorted(sys.modules)))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    modules = json.loads(loaded.stdout)
    unexpected = [
        name
        for name in modules
        for heavy in NOT_FOR_A_DATABASE_COMMAND
        if name == heavy or name.startswith(heavy + ".")
    ]
    assert unexpected == []
    assert "wagateway.apps.service" in modules  # the check looks at a real import


def test_the_head_read_without_alembic_is_alembics() -> None:
    assert declared_head() == migration_scripts().get_current_head()


def _versions(tmp_path: Path, scripts: dict[str, str]) -> Path:
    (tmp_path / "versions").mkdir(parents=True)
    for name, body in scripts.items():
        (tmp_path / "versions" / name).write_text(body)
    return tmp_path


def test_scripts_the_reader_cannot_follow_are_left_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_heads = _versions(
        tmp_path / "two",
        {
            "a.py": 'revision = "a"\ndown_revision = None\n',
            "b.py": 'revision = "b"\ndown_revision = "a"\n',
            "c.py": 'revision = "c"\ndown_revision = "a"\n',
        },
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", two_heads)
    assert declared_head() is None

    computed = _versions(
        tmp_path / "computed",
        {
            "a.py": 'revision = "a"\ndown_revision = None\n',
            "b.py": 'revision = "b"\ndown_revision = "a".upper()\n',
        },
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", computed)
    assert declared_head() is None

    merged = _versions(
        tmp_path / "merged",
        {
            "a.py": 'revision = "a"\ndown_revision = None\n',
            "b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
            "c.py": 'revision = "c"\ndown_revision = "a"\n',
            "d.py": 'revision = "d"\ndown_revision = ("b", "c")\n',
        },
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", merged)
    assert declared_head() == "d"
