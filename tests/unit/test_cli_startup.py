"""What keeps a CLI command's start short: the modules it does not import, and the schema
head read without Alembic (the e2e side is tests/e2e/test_cli_startup.py). `serve` listens
before it loads anything of the database's (core/starting_front.py)."""

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
# What `serve` must not import before it listens: the command line is parsed, the settings
# read and logging set up with none of them.
NOT_BEFORE_LISTENING = (*NOT_FOR_A_DATABASE_COMMAND, "sqlalchemy", "wagateway.apps.service")


def _loaded_by(code: str) -> list[str]:
    loaded = subprocess.run(
        [sys.executable, "-c", f"import json, sys; {code}; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return list(json.loads(loaded.stdout))


def _among(modules: list[str], heavy: tuple[str, ...]) -> list[str]:
    return [m for m in modules for h in heavy if m == h or m.startswith(h + ".")]


def test_the_cli_module_imports_no_server_part() -> None:
    assert _among(_loaded_by("import wagateway.cli"), NOT_BEFORE_LISTENING) == []
    # A database command (`apps create`, say) imports its side of the gateway when it runs,
    # and still no server part.
    modules = _loaded_by("import wagateway.cli, wagateway.cli_context, wagateway.apps.service")
    assert _among(modules, NOT_FOR_A_DATABASE_COMMAND) == []
    assert "sqlalchemy" in modules  # the check looks at a real import


def test_serve_imports_nothing_of_the_database_before_it_listens() -> None:
    # What `serve` runs before uvicorn listens: its imports, the settings, logging.
    modules = _loaded_by(
        "import wagateway.cli as cli, uvicorn; "
        "from wagateway.core.http_protocol import HeadCappedHttpToolsProtocol; "
        "from wagateway.core.starting_front import StartingFront; cli._prepare()"
    )
    assert "uvicorn" in modules and "wagateway.core.starting_front" in modules
    assert _among(modules, ("sqlalchemy", "wagateway.apps.service", "fastapi", "aiohttp")) == []


# What the gateway imports only once it needs it: the first migration, dashboard page,
# webhook or media fetch, whatsmeow store on PostgreSQL, Redis limiter, whatsmeow worker or S3
# read. Each is a share of the time before a node answers (benchmarks/README.md, "Start-up
# with many devices").
LOADED_ON_DEMAND = (
    "alembic",
    "jinja2",
    "aiohttp",
    "asyncpg",
    "redis",
    "neonize",
    "aiobotocore",
    "botocore",
)


def test_the_loaded_gateway_imports_nothing_it_uses_only_on_demand(tmp_path: Path) -> None:
    modules = _loaded_by(
        "from wagateway.core.settings import Settings; from wagateway.main import create_app; "
        f"create_app(Settings(data_dir={str(tmp_path)!r}))"
    )
    assert "wagateway.main" in modules and "fastapi" in modules
    assert _among(modules, LOADED_ON_DEMAND) == []


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


def test_a_command_imports_with_the_collector_off_and_runs_with_it_on(tmp_path: Path) -> None:
    """`wagateway` switches the collector off before a command imports (imports make objects
    by the hundred thousand and free next to none) and back on before the command's work."""
    probe = (
        "import gc, json, sys\n"
        "import wagateway.core.gc_tuning as tuning\n"
        "settle, seen = tuning.settle_after_startup, {}\n"
        "def watched():\n"
        "    seen['collecting_before'] = gc.isenabled()\n"
        "    seen['database_side_imported'] = 'wagateway.cli_context' in sys.modules\n"
        "    settle()\n"
        "tuning.settle_after_startup = watched\n"
        "sys.argv = ['wagateway', 'apps', 'list', '--json']\n"
        "from wagateway.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "seen['collecting_after'] = gc.isenabled()\n"
        "print(json.dumps(seen), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "WAGW_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.stdout.strip() == "[]", result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == {
        "collecting_before": False,
        "database_side_imported": True,
        "collecting_after": True,
    }
