"""The suite's free-port helper: each pytest-xdist worker takes ports from a block of its own,
below the kernel's ephemeral range, so two workers (or the kernel, for an outgoing
connection) never hand out the same port while a server is still starting on it."""

from __future__ import annotations

import socket

import pytest

from tests.support import harness
from tests.support.scheduling import backend_of


def _ephemeral_start() -> int:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        return int(f.read().split()[0])


@pytest.mark.parametrize("worker", ["", "gw0", "gw1", "gw2", "gw7"])
def test_each_worker_takes_ports_from_its_own_block(
    monkeypatch: pytest.MonkeyPatch, worker: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    index = int(worker[2:]) + 1 if worker else 0
    first = harness._PORT_BLOCK_START + index * harness._PORT_BLOCK_SIZE
    ports = [harness.free_port() for _ in range(5)]
    assert all(first <= port < first + harness._PORT_BLOCK_SIZE for port in ports), ports
    assert len(set(ports)) == 5  # handed out in turn, not the same one again
    assert max(ports) < _ephemeral_start()


def test_two_runs_at_once_start_from_different_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    blocks = set()
    for run in ("run-a", "run-b", "run-c"):
        monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", run)
        blocks.add(harness._port_block())
    assert len(blocks) > 1
    assert all(0 <= block < harness._PORT_BLOCKS for block in blocks)
    last_port = harness._PORT_BLOCK_START + harness._PORT_BLOCKS * harness._PORT_BLOCK_SIZE - 1
    assert last_port < _ephemeral_start()


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)
    taken = harness.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", taken))
        listener.listen()
        # The cursor points at `taken` again: the helper must pass it by, to the next port
        # it can bind (not always taken + 1: during a whole run, another worker's recent
        # servers may hold the next ones, e.g. in TIME_WAIT).
        first = harness._PORT_BLOCK_START + 4 * harness._PORT_BLOCK_SIZE
        start = taken - first
        monkeypatch.setattr(harness, "_port_cursor", iter(range(start, start + 500)))
        port = harness.free_port()
        assert port != taken and first <= port < first + harness._PORT_BLOCK_SIZE


@pytest.mark.parametrize(
    ("nodeid", "backend"),
    [
        ("tests/e2e/test_x.py::test_a[sqlite]", "sqlite"),
        ("tests/e2e/test_x.py::test_a[postgresql-ws]", "postgresql"),
        ("tests/e2e/test_x.py::test_a[a-b]", ""),
        ("tests/unit/test_y.py::test_b", ""),
    ],
)
def test_work_is_handed_out_per_module_and_backend(nodeid: str, backend: str) -> None:
    assert backend_of(nodeid) == backend
