"""The tests' TCP proxy (tests/support/tcp_proxy.py): it forwards, a cut makes every byte
vanish both ways while the sockets stay open (no RST, no FIN), and a heal delivers what
was held."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.support.harness import free_port
from tests.support.tcp_proxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    proxy = TcpProxy(echo.server_address[1]).start()
    yield proxy
    proxy.stop()
    echo.shutdown()
    echo.server_close()


def _connect(proxy: TcpProxy) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.settimeout(0.5)
    return s


def test_forwards_until_cut_then_holds_everything_until_healed(proxy: TcpProxy) -> None:
    with _connect(proxy) as s:
        s.sendall(b"one")
        assert s.recv(100) == b"one"

        proxy.blackhole()
        s.sendall(b"two")
        with pytest.raises(TimeoutError):  # nothing comes back, and the socket is not closed
            s.recv(100)
        with _connect(proxy) as late:  # a connection made during the cut is accepted...
            late.sendall(b"late")
            with pytest.raises(TimeoutError):  # ...but reaches nothing
                late.recv(100)

            proxy.heal()
            s.settimeout(5)
            late.settimeout(5)
            assert s.recv(100) == b"two"  # held, then delivered
            assert late.recv(100) == b"late"
        s.sendall(b"three")
        assert s.recv(100) == b"three"


def test_a_close_during_the_cut_is_passed_on_only_after_the_heal(proxy: TcpProxy) -> None:
    with _connect(proxy) as s:
        s.sendall(b"x")
        assert s.recv(100) == b"x"
        proxy.blackhole()
        s.shutdown(socket.SHUT_WR)  # our FIN: the echo server would close in turn
        with pytest.raises(TimeoutError):
            s.recv(100)
        proxy.heal()
        s.settimeout(5)
        assert s.recv(100) == b""  # the server's close arrives now
