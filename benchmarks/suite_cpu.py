"""Where a command's CPU goes, by kind of process: run it (the test suite, by default) while
sampling /proc, and print the CPU seconds of gateway servers, webhook workers, engine
workers, CLI processes, the test processes, PostgreSQL, Chromium… (Linux only).

    .venv/bin/python benchmarks/suite_cpu.py                 # the whole suite, 3 workers
    .venv/bin/python benchmarks/suite_cpu.py -- .venv/bin/pytest -q -n 3 tests/e2e

A process is counted from the sample it is first seen in, so one that starts and ends between
two samples (every 0.25 s) is missed: the figures are a lower bound for short-lived processes
such as CLI commands. Processes that ran before the command started count only their growth.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT = [str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider", "-n", "3"]

# (kind, a piece of the command line that says so), first match wins.
KINDS = (
    ("postgres", "postgres"),
    ("chromium", "chrom"),
    ("webhook worker", "delivery.worker_process"),
    ("engine worker", "engines.workers"),
    ("gateway server", "wagateway serve"),
    ("CLI", "bin/wagateway"),
    ("test process (xdist worker)", "exec(eval(sys.stdin"),
    ("pytest", "pytest"),
    ("nginx", "nginx"),
    ("wrk", "wrk"),
)


def kind_of(command_line: str) -> str:
    return next((kind for kind, marker in KINDS if marker in command_line), "other")


def cpu_seconds() -> dict[tuple[str, str], tuple[float, str]]:
    """(pid, start time) → (CPU seconds so far, command line) of every process."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, UnicodeDecodeError):
            continue  # gone meanwhile, or a kernel thread
        used = (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime + stime
        found[(pid, stat[19])] = (used, command_line)
    return found


def sample(totals: dict[str, float], done: threading.Event, interval: float) -> None:
    last = cpu_seconds()
    while not done.wait(interval):
        now = cpu_seconds()
        for key, (used, command_line) in now.items():
            before = last[key][0] if key in last else 0.0
            kind = kind_of(command_line)
            totals[kind] = totals.get(kind, 0.0) + used - before
        last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("command", nargs="*", help="after --: the command (default: the suite)")
    args = parser.parse_args()
    command = args.command or [*DEFAULT, "tests"]
    totals: dict[str, float] = {}
    done = threading.Event()
    sampler = threading.Thread(target=sample, args=(totals, done, args.interval), daemon=True)
    sampler.start()
    started = time.monotonic()
    returncode = subprocess.call(command)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    print(f"\n{' '.join(command)}: exit {returncode}, {wall:.0f} s wall")
    for kind, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        if seconds >= 0.5:
            print(f"{seconds:8.1f} s CPU  {kind}")
    print(f"{sum(totals.values()):8.1f} s CPU  in all ({sum(totals.values()) / wall:.2f} cores)")
    sys.exit(returncode)


if __name__ == "__main__":
    main()
