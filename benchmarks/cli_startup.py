"""Wall time of `wagateway apps list` on an existing SQLite data dir: an earlier revision
against this working tree, interleaved (old, new, old, new, ...), median of each.

    .venv/bin/python benchmarks/cli_startup.py              # against main, 5 runs each
    .venv/bin/python benchmarks/cli_startup.py 66147a7 --runs 9

The earlier revision is checked out with `git worktree` into a temporary directory; each
build's `src` is put first on `PYTHONPATH` for its `wagateway` process (the venv's editable
install may point at another checkout). The data dir is made (and migrated) by this tree
first, with one app in it, so no run pays for a migration. Bytecode is written (and used) as
an installed package would, whatever PYTHONDONTWRITEBYTECODE says: otherwise each run of a
build compiles its modules again. The CPU time (user + system) of each run is printed too:
it varies less than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAGATEWAY = str(Path(sys.executable).parent / "wagateway")


def _env(src: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGW_")}
    env["PYTHONPATH"] = str(src)
    env["WAGW_DATA_DIR"] = str(data_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(src: Path, data_dir: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `wagateway` run."""
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run([WAGATEWAY, *args], env=_env(src, data_dir), check=True, capture_output=True)
    return time.perf_counter() - started, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", default="main", help="the earlier build")
    parser.add_argument("--runs", type=int, default=5, help="runs of each build")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wagw-cli-startup-") as tmp:
        old_tree = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree), args.revision],
            check=True,
            capture_output=True,
        )
        try:
            data_dir = Path(tmp) / "data"
            new_src, old_src = ROOT / "src", old_tree / "src"
            _wall(new_src, data_dir, "apps", "create", "benchmark app")
            _wall(old_src, data_dir, "apps", "list")  # warm both builds' file caches
            _wall(new_src, data_dir, "apps", "list")
            times: dict[str, list[float]] = {"old": [], "new": []}
            cpu: dict[str, list[float]] = {"old": [], "new": []}
            for run in range(1, args.runs + 1):
                for build, src in (("old", old_src), ("new", new_src)):
                    seconds, cpu_seconds = _wall(src, data_dir, "apps", "list")
                    times[build].append(seconds)
                    cpu[build].append(cpu_seconds)
                    print(
                        f"run {run} {build} ({args.revision if build == 'old' else 'this tree'}):"
                        f" {seconds:.3f} s wall, {cpu_seconds:.3f} s CPU",
                        flush=True,
                    )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                check=False,
                capture_output=True,
            )
    for label, figures in (("wall", times), ("CPU", cpu)):
        old, new = statistics.median(figures["old"]), statistics.median(figures["new"])
        print(
            f"`wagateway apps list` {label} time, median of {args.runs}: {args.revision} "
            f"{old:.3f} s, this tree {new:.3f} s, {old / new:.2f}x faster"
        )


if __name__ == "__main__":
    main()
