"""wrk, the HTTP load generator the rate-limit burst test drives (Debian package `wrk`).

Where it is missing the test skips with the reason; CI installs it and sets
WAGW_TEST_REQUIRE_LOAD_TOOL=1, which turns that skip into a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.requirements import missing

# Counts answers by status, and 429s that came without Retry-After, in wrk's one thread.
_COUNTING_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; limited = 0; other = 0; no_retry_after = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 429 then
    limited = limited + 1
    if headers["retry-after"] == nil and headers["Retry-After"] == nil then
      no_retry_after = no_retry_after + 1
    end
  else other = other + 1 end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("COUNTS ok=%d limited=%d other=%d no_retry_after=%d\\n",
      t:get("ok"), t:get("limited"), t:get("other"), t:get("no_retry_after")))
  end
  io.write(string.format("DURATION_US %d\\n", summary.duration))
end
"""


@dataclass
class WrkRun:
    ok: int
    limited: int
    other: int
    no_retry_after: int
    seconds: float


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        problem = "wrk is not installed (apt-get install wrk)"
        missing(problem, "WAGW_TEST_REQUIRE_LOAD_TOOL")
    return found


def start_wrk(
    url: str, token: str, seconds: int, connections: int, script_dir: Path
) -> subprocess.Popen[str]:
    script = script_dir / "count.lua"
    script.write_text(_COUNTING_SCRIPT)
    return subprocess.Popen(
        [
            wrk_path(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wrk_result(proc: subprocess.Popen[str]) -> WrkRun:
    out, _ = proc.communicate(timeout=60)
    counts = re.search(r"COUNTS ok=(\d+) limited=(\d+) other=(\d+) no_retry_after=(\d+)", out)
    duration = re.search(r"DURATION_US (\d+)", out)
    assert counts and duration, out
    ok, limited, other, no_retry = (int(g) for g in counts.groups())
    return WrkRun(ok, limited, other, no_retry, int(duration.group(1)) / 1e6)
