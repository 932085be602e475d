"""Child processes the gateway starts, watches and restarts: the engine workers
(`engines/workers/supervisor.py`) and the webhook worker (`delivery/worker_process.py`).

What they share is here: a child is a Python command given the number of its end of a
socketpair (`--fd N`), and it talks over that socket only; closing our end is its cue to
finish and exit, and one that does not within a grace period is killed. One that dies is
started again after a back-off that grows with consecutive crashes and starts over once a
child has stayed up a while. What is said over the socket is each caller's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)


# The parent's pid, for the child to check that it is still the parent's (`die_with_parent`).
PARENT_PID_VARIABLE = "WAGW_PARENT_PID"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Called first thing in a child: the kernel kills it (SIGKILL) the moment its parent
    dies, however the parent died (`kill -9` included). An orphaned engine worker would
    otherwise hold WhatsApp sessions that another node takes over (CONTRACT §9). A parent
    that died before this ran is seen by the changed parent pid: the child leaves at once."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    expected = os.environ.get(PARENT_PID_VARIABLE)
    if expected is not None and os.getppid() != int(expected):
        os._exit(1)


# `python -m module args…`, with the collector off while the module imports: imports make
# objects by the hundred thousand and free next to none, and the collector would walk them
# again and again for nothing. Each child switches it back on once started
# (core/gc_tuning.settle_after_startup).
_RUN_WITHOUT_COLLECTOR = (
    "import gc, runpy, sys; gc.disable(); "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs `module` as `python -m` would, with this process's interpreter
    (and so its path), the collector off until the child has started."""
    return [sys.executable, "-c", _RUN_WITHOUT_COLLECTOR, module, *args]


@dataclass
class Child:
    """A started child: the process and our end of its socket."""

    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid


async def spawn_child(
    command: Sequence[str],
    *,
    capture_output: bool = False,
    limit: int = 2**16,
    extra_env: Mapping[str, str] | None = None,
) -> Child:
    """Start `command --fd N`, N being the child's end of a new socketpair.

    `capture_output`: the child's stdout and stderr come to `child.process.stdout` (to log
    them; it must then be read, or the child blocks once the pipe is full); otherwise they
    are ours. `limit` bounds a line (or frame) of `child.reader`. `extra_env`: variables for
    the child only (what holds a secret goes there: any local user can read a command line).
    """
    parent, theirs = socket.socketpair()
    try:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                "--fd",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env=os.environ | dict(extra_env or {}) | {PARENT_PID_VARIABLE: str(os.getpid())},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if capture_output else None,
                stderr=asyncio.subprocess.STDOUT if capture_output else None,
            )
        finally:
            theirs.close()
    except BaseException:
        parent.close()
        raise
    reader, writer = await asyncio.open_connection(sock=parent, limit=limit)
    return Child(process, reader, writer)


async def end_process(process: asyncio.subprocess.Process, grace: float = 0.0) -> int:
    """Give the process `grace` seconds to exit by itself, then kill it; its exit code."""
    if process.returncode is None and grace > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
    if process.returncode is None:
        process.kill()
    return await process.wait()


async def stop_child(
    process: asyncio.subprocess.Process, writer: asyncio.StreamWriter | None, grace: float
) -> int:
    """Close our end of the child's socket (its cue to finish and exit), wait up to `grace`
    seconds, then kill it; its exit code."""
    if writer is not None:
        writer.close()
    return await end_process(process, grace)


class RestartBackoff:
    """How long to wait before starting a child again: `delays[n-1]` after the n-th crash in
    a row (the last delay repeats), counted again from the first once a child ran
    `stable_after` seconds."""

    def __init__(self, delays: Sequence[float], stable_after: float) -> None:
        if not delays:
            raise ValueError("a restart back-off needs at least one delay")
        self._delays = tuple(delays)
        self._stable_after = stable_after
        self.crashes = 0  # in a row

    def ran_for(self, seconds: float) -> None:
        """A child stopped after `seconds`: long enough, and its crash is a first one."""
        if seconds >= self._stable_after:
            self.crashes = 0

    def next_delay(self) -> float:
        """Count one more crash (or failed start); the delay before the next start."""
        self.crashes += 1
        return self._delays[min(self.crashes, len(self._delays)) - 1]


async def supervise(
    run_once: Callable[[], Awaitable[None]],
    backoff: RestartBackoff,
    stopping: Callable[[], bool],
    name: str,
) -> None:
    """Run `run_once` (start a child and serve it until it exits) again and again, after
    `backoff`, until `stopping()`; an exception is a crash like any other. Logged as
    `{name}_failed` (an exception) and `{name}_exited`."""
    while not stopping():
        started = time.monotonic()
        try:
            await run_once()
        except Exception:
            log.exception(f"{name}_failed")
        if stopping():
            return
        backoff.ran_for(time.monotonic() - started)
        delay = backoff.next_delay()
        log.error(f"{name}_exited", restart_in=delay)
        await asyncio.sleep(delay)
