"""The layers of docs/architecture.md hold: `lint-imports` (import-linter, contract in
`.importlinter`) passes on the tree, and fails on a copy where a lower layer imports a
higher one, however the import is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", str(ROOT / ".importlinter")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


UPWARD_IMPORTS = {
    "module level": "from wagateway.api import deps\n",
    "inside a function": "def _later() -> None:\n    from wagateway.gateway import Gateway  # noqa\n",
    "type checking only": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wagateway.messages.models import Message  # noqa\n",
}


@pytest.mark.parametrize("how", UPWARD_IMPORTS)
def test_a_lower_layer_importing_a_higher_one_fails(tmp_path: Path, how: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "wagateway", copy / "wagateway")
    text_module = copy / "wagateway" / "core" / "text.py"
    text_module.write_text(text_module.read_text() + "\n" + UPWARD_IMPORTS[how])
    result = _lint(copy)
    assert result.returncode != 0, result.stdout
    assert "wagateway.core is not allowed to import" in result.stdout, result.stdout
