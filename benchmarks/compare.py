"""Compare this working tree with an earlier revision on `messaging.py`, interleaved.

This machine's speed drifts by tens of percent from minute to minute, so two runs made
one after the other say little. This script alternates the two builds run by run (old,
new, old, new, ...) and prints each run and the medians:

    .venv/bin/python benchmarks/compare.py b43d17c --pairs 4 -- --messages 300 --concurrency 64

The old build is checked out with `git worktree` into a temporary directory; each build's
`src` is put first on `PYTHONPATH` (the gateway and its webhook worker inherit it; the venv's
editable install may point at another checkout); the benchmark script
itself is this tree's, for both. Arguments after `--` go to `messaging.py`
(`--no-baseline` is always added).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"accepted ([0-9.]+) msg/s, end to end ([0-9.]+) msg/s")
SPLIT = re.compile(r"server process ([0-9.]+) ms and its children .* ([0-9.]+) ms per message")


@dataclass
class Run:
    build: str
    accepted: float
    end_to_end: float
    server_ms: float
    children_ms: float


def run_once(build: str, pythonpath: str, bench_args: list[str]) -> Run | None:
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "messaging.py"), "--no-baseline", *bench_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    summary, split = SUMMARY.search(out), SPLIT.search(out)
    if summary is None or split is None:
        print(f"{build}: no summary (run failed?)\n{out[-2000:]}", file=sys.stderr)
        return None
    return Run(
        build,
        float(summary.group(1)),
        float(summary.group(2)),
        float(split.group(1)),
        float(split.group(2)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Arguments after -- go to messaging.py."
    )
    parser.add_argument("revision", help="the earlier revision (anything git can check out)")
    parser.add_argument("--pairs", type=int, default=4, help="old/new pairs (default 4)")
    argv = sys.argv[1:]
    bench_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    with tempfile.TemporaryDirectory(prefix="wagw-compare-") as tmp:
        tree = Path(tmp) / "old"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), args.revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            runs: list[Run] = []
            print("build  accepted  end-to-end  server ms/msg  children ms/msg")
            for _ in range(args.pairs):
                # Each build first on PYTHONPATH: the venv's editable install may point at
                # another checkout than this one (a git worktree of it, say).
                for build, path in (("old", str(tree / "src")), ("new", str(ROOT / "src"))):
                    run = run_once(build, path, bench_args)
                    if run is not None:
                        runs.append(run)
                        print(
                            f"{run.build:5} {run.accepted:9.1f} {run.end_to_end:11.1f} "
                            f"{run.server_ms:14.2f} {run.children_ms:16.2f}",
                            flush=True,
                        )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
            )
    for build in ("old", "new"):
        mine = [r for r in runs if r.build == build]
        if not mine:
            continue
        print(
            f"median {build} ({len(mine)} runs): accepted {statistics.median(r.accepted for r in mine):.0f}, "
            f"end to end {statistics.median(r.end_to_end for r in mine):.0f} msg/s, "
            f"server {statistics.median(r.server_ms for r in mine):.2f} ms/msg, "
            f"children {statistics.median(r.children_ms for r in mine):.2f} ms/msg"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
