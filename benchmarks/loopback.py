"""Shared by the benchmarks: a process's CPU time, and serving an aiohttp app on a free loopback port from a child
process, report the port to the parent over a pipe, and run until the parent says stop."""

from __future__ import annotations

import asyncio
import os
import socket
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

from aiohttp import web

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc); None elsewhere or once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants (the gateway's webhook and engine workers are its
    children), from /proc; empty once it is gone."""
    if not Path(f"/proc/{pid}").exists():
        return []
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [pid], list(parents.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(parents.get(child, []))
    return found


def tree_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and of its live descendants; None elsewhere or once it is
    gone."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in tree_pids(pid)[1:])


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (VmRSS), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def open_fds(pid: int) -> int:
    """Open descriptors of one process (/proc/PID/fd entries), 0 once it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port (the server keeps it: no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


async def serve_until_stopped(app: web.Application, port_conn: Connection, stop: MpEvent) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = bound_socket()
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    port_conn.send(sock.getsockname()[1])
    port_conn.close()
    try:
        await asyncio.to_thread(stop.wait)
    finally:
        await runner.cleanup()
