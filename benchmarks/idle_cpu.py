"""What an idle gateway costs: the CPU its server process and webhook worker use while nothing
happens, with the default settings and with a baseline's (by default the short poll intervals
the test suite used before the idle loops learned to sleep until their next due time), one
after the other in the same run (Linux only: reads /proc).

    .venv/bin/python benchmarks/idle_cpu.py                 # 30 s each
    .venv/bin/python benchmarks/idle_cpu.py --seconds 60 --baseline WAGW_WEBHOOK_POLL_INTERVAL=0.1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.harness import GatewayServer  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FORMER_TEST_POLLING = ["WAGW_WEBHOOK_POLL_INTERVAL=0.1", "WAGW_SEND_POLL_INTERVAL=0.2"]


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU (user + system) of `pid` and its children, by command line."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    found: dict[str, float] = {}
    for process in [pid, *map(int, children.stdout.split())]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{process}/cmdline").read_text().replace("\0", " ")
        except FileNotFoundError:
            continue
        kind = "webhook worker" if "worker_process" in command else "gateway server"
        found[kind] = found.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def idle_cost(env: list[str], seconds: float) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="wagw-idle-"))
    extra = dict(item.split("=", 1) for item in env)
    gateway = GatewayServer(data_dir, "", extra_env=extra).start()
    try:
        assert gateway.proc is not None
        time.sleep(3)  # past start-up work
        before = cpu_seconds(gateway.proc.pid)
        time.sleep(seconds)
        after = cpu_seconds(gateway.proc.pid)
    finally:
        gateway.stop()
    return {kind: after[kind] - before.get(kind, 0.0) for kind in after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--baseline", nargs="*", default=FORMER_TEST_POLLING, help="NAME=VALUE settings"
    )
    args = parser.parse_args()
    runs = {"defaults": idle_cost([], args.seconds)}
    runs["baseline " + " ".join(args.baseline)] = idle_cost(args.baseline, args.seconds)
    totals = {name: sum(cost.values()) for name, cost in runs.items()}
    for name, cost in runs.items():
        parts = ", ".join(f"{kind} {value:.2f} s" for kind, value in sorted(cost.items()))
        share = totals[name] / args.seconds * 100
        print(
            f"{name}: {totals[name]:.2f} s CPU in {args.seconds:.0f} s ({share:.1f} % of a core: {parts})"
        )
    baseline = list(totals.values())[1]
    if baseline:
        print(f"defaults / baseline: {totals['defaults'] / baseline:.2f}")


if __name__ == "__main__":
    main()
