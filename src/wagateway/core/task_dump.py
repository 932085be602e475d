"""What a running node is waiting for, on request: `kill -USR1 <pid>` logs every asyncio task
of the gateway's event loop, each with the chain of calls it is suspended in (one
`tasks_dumped` line at warning level). A look inside a node that seems stuck (a placement
pass that does not end, a call that hangs) without a debugger, and what a failed
end-to-end test's report shows of a node.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Deeper chains are cut here: the innermost calls say what the task waits for.
MAX_DEPTH = 40


def install(loop: asyncio.AbstractEventLoop) -> bool:
    """Dump the tasks on SIGUSR1 from now on; False where signals cannot be handled (a loop
    outside the main thread: an in-process test, say)."""
    try:
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


def uninstall(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.remove_signal_handler(signal.SIGUSR1)


def dump_tasks() -> None:
    tasks = sorted(asyncio.all_tasks(), key=lambda task: task.get_name())
    log.warning(
        "tasks_dumped",
        count=len(tasks),
        tasks={task.get_name(): awaiting(task.get_coro()) for task in tasks},
    )


def awaiting(coroutine: Any) -> list[str]:
    """Where a suspended coroutine is, outermost first: `file:line function` for each call
    in its chain, then what the innermost one awaits when that is not a coroutine (a future,
    a task)."""
    chain: list[str] = []
    while coroutine is not None and len(chain) < MAX_DEPTH:
        frame = _frame_of(coroutine)
        if frame is None:  # a future, a task or another awaitable: the end of the chain
            chain.append(f"awaits {type(coroutine).__name__}")
            break
        path = frame.f_code.co_filename.rsplit("/site-packages/", 1)[-1]
        chain.append(f"{path}:{frame.f_lineno} {frame.f_code.co_name}")
        coroutine = (
            getattr(coroutine, "cr_await", None)
            or getattr(coroutine, "gi_yieldfrom", None)
            or getattr(coroutine, "ag_await", None)
        )
    return chain


def _frame_of(awaitable: Any) -> Any:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame
    return None
