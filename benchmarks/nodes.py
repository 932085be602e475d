"""N gateway nodes against one node, same invocation, interleaved (issue 20).

Runs `messaging.py --postgres --nodes 1` and `messaging.py --postgres --nodes N` in turn
(1, N, 1, N, ... for `--pairs`), each on a fresh database with the shared S3 media store
(moto), and prints every run, the medians and the ratios N-node / 1-node: end-to-end and
accepted msg/s, POST -> 202 and 202 -> read p50/p99, gateway CPU per message (all nodes,
all their processes) and PostgreSQL backends' CPU per message.

    .venv/bin/python benchmarks/nodes.py --nodes 2 --pairs 2 -- --messages 300 --concurrency 64

Arguments after `--` go to every `messaging.py` run (`--postgres --no-baseline` are always
added). On a machine with few cores the nodes share them with each other, the database,
the client and the receiver: the ratio is what a second node costs or brings *here*, not
what it brings on its own machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIGURES = [
    # (key in messaging.py's --result-json, label, format)
    ("e2e_rate", "e2e msg/s", "{:.1f}"),
    ("accepted_rate", "accepted msg/s", "{:.1f}"),
    ("api_p50_ms", "202 p50 ms", "{:.0f}"),
    ("api_p99_ms", "202 p99 ms", "{:.0f}"),
    ("read_p50_ms", "read p50 ms", "{:.0f}"),
    ("read_p99_ms", "read p99 ms", "{:.0f}"),
    ("cpu_ms_per_msg", "CPU ms/msg", "{:.2f}"),
    ("pg_ms_per_msg", "PG ms/msg", "{:.2f}"),
]


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_once(nodes: int, bench_args: list[str], out_dir: Path, index: int) -> dict[str, Any]:
    result = out_dir / f"run-{index}-{nodes}.json"
    log = out_dir / f"run-{index}-{nodes}.log"
    cmd = [
        sys.executable,
        str(HERE / "messaging.py"),
        "--postgres",
        "--no-baseline",
        "--nodes",
        str(nodes),
        "--result-json",
        str(result),
        *bench_args,
    ]
    load = _loadavg()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached the child too (same process group): it stops its servers and
            # drops its database; give it the time, then insist (SIGTERM = Ctrl-C there).
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
            raise
    text = log.read_text(errors="replace")
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(
            f"messaging.py --nodes {nodes} failed (exit {proc.returncode}):\n{text[-3000:]}"
        )
    figures: dict[str, Any] = json.loads(result.read_text())
    figures["load_before"] = load
    figures["log_lines"] = [
        line
        for line in text.splitlines()
        if line.startswith("WARNING") or line.startswith("  20")  # problems, server log lines
    ]
    return figures


def _fmt(value: Any, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def _print_run(run: dict[str, Any]) -> None:
    cells = " ".join(f"{_fmt(run.get(k), f):>14}" for k, _, f in FIGURES)
    print(
        f"{run['nodes']:>5} {str(run['nodes_owned']):>10} {cells}  {run['load_before']}",
        flush=True,
    )


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Arguments after -- go to messaging.py."
    )
    parser.add_argument("--nodes", type=int, default=2, help="nodes against 1 (default 2)")
    parser.add_argument(
        "--pairs", type=int, default=2, help="1-node/N-node pairs, interleaved (default 2)"
    )
    argv = sys.argv[1:]
    bench_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.nodes < 2 or args.pairs < 1:
        parser.error("--nodes must be at least 2 and --pairs at least 1")
    print(f"cpus {os.cpu_count()} | messaging.py args: {' '.join(bench_args) or '(defaults)'}")
    header = " ".join(f"{label:>14}" for _, label, _ in FIGURES)
    print(f"{'nodes':>5} {'owned':>10} {header}  load before")
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="wagw-nodes-") as tmp:
            index = 0
            for _ in range(args.pairs):
                for nodes in (1, args.nodes):
                    run = run_once(nodes, bench_args, Path(tmp), index)
                    index += 1
                    runs.append(run)
                    _print_run(run)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    one = [r for r in runs if r["nodes"] == 1]
    many = [r for r in runs if r["nodes"] == args.nodes]
    print()
    print(f"{'':>16} " + " ".join(f"{label:>14}" for _, label, _ in FIGURES))
    medians = {}
    for name, group in (("median 1 node", one), (f"median {args.nodes} nodes", many)):
        medians[name] = {k: _median(group, k) for k, _, _ in FIGURES}
        print(f"{name:>16} " + " ".join(f"{_fmt(medians[name][k], f):>14}" for k, _, f in FIGURES))
    ratios = []
    for k, _, _ in FIGURES:
        a, b = medians["median 1 node"][k], medians[f"median {args.nodes} nodes"][k]
        ratios.append(f"{b / a:.2f}" if a and b is not None else "n/a")
    print(f"{'ratio N / 1':>16} " + " ".join(f"{r:>14}" for r in ratios))
    for n, (a, b) in enumerate(zip(one, many, strict=True)):
        pair = []
        for k, _, _ in FIGURES:
            x, y = a.get(k), b.get(k)
            pair.append(f"{y / x:.2f}" if x and y is not None else "n/a")
        print(f"{'pair ' + str(n + 1) + ' N / 1':>16} " + " ".join(f"{r:>14}" for r in pair))
    problems = [(r["nodes"], line) for r in runs for line in r["log_lines"]]
    if problems:
        print("\nwarnings and server log lines (level warning), first of each kind, with counts:")
        kinds: dict[str, list[Any]] = {}
        for nodes, line in problems:
            # A server log line: its event name, after the level; a warning: its first words.
            key = line.split("]", 1)[-1].split()[0] if line.startswith("  20") else line[:60]
            kinds.setdefault(key, [0, nodes, line])[0] += 1
        for count, nodes, line in kinds.values():
            print(f"  {count}x, e.g. [{nodes} node(s)] {line.strip()[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
