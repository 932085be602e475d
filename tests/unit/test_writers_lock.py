"""The lock SQLite writers of several processes take turns with (core/db.py WritersLock).
`flock` locks belong to open files, so two instances in one process contend like two
processes would."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from wagateway.core.db import WritersLock


def _free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "db-writers.lock"

    async def scenario() -> list[str]:
        holder, waiter = WritersLock(str(path)), WritersLock(str(path))
        order: list[str] = []
        await holder.acquire()

        async def wait_turn() -> None:
            await waiter.acquire()
            order.append("waiter has it")
            waiter.release()

        task = asyncio.create_task(wait_turn())
        await asyncio.sleep(0.1)
        assert not task.done(), "the lock is held: the waiter must wait"
        order.append("holder lets go")
        holder.release()
        await asyncio.wait_for(task, 5)
        holder.close()
        waiter.close()
        return order

    assert asyncio.run(scenario()) == ["holder lets go", "waiter has it"]
    assert _free(path)


def test_a_cancelled_waiter_hands_the_lock_back(tmp_path: Path) -> None:
    path = tmp_path / "db-writers.lock"

    async def scenario() -> bool:
        holder, waiter = WritersLock(str(path)), WritersLock(str(path))
        await holder.acquire()
        task = asyncio.create_task(waiter.acquire())
        await asyncio.sleep(0.1)
        task.cancel()
        holder.release()  # the waiter's thread now takes it, then gives it back at once
        for _ in range(50):
            await asyncio.sleep(0.05)
            if _free(path):
                break
        free = _free(path)
        holder.close()
        waiter.close()
        return free

    assert asyncio.run(scenario()), "a cancelled waiter kept the lock"
