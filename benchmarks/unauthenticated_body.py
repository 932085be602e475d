"""How much memory a stranger's large request costs the gateway: server RSS before and after.

Starts a real `wagateway serve` (SQLite, the default media cap of 64 MiB, so a send's body may
be ~85 MB), then sends `POST /devices/{id}/messages` with a large JSON media body and no valid
token: none, a malformed one, an unknown one, and one the server verified before it was
rotated out (by the CLI, another process), each with `Content-Length` and chunked. Each case's
requests go at once, each client sending its whole body unless the answer comes first; then
the same size as one request header (`GET /health`), for the HTTP parser's cap. The
server process's RSS (VmRSS) and its high-water mark (VmHWM) are read from /proc before and
after each case.

    .venv/bin/python benchmarks/unauthenticated_body.py                # 80 MB bodies, 3 per case
    .venv/bin/python benchmarks/unauthenticated_body.py --mb 40 --per-case 5
    PYTHONPATH=/path/to/other/src .venv/bin/python benchmarks/unauthenticated_body.py  # another build
"""

from __future__ import annotations

import argparse
import http.client
import select
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from loopback import HOST
from messaging import WAGATEWAY, Gateway

PIECE = 1024 * 1024
HEAD_OF_BODY = (
    b'{"to": "6281211112222", "type": "image", "mime_type": "image/png", "data_base64": "'
)


@dataclass
class Outcome:
    status: int | None
    seconds: float
    sent: int  # body bytes the client got to send before the answer (or the end)


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def body_of(size: int) -> bytes:
    return HEAD_OF_BODY + b"A" * (size - len(HEAD_OF_BODY) - 2) + b'"}'


def send_one(
    port: int, path: str, authorization: str | None, body: bytes, chunked: bool
) -> Outcome:
    """One request, sending its body in pieces until all is sent or the answer arrived."""
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}", "Content-Type: application/json"]
    if authorization is not None:
        head.append(f"Authorization: {authorization}")
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    began = time.monotonic()
    sent = 0
    with socket.create_connection((HOST, port), timeout=120) as sock:
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            view = memoryview(body)
            while sent < len(body):
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer came before the body: stop sending it
                piece = view[sent : sent + PIECE]
                sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed while we were still sending: read what it answered
        status = _answer_status(sock, "POST")
    return Outcome(status, time.monotonic() - began, sent)


def send_head(port: int, size: int) -> Outcome:
    """A request whose one header is `size` bytes, sent in pieces until the answer comes."""
    began = time.monotonic()
    sent = 0
    with socket.create_connection((HOST, port), timeout=120) as sock:
        try:
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Filler: ".encode())
            while sent < size:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(b"a" * min(PIECE, size - sent))
                sent += min(PIECE, size - sent)
            else:
                sock.sendall(b"\r\n\r\n")
        except OSError:
            pass
        status = _answer_status(sock, "GET")
    return Outcome(status, time.monotonic() - began, sent)


def _answer_status(sock: socket.socket, method: str) -> int | None:
    """The status the server answered on `sock`, or None when it closed without one."""
    try:
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=80, help="body size in MiB (default 80)")
    parser.add_argument("--per-case", type=int, default=3, help="requests at once per case")
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    body = body_of(size)
    with tempfile.TemporaryDirectory(prefix="wagw-unauth-") as tmp:
        gateway = Gateway(Path(tmp) / "data", "", {"WAGW_SEND_MEDIA_MAX_BYTES": str(64 << 20)})
        gateway.start()
        try:
            assert gateway.proc is not None
            pid = gateway.proc.pid
            creds = gateway.create_app("stranger test", "")
            # The server verifies the token once (and remembers it); the CLI then rotates it.
            with httpx.Client(base_url=gateway.base_url) as client:
                auth = {"Authorization": f"Bearer {creds['app_token']}"}
                assert client.get("/devices", headers=auth).status_code == 200
            subprocess.run(
                [str(WAGATEWAY), "apps", "rotate-token", creds["app_id"], "--grace-seconds", "0"],
                env=gateway.env,
                cwd=gateway.data_dir,
                check=True,
                capture_output=True,
            )
            cases = {
                "no token": None,
                "malformed": "Basic Zm9vOmJhcg==",
                "unknown": "Bearer wag_" + "x" * 43,
                "rotated out": f"Bearer {creds['app_token']}",
            }
            path = f"/devices/{uuid.uuid4()}/messages"
            # Warm up: every case once with a small body, so code paths are loaded.
            for authorization in cases.values():
                send_one(gateway.port, path, authorization, body_of(4096), False)
            time.sleep(0.5)
            start_rss, start_hwm = memory_kb(pid)
            print(f"gateway pid {pid}; body {size / 1e6:.1f} MB; {args.per_case} at once per case")
            print(f"before: RSS {start_rss / 1024:.1f} MiB (high-water {start_hwm / 1024:.1f} MiB)")
            print()
            print(
                f"{'case':<28} {'statuses':<16} {'sent MB':>8} {'s':>6} {'RSS MiB':>8} {'HWM MiB':>8}"
            )
            total = 0

            def print_row(label: str, outcomes: list[Outcome]) -> None:
                time.sleep(0.3)
                rss, hwm = memory_kb(pid)
                statuses = ",".join(str(o.status) for o in outcomes)
                sent = max(o.sent for o in outcomes) / 1e6
                seconds = max(o.seconds for o in outcomes)
                print(
                    f"{label:<28} {statuses:<16} {sent:>8.2f} {seconds:>6.2f} "
                    f"{rss / 1024:>8.1f} {hwm / 1024:>8.1f}"
                )

            for name, authorization in cases.items():
                for chunked in (False, True):
                    with ThreadPoolExecutor(args.per_case) as pool:
                        futures = [
                            pool.submit(send_one, gateway.port, path, authorization, body, chunked)
                            for _ in range(args.per_case)
                        ]
                        outcomes = [future.result() for future in futures]
                    total += len(outcomes)
                    label = f"{name}, {'chunked' if chunked else 'content-length'}"
                    print_row(label, outcomes)
            # And the same size in one header (no body, no route: the HTTP parser's cap).
            with ThreadPoolExecutor(args.per_case) as pool:
                futures = [pool.submit(send_head, gateway.port, size) for _ in range(args.per_case)]
                outcomes = [future.result() for future in futures]
            total += len(outcomes)
            print_row("one header that size", outcomes)
            end_rss, end_hwm = memory_kb(pid)
            print()
            print(
                f"after {total} requests: RSS {end_rss / 1024:.1f} MiB, high-water {end_hwm / 1024:.1f} MiB"
            )
            print(
                f"growth: RSS {(end_rss - start_rss) / 1024:+.1f} MiB, "
                f"high-water {(end_hwm - start_hwm) / 1024:+.1f} MiB, "
                f"{(end_hwm - start_hwm) / 1024 / total:.2f} MiB of high-water per request"
            )
        finally:
            gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
