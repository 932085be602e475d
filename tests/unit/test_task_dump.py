"""`kill -USR1` on a node logs what each of its asyncio tasks waits for (core/task_dump.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

from structlog.testing import capture_logs

from wagateway.core import task_dump


async def _inner(event: asyncio.Event) -> None:
    await event.wait()


async def _outer(event: asyncio.Event) -> None:
    await _inner(event)


def test_each_task_is_named_with_the_calls_it_is_suspended_in() -> None:
    async def go() -> list[dict]:
        event = asyncio.Event()
        task = asyncio.create_task(_outer(event), name="a-stuck-pass")
        await asyncio.sleep(0)
        with capture_logs() as logs:
            task_dump.dump_tasks()
        event.set()
        await task
        return logs

    [dumped] = [entry for entry in asyncio.run(go()) if entry["event"] == "tasks_dumped"]
    chain = dumped["tasks"]["a-stuck-pass"]
    functions = [where.rsplit(" ", 1)[-1] for where in chain]
    assert functions[:3] == ["_outer", "_inner", "wait"]  # outermost first, then asyncio's
    assert chain[0].startswith(f"{__file__}:")
    assert chain[-1].startswith("awaits ")  # the future the innermost call waits on
    assert dumped["count"] == len(dumped["tasks"]) == 2  # the pass and the test's own task


def test_sigusr1_dumps_on_the_main_threads_loop_and_is_not_taken_elsewhere() -> None:
    async def on_main_thread() -> list[dict]:
        loop = asyncio.get_running_loop()
        assert task_dump.install(loop)
        try:
            with capture_logs() as logs:
                os.kill(os.getpid(), signal.SIGUSR1)
                for _ in range(100):
                    await asyncio.sleep(0.01)
                    if logs:
                        break
        finally:
            task_dump.uninstall(loop)
        return logs

    assert [entry["event"] for entry in asyncio.run(on_main_thread())] == ["tasks_dumped"]

    installed: list[bool] = []
    elsewhere = threading.Thread(
        target=lambda: installed.append(
            asyncio.run(_install_here())  # an in-process test's loop, on a thread of its own
        )
    )
    elsewhere.start()
    elsewhere.join()
    assert installed == [False]


async def _install_here() -> bool:
    return task_dump.install(asyncio.get_running_loop())
