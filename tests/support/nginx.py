"""A real nginx (Debian package `nginx`) in front of a test gateway, configured the way
deployments usually are, so the gateway's reading of forwarding headers is tested against
what a real proxy writes.

Where nginx is missing the tests skip with the reason; CI installs it and sets
WAGW_TEST_REQUIRE_NGINX=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.harness import free_port, loopback_client, loopback_transport, wait_until
from tests.support.requirements import missing

# What the proxy tells the gateway. "x-forwarded-for": nginx's usual
# `$proxy_add_x_forwarded_for` (the client's own X-Forwarded-For, if any, with the address
# nginx saw appended) and X-Forwarded-Proto set to its own scheme; a client's `Forwarded`
# passes through untouched, as it does behind any such proxy. "forwarded": RFC 7239 written
# the way nginx's documentation shows (an element appended to the client's `Forwarded`), and
# nothing done to X-Forwarded-*, which then pass through as the client wrote them.
_HEADERS = {
    "x-forwarded-for": """
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;""",
    "forwarded": """
            proxy_set_header Forwarded $proxy_add_forwarded;""",
}

_CONFIG = """
daemon off;
master_process on;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    map $remote_addr $proxy_forwarded_elem {{
        ~^[0-9.]+$        "for=$remote_addr;proto=$scheme";
        ~^[0-9A-Fa-f:.]+$ "for=\\"[$remote_addr]\\";proto=$scheme";
        default           "for=unknown;proto=$scheme";
    }}
    map $http_forwarded $proxy_add_forwarded {{
        ""      "$proxy_forwarded_elem";
        default "$http_forwarded, $proxy_forwarded_elem";
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_bind 127.0.0.1;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;{headers}
        }}
    }}
}}
"""


def nginx_path() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        problem = "nginx is not installed (apt-get install nginx)"
        missing(problem, "WAGW_TEST_REQUIRE_NGINX")
    return found


@dataclass
class Nginx:
    """nginx on a free loopback port, proxying to `upstream_port` from 127.0.0.1."""

    workdir: Path
    upstream_port: int
    writes: str = "x-forwarded-for"  # or "forwarded": which header it writes
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        binary = nginx_path()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                # As root, nginx's workers would switch to `nobody`, who cannot enter the
                # test's private temp directory.
                user="user root;" if os.geteuid() == 0 else "",
                dir=self.workdir,
                port=self.port,
                upstream_port=self.upstream_port,
                headers=_HEADERS[self.writes],
            )
        )
        error_log = str(self.workdir / "error.log")
        # -e: the start-up error log too, before the configuration is read (the default,
        # /var/log/nginx/error.log, may not be writable).
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.workdir), "-c", str(config), "-e", error_log],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"nginx exited early:\n{self.logs()[-3000:]}")
            try:
                return probe.get(self.base_url + "/health").status_code == 200
            except httpx.HTTPError:
                return False

        with loopback_client(timeout=1) as probe:
            wait_until(up, timeout=15, interval=0.1, what="nginx in front of the gateway")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the master waits for workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, source: str, token: str | None = None) -> httpx.Client:
        """A client connecting to nginx from the loopback address `source` (all of 127/8
        reaches loopback on Linux), as a machine at that address would."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return loopback_client(
            base_url=self.base_url,
            headers=headers,
            timeout=20,
            transport=loopback_transport(source),
            follow_redirects=False,
        )
