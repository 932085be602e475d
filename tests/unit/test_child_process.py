"""The supervision both kinds of worker share (core/child_process.py), with tiny real
children: `python -c ...` given their end of the socketpair as `--fd N`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from wagateway.core.child_process import (
    RestartBackoff,
    python_module,
    spawn_child,
    stop_child,
    supervise,
)

# sys.argv of `python -c CODE --fd N` is ["-c", "--fd", "N"].
ECHO_THEN_EXIT_AT_EOF = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[2]))
while data := s.recv(100):
    s.sendall(data.upper())
"""
CRASH = "import sys; sys.exit(3)"
DEAF = "import time; time.sleep(60)"  # never looks at its socket


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_child_talks_over_its_socket_and_exits_when_we_close_it() -> None:
    async def scenario() -> tuple[bytes, int, float]:
        child = await spawn_child(python(ECHO_THEN_EXIT_AT_EOF))
        child.writer.write(b"ping")
        answer = await asyncio.wait_for(child.reader.readexactly(4), 30)
        started = time.monotonic()
        code = await stop_child(child.process, child.writer, grace=30)
        return answer, code, time.monotonic() - started

    answer, code, took = asyncio.run(scenario())
    assert answer == b"PING"
    assert code == 0
    assert took < 20  # it left by itself, long before the grace ran out


def test_stop_kills_a_child_that_does_not_exit_within_its_grace() -> None:
    async def scenario() -> tuple[int, float]:
        child = await spawn_child(python(DEAF))
        started = time.monotonic()
        code = await stop_child(child.process, child.writer, grace=0.5)
        return code, time.monotonic() - started

    code, took = asyncio.run(scenario())
    assert code == -signal.SIGKILL
    assert 0.5 <= took < 30


def test_a_child_that_crashes_is_started_again_after_the_back_off() -> None:
    async def scenario() -> tuple[list[int], list[int], RestartBackoff]:
        pids: list[int] = []
        codes: list[int] = []
        backoff = RestartBackoff((0.05, 0.1), stable_after=3600)

        async def run_once() -> None:
            child = await spawn_child(python(CRASH))
            pids.append(child.pid)
            codes.append(await child.process.wait())
            child.writer.close()

        await asyncio.wait_for(
            supervise(run_once, backoff, lambda: len(codes) >= 3, "test_child"), 60
        )
        return pids, codes, backoff

    pids, codes, backoff = asyncio.run(scenario())
    assert codes == [3, 3, 3]
    assert len(set(pids)) == 3  # a new process each time
    assert backoff.crashes == 2  # the third exit ended supervision: no restart counted


def test_supervise_outlives_a_start_that_raises() -> None:
    async def scenario() -> int:
        attempts = 0

        async def run_once() -> None:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                await spawn_child(["/nonexistent/python"])  # FileNotFoundError

        await asyncio.wait_for(
            supervise(run_once, RestartBackoff((0.01,), 60), lambda: attempts >= 2, "test"), 30
        )
        return attempts

    assert asyncio.run(scenario()) == 2


def test_the_back_off_grows_with_crashes_in_a_row_and_starts_over_after_a_long_run() -> None:
    backoff = RestartBackoff((0.5, 1.0, 30.0), stable_after=60)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 30.0, 30.0, 30.0]
    backoff.ran_for(59)
    assert backoff.next_delay() == 30.0  # a short run: still crashing
    backoff.ran_for(60)
    assert backoff.next_delay() == 0.5
    with pytest.raises(ValueError):
        RestartBackoff((), 60)


# A parent that starts, through `spawn_child`, a deaf child that asked to die with it; it
# says the child's pid and waits.
CHILD_THAT_DIES_WITH_PARENT = (
    "from wagateway.core.child_process import die_with_parent; die_with_parent(); " + DEAF
)
PARENT_OF_DEAF_CHILD = (
    "import asyncio, sys\n"
    "from wagateway.core.child_process import spawn_child\n"
    "async def main():\n"
    f"    child = await spawn_child([sys.executable, '-c', {CHILD_THAT_DIES_WITH_PARENT!r}])\n"
    "    print(child.pid, flush=True)\n"
    "    await asyncio.sleep(60)\n"
    "asyncio.run(main())\n"
)


def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed() -> None:
    """An orphaned engine worker must not outlive its node (it would hold WhatsApp sessions
    another node takes over): the kernel kills it with its parent, SIGKILL included."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_OF_DEAF_CHILD], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        os.kill(child_pid, 0)  # alive while its parent is
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child_pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(child_pid, signal.SIGKILL)
        pytest.fail("the child outlived its parent")
    finally:
        parent.kill()


def test_a_module_child_imports_with_the_collector_off_and_switches_it_on_once_started() -> None:
    """`python_module` runs a module as `python -m` would (as `__main__`, with its arguments),
    the collector off while it imports: imports make objects by the hundred thousand and
    free next to none. The child switches it back on once started."""
    result = subprocess.run(
        python_module("tests.support.collector_probe", "--fd", "7"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "while_imported": False,
        "once_started": True,
        "argv": ["--fd", "7"],
        "main": "__main__",
    }
